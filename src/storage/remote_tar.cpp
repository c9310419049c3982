#include "storage/remote_tar.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/paths.h"
#include "common/utf8.h"
#include "storage/remote_frames.h"

namespace renderer::storage {
namespace {

namespace fs = std::filesystem;

struct ArchiveReadDeleter {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadDeleter>;

constexpr std::size_t kShownNameBytes = 160;
// The likeliest mistake behind a URL that is not a tar: a prefix meant as s3://.
constexpr std::string_view kNotATarHint =
    "an http(s) frames_url must name a .tar of PNGs (a prefix of PNGs is s3://BUCKET/PREFIX/)";

[[noreturn]] void refuse(std::string message) {
    throw Error(ErrorClass::PreflightError, std::move(message));
}

// An entry's name as a message may quote it: it comes from the archive, so it may be any bytes
// and any length.
std::string quoted(const char* name) {
    return name == nullptr ? "(unnamed)" : quotable_utf8(name, kShownNameBytes);
}

// The frame name of a top-level entry, or why it may not be one. "./" is how `tar -C dir .`
// starts each name; nothing else is stripped.
std::string frame_name_of(std::string_view shown, const char* raw) {
    std::string_view name = raw == nullptr ? std::string_view{} : std::string_view(raw);
    if (name.substr(0, 2) == "./") name.remove_prefix(2);
    if (name.find('/') != std::string_view::npos || name == "..") {
        refuse(
            fmt::format("{}: entry '{}' has a path; only frames at the archive's top level "
                        "are accepted (make it with tar -C FRAMES_DIR -cf frames.tar .)",
                        shown, quoted(raw)));
    }
    auto frame = frame_name(name, "");
    if (!frame) {
        refuse(
            fmt::format("{}: entry '{}' is not a .png frame name (a visible name ending in "
                        ".png, at most 255 bytes, no control characters)",
                        shown, quoted(raw)));
    }
    return *frame;
}

// Why an entry that is not a regular file is refused.
std::string_view kind_of(archive_entry* entry) {
    if (archive_entry_symlink(entry) != nullptr) return "a symbolic link";
    if (archive_entry_hardlink(entry) != nullptr) return "a hard link";
    switch (archive_entry_filetype(entry)) {
        case AE_IFDIR:
            return "a directory";
        case AE_IFLNK:
            return "a symbolic link";
        case AE_IFCHR:
        case AE_IFBLK:
            return "a device";
        case AE_IFIFO:
            return "a FIFO";
        case AE_IFSOCK:
            return "a socket";
        default:
            return "not a regular file";
    }
}

bool is_root_entry(const char* raw) {
    return raw != nullptr && (std::strcmp(raw, "./") == 0 || std::strcmp(raw, ".") == 0);
}

class Extraction {
  public:
    Extraction(fs::path dir, const StorageLimits& limits, std::string_view shown)
        : dir_(std::move(dir)), limits_(limits), shown_(shown) {}

    // Removes what was written unless commit() was called.
    ~Extraction() {
        if (committed_) return;
        if (fd_ >= 0) ::close(fd_);
        for (const auto& path : written_) {
            std::error_code ec;
            fs::remove(path, ec);
        }
    }

    void run(archive* a, const CancelFn& cancelled) {
        std::size_t entries = 0;
        for (;;) {
            if (cancelled && cancelled()) throw Error(ErrorClass::Cancelled, "cancelled");
            archive_entry* entry = nullptr;
            const int rc = archive_read_next_header(a, &entry);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN) {
                refuse(entries == 0 ? fmt::format("{} is not a tar archive ({}): {}", shown_,
                                                  error_of(a), kNotATarHint)
                                    : fmt::format("{} is damaged after {} entries: {}", shown_,
                                                  entries, error_of(a)));
            }
            const char* raw = archive_entry_pathname(entry);
            // The root entry `tar -C DIR .` writes is no frame and costs none of
            // STORAGE_MAX_FILES; once only, so it cannot pad the archive either.
            if (archive_entry_filetype(entry) == AE_IFDIR && is_root_entry(raw)) {
                if (seen_root_) {
                    refuse(fmt::format("{}: entry '{}' appears twice", shown_, quoted(raw)));
                }
                seen_root_ = true;
                continue;
            }
            if (++entries > limits_.max_files) {
                refuse(fmt::format("{} holds more than {} entries (STORAGE_MAX_FILES)", shown_,
                                   limits_.max_files));
            }
            const bool regular = archive_entry_filetype(entry) == AE_IFREG &&
                                 archive_entry_hardlink(entry) == nullptr &&
                                 archive_entry_symlink(entry) == nullptr;
            if (!regular) {
                refuse(fmt::format("{}: entry '{}' is {}; only regular files are accepted", shown_,
                                   quoted(raw), kind_of(entry)));
            }
            // A sparse entry unpacks to more bytes than the archive holds: a tar bomb's tool.
            if (archive_entry_sparse_count(entry) > 0) {
                refuse(
                    fmt::format("{}: entry '{}' is a sparse file; only plain files are "
                                "accepted",
                                shown_, quoted(raw)));
            }
            const auto name = frame_name_of(shown_, raw);
            if (!names_.insert(name).second) {
                refuse(fmt::format("{}: entry '{}' appears twice", shown_, quoted(raw)));
            }
            if (archive_entry_size_is_set(entry) && static_cast<std::uint64_t>(archive_entry_size(
                                                        entry)) > limits_.max_bytes - bytes_) {
                too_many_bytes();
            }
            // The header gives the entry's unpacked size (its data cannot run past it): the
            // disk is checked for all of it before a byte is written.
            if (archive_entry_size_is_set(entry)) {
                check_space(static_cast<std::uint64_t>(archive_entry_size(entry)));
            }
            write_entry(a, name, cancelled);
        }
        if (names_.empty()) refuse(fmt::format("{} holds no .png frames", shown_));
    }

    TarFrames commit() {
        committed_ = true;
        return {.files = written_.size(), .bytes = bytes_};
    }

  private:
    static std::string error_of(archive* a) {
        const char* text = archive_error_string(a);
        return text == nullptr ? std::string("unreadable") : quotable_utf8(text, 200);
    }

    [[noreturn]] void too_many_bytes() const {
        refuse(fmt::format("the frames in {} exceed {} bytes (STORAGE_MAX_BYTES)", shown_,
                           limits_.max_bytes));
    }

    void write_entry(archive* a, const std::string& name, const CancelFn& cancelled) {
        const auto path = dir_ / name;
        fd_ = create_file_anew(path);
        if (fd_ < 0) {
            const int err = errno;
            throw Error(ErrorClass::IoError,
                        fmt::format("cannot create {}: {}", path.string(), std::strerror(err)))
                .with_os_error(err);
        }
        written_.push_back(path);
        std::array<char, 64 * 1024> buf{};
        for (;;) {
            // A frame may be up to STORAGE_MAX_BYTES: a lost lease is noticed within it.
            if (cancelled && cancelled()) throw Error(ErrorClass::Cancelled, "cancelled");
            const auto n = archive_read_data(a, buf.data(), buf.size());
            if (n == 0) break;
            if (n < 0) {
                refuse(fmt::format("{}: entry '{}' cannot be read: {}", shown_, name, error_of(a)));
            }
            const auto len = static_cast<std::uint64_t>(n);
            if (len > limits_.max_bytes - bytes_) too_many_bytes();
            write_all(path, buf.data(), static_cast<std::size_t>(n));
            bytes_ += len;
        }
        if (::close(fd_) != 0) {
            const int err = errno;
            fd_ = -1;
            throw Error(ErrorClass::IoError,
                        fmt::format("writing {}: {}", path.string(), std::strerror(err)))
                .with_os_error(err);
        }
        fd_ = -1;
    }

    void check_space(std::uint64_t len) const {
        const auto free = free_bytes(dir_).value_or(0);
        if (free < limits_.min_free_bytes + len) {
            throw Error(ErrorClass::IoError,
                        fmt::format("not enough free space in {} to unpack {}: less than {} "
                                    "bytes would be left free",
                                    dir_.string(), shown_, limits_.min_free_bytes))
                .with_os_error(ENOSPC);
        }
    }

    void write_all(const fs::path& path, const char* data, std::size_t n) const {
        std::size_t done = 0;
        while (done < n) {
            const auto w = ::write(fd_, data + done, n - done);
            if (w < 0) {
                if (errno == EINTR) continue;
                const int err = errno;
                throw Error(ErrorClass::IoError,
                            fmt::format("writing {}: {}", path.string(), std::strerror(err)))
                    .with_os_error(err);
            }
            done += static_cast<std::size_t>(w);
        }
    }

    fs::path dir_;
    const StorageLimits& limits_;
    std::string shown_;
    std::set<std::string> names_;
    std::vector<fs::path> written_;
    std::uint64_t bytes_ = 0;
    int fd_ = -1;
    bool seen_root_ = false;
    bool committed_ = false;
};

}  // namespace

TarFrames extract_frames_tar(const fs::path& archive_path, const fs::path& frames_dir,
                             const StorageLimits& limits, std::string_view shown,
                             const CancelFn& cancelled) {
    ArchiveReadPtr a(archive_read_new());
    if (!a) throw std::bad_alloc();
    // Tar in all its dialects (ustar, pax, GNU), uncompressed: the format DESIGN §4.1 names.
    // No other format or filter is enabled, so nothing else is even parsed.
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_none(a.get());
    if (archive_read_open_filename(a.get(), archive_path.c_str(), 64 * 1024) != ARCHIVE_OK) {
        const char* text = archive_error_string(a.get());
        refuse(fmt::format("{} is not a tar archive ({}): {}", shown,
                           text == nullptr ? "unreadable" : quotable_utf8(text, 200),
                           kNotATarHint));
    }
    Extraction extraction(frames_dir, limits, shown);
    extraction.run(a.get(), cancelled);
    return extraction.commit();
}

}  // namespace renderer::storage

#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "common/error.h"

namespace renderer {
namespace {

[[noreturn]] void io_fail(const std::string& what, const std::filesystem::path& p, int err) {
    throw Error(ErrorClass::IoError,
                fmt::format("{} '{}': {}", what, p.string(), std::strerror(err)))
        .with_os_error(err);
}

void fsync_path(const std::filesystem::path& p, int flags) {
    const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
    if (fd < 0) io_fail("cannot open for fsync", p, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) io_fail("fsync failed for", p, err);
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path final_path) : final_(std::move(final_path)) {
    const auto dir =
        final_.parent_path().empty() ? std::filesystem::path(".") : final_.parent_path();
    std::random_device rd;
    for (int attempt = 0; attempt < 16; ++attempt) {
        auto candidate =
            dir / fmt::format("{}{:08x}-{}", kTempPrefix, rd(), final_.filename().string());
        const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::close(fd);
            temp_ = std::move(candidate);
            return;
        }
        if (errno != EEXIST) io_fail("cannot create temp file in", dir, errno);
    }
    io_fail("cannot create a unique temp file in", dir, EEXIST);
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::commit() {
    fsync_path(temp_, O_RDONLY);
    if (::rename(temp_.c_str(), final_.c_str()) != 0)
        io_fail("cannot rename temp file to", final_, errno);
    done_ = true;
    const auto dir =
        final_.parent_path().empty() ? std::filesystem::path(".") : final_.parent_path();
    fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

void AtomicFile::discard() noexcept {
    if (done_ || temp_.empty()) return;
    ::unlink(temp_.c_str());
    done_ = true;
}

int sweep_stale_temp_files(const std::filesystem::path& dir, std::chrono::seconds min_age) {
    int removed = 0;
    std::error_code ec;
    const auto now = std::filesystem::file_time_type::clock::now();
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().filename().string().rfind(kTempPrefix, 0) != 0) continue;
        const auto mtime = std::filesystem::last_write_time(e.path(), ec);
        if (!ec && now - mtime >= min_age) {
            if (std::filesystem::remove(e.path(), ec)) ++removed;
        }
    }
    return removed;
}

}  // namespace renderer

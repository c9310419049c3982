#include "support/tar_writer.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <archive.h>
#include <archive_entry.h>

#include "support/fixtures.h"

namespace renderer::testing {
namespace {

struct ArchiveWriteDeleter {
    void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct ArchiveEntryDeleter {
    void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

void check(archive* a, int rc, const char* what) {
    if (rc < ARCHIVE_WARN) {
        const char* text = archive_error_string(a);
        throw std::runtime_error(std::string(what) + ": " + (text ? text : "?"));
    }
}

}  // namespace

void write_tar(const std::filesystem::path& path, const std::vector<TarEntry>& entries) {
    std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
    check(a.get(), archive_write_set_format_pax_restricted(a.get()), "format");
    check(a.get(), archive_write_add_filter_none(a.get()), "filter");
    check(a.get(), archive_write_open_filename(a.get(), path.c_str()), "open");
    for (const auto& e : entries) {
        std::unique_ptr<archive_entry, ArchiveEntryDeleter> entry(archive_entry_new());
        archive_entry_set_pathname(entry.get(), e.name.c_str());
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_mtime(entry.get(), 1'700'000'000, 0);
        switch (e.kind) {
            case TarEntry::Kind::File:
                archive_entry_set_filetype(entry.get(), AE_IFREG);
                archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.data.size()));
                break;
            case TarEntry::Kind::Directory:
                archive_entry_set_filetype(entry.get(), AE_IFDIR);
                archive_entry_set_perm(entry.get(), 0755);
                break;
            case TarEntry::Kind::Symlink:
                archive_entry_set_filetype(entry.get(), AE_IFLNK);
                archive_entry_set_symlink(entry.get(), e.link.c_str());
                break;
            case TarEntry::Kind::Hardlink:
                archive_entry_set_filetype(entry.get(), AE_IFREG);
                archive_entry_set_hardlink(entry.get(), e.link.c_str());
                break;
            case TarEntry::Kind::Fifo:
                archive_entry_set_filetype(entry.get(), AE_IFIFO);
                break;
        }
        check(a.get(), archive_write_header(a.get(), entry.get()), "header");
        if (e.kind == TarEntry::Kind::File && !e.data.empty()) {
            const auto n = archive_write_data(a.get(), e.data.data(), e.data.size());
            if (n != static_cast<la_ssize_t>(e.data.size())) check(a.get(), ARCHIVE_FATAL, "data");
        }
    }
    check(a.get(), archive_write_close(a.get()), "close");
}

std::vector<TarEntry> demo_frame_entries(const std::string& prefix) {
    std::vector<TarEntry> out;
    const auto dir = testdata() / "stories" / "demo" / "part1" / "frames";
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) out.push_back({prefix + f.filename().string(), read_text(f)});
    return out;
}

}  // namespace renderer::testing

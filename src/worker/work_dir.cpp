#include "worker/work_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/paths.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;

bool has_marker(const fs::path& dir) {
    std::error_code ec;
    return fs::symlink_status(dir / kWorkDirMarker, ec).type() == fs::file_type::regular;
}

}  // namespace

std::error_code create_work_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return ec;
    // A new, empty file; one already there (a retry of the same job id) is fine.
    const fs::path marker = dir / kWorkDirMarker;
    const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return {errno, std::generic_category()};
    ::close(fd);
    return {};
}

int sweep_stale_work_dirs(const fs::path& tmp_dir, std::chrono::seconds min_age) {
    int removed = 0;
    std::error_code ec;
    const auto cutoff = fs::file_time_type::clock::now() - min_age;
    for (fs::directory_iterator it(tmp_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto& path = it->path();
        std::error_code entry_ec;
        if (!is_safe_id(path.filename().string())) continue;
        if (it->symlink_status(entry_ec).type() != fs::file_type::directory) continue;
        if (!has_marker(path)) continue;
        const auto mtime = fs::last_write_time(path, entry_ec);
        if (entry_ec || mtime > cutoff) continue;
        if (fs::remove_all(path, entry_ec) > 0 && !entry_ec) ++removed;
    }
    return removed;
}

}  // namespace renderer::worker

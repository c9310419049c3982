#include "common/paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/natural_sort.h"

namespace renderer {

bool is_safe_id(std::string_view id) {
    if (id.empty() || id.size() > 128 || id.front() == '.') return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

bool is_within(const fs::path& root, const fs::path& path) {
    std::error_code ec;
    const auto r = fs::weakly_canonical(fs::absolute(root, ec), ec);
    if (ec) return false;
    const auto p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    if (ec) return false;
    auto ri = r.begin(), pi = p.begin();
    for (; ri != r.end(); ++ri, ++pi) {
        if (ri->empty() && std::next(ri) == r.end()) break;  // trailing slash of root
        if (pi == p.end() || *ri != *pi) return false;
    }
    return true;
}

std::vector<fs::path> list_files_with_ext(const fs::path& dir, std::string_view ext) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.front() == '.') continue;
        const auto e = entry.path().extension().string();
        if (e.size() != ext.size() + 1) continue;
        bool match = true;
        for (std::size_t i = 0; i < ext.size(); ++i) {
            const char a = static_cast<char>(std::tolower(static_cast<unsigned char>(e[i + 1])));
            const char b = static_cast<char>(std::tolower(static_cast<unsigned char>(ext[i])));
            if (a != b) match = false;
        }
        std::error_code ec;
        if (match && entry.is_regular_file(ec)) names.push_back(name);
    }
    natural_sort(names);
    std::vector<fs::path> out;
    out.reserve(names.size());
    for (auto& n : names) out.push_back(dir / n);
    return out;
}

bool touch(const fs::path& path) {
    // Both times now (a null `times`), at the name itself.
    return ::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0;
}

int create_file_anew(const fs::path& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return -1;
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

std::optional<std::uint64_t> free_bytes(const fs::path& path) {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

std::string utc_timestamp_compact() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

}  // namespace renderer

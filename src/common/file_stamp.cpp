#include "common/file_stamp.h"

#include <sys/stat.h>

namespace renderer {

FileStamp file_stamp(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return FileStamp{
        .device = static_cast<std::uint64_t>(st.st_dev),
        .inode = static_cast<std::uint64_t>(st.st_ino),
        .size = static_cast<std::int64_t>(st.st_size),
        .mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
        .ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec,
    };
}

}  // namespace renderer

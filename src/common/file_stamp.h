// Which file a path names and whether it was written since: an input read more than once (the
// music: probed by preflight, hashed for the cache key, decoded by the render) must be the same
// unchanged file every time, or the artifact would hold other music than its key and its cut say.
#pragma once

#include <cstdint>
#include <filesystem>

namespace renderer {

struct FileStamp {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;  // another file renamed over the path has another inode
    std::int64_t size = -1;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;  // changes with any write or truncation, and cannot be set back
    bool operator==(const FileStamp&) const = default;
};

// The stamp of the file `path` names now (symlinks followed); size -1 when it cannot be stat'ed.
FileStamp file_stamp(const std::filesystem::path& path);

}  // namespace renderer

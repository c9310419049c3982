// Filesystem helpers shared by the pipeline and the worker: ids that may become file names,
// containment checks for paths that come from outside, directory listings, free space.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace renderer {

namespace fs = std::filesystem;

// An id usable as a path component: [A-Za-z0-9._-]{1,128}, not starting with '.'.
bool is_safe_id(std::string_view id);

// True when `path` (made absolute and normalised, symlinks resolved where they exist) lies
// inside `root`.
bool is_within(const fs::path& root, const fs::path& path);

// Regular files in `dir` whose extension matches `ext` case-insensitively (ext without dot),
// naturally sorted by file name. Hidden files are skipped.
std::vector<fs::path> list_files_with_ext(const fs::path& dir, std::string_view ext);

// Opens `path` for writing as a new file, whatever the name held: an existing file, symlink or
// hard link there is unlinked first and the file is created with O_EXCL | O_NOFOLLOW, so a name
// planted in a shared directory (/tmp) is never written through. Returns the descriptor, or -1
// with errno set.
int create_file_anew(const fs::path& path);

// Sets `path`'s modification time to now, on the entry itself (a symlink there is not followed).
// False when it cannot (gone, not ours).
bool touch(const fs::path& path);

// Bytes available to an unprivileged user on the filesystem holding `path`.
std::optional<std::uint64_t> free_bytes(const fs::path& path);

std::string utc_timestamp_compact();  // 20261128T195037Z

}  // namespace renderer

// A job's frames delivered as one .tar of PNGs (frames_url an https:// URL, typically presigned):
// the archive, downloaded like any object, is read with libarchive and only what a frames dir
// may hold becomes a file. The archive comes from outside, so it is treated as hostile: no
// paths, links, devices or sparse entries, and the file count and bytes written are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "storage/s3_client.h"
#include "storage/storage_config.h"

namespace renderer::storage {

struct TarFrames {
    std::size_t files = 0;    // frames written
    std::uint64_t bytes = 0;  // bytes of them
};

// Extracts the frames in the tar `archive` into `frames_dir` (existing, empty). Only regular
// files at the archive's top level ("NAME" or "./NAME") whose name passes frame_name() become
// files; the root entry "./" is passed over. Anything else is refused with
// Error(PreflightError) naming the entry: a directory or a path ("a/b.png", "../x.png",
// "/x.png"), a symlink, a hard link, a device or FIFO, a sparse entry, a name that is not a
// .png frame, a name seen twice. Also PreflightError: more than limits.max_files entries or
// limits.max_bytes bytes (counted as written, so a tar bomb stops at the limit), no frame at
// all, or bytes libarchive cannot read as a tar ("not a tar archive"). The root entry counts
// against no limit but may appear once. Error(IoError) with ENOSPC when writing an entry (its
// header's size) would take the disk below limits.min_free_bytes; Error(Cancelled) as soon as
// `cancelled` says so, between entries or within one. On any failure the files written so far
// are removed. `shown` names the archive in messages (a URL without query).
TarFrames extract_frames_tar(const std::filesystem::path& archive,
                             const std::filesystem::path& frames_dir, const StorageLimits& limits,
                             std::string_view shown, const CancelFn& cancelled);

}  // namespace renderer::storage

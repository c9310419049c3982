// The frames of a job under an s3:// prefix: ListObjectsV2 page by page, each key checked
// before it may name a file, bounded in keys, files and bytes before anything is downloaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/s3_client.h"

namespace renderer::storage {

struct RemoteFrame {
    std::string key;   // the object's key
    std::string name;  // its file name in the job's frames dir: checked by frame_name()
    std::uint64_t size = 0;
};

// The file name a key under `prefix` gives a frame, by the rules local frames follow
// (common/paths.h list_files_with_ext): a .png name (any case) directly under the prefix, not
// hidden. nullopt for any other key: deeper keys ("sub/x.png", a directory locally), hidden or
// empty names, names with a control byte or longer than a file name may be.
std::optional<std::string> frame_name(std::string_view key, std::string_view prefix);

// The frames under `prefix` (s3://bucket/prefix/), in natural order. Throws
// Error(PreflightError) when there are none, or the prefix lists more than
// limits.max_list_keys objects, or holds more than limits.max_files frames or
// limits.max_bytes bytes of them (each limit named with its variable); storage_error()s as
// S3Client::perform.
std::vector<RemoteFrame> list_frames(const S3Client& client, S3Location prefix,
                                     const CancelFn& cancelled);

}  // namespace renderer::storage

// --seed-bucket: the reference API's seeded stories served from object storage instead of a
// shared volume. Each part's frames (and one music track) are uploaded under an s3:// prefix
// and its job points there (frames_url, music_url, output_url), so a demo or the compose
// profile `s3` runs workers that share no volume with the API (DESIGN §4.1).
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "devapi/job.h"
#include "storage/s3_client.h"

namespace renderer::devapi {

struct BucketSeed {
    storage::S3Location root;                    // s3://bucket/prefix/: everything goes under it
    std::filesystem::path stories_dir;           // what scan_stories read the specs from
    std::optional<std::filesystem::path> music;  // a track for every job (music_url), if any
};

// Uploads every spec's frames to ROOT/stories/<story>/<part>/frames/<name>.png and the music
// to ROOT/music/<name>, then sets each spec's frames_url to its frames prefix, music_url to
// the track, output_url to ROOT/videos/<story>_<part>.mp4, and clears frames_dir. Objects are
// put again on every start (the same bytes). Throws the storage library's errors
// (ConfigError for credentials the store refuses); Error(ConfigError) when a spec's frames
// dir holds no PNG or the music file is not a readable file.
void seed_bucket(const storage::S3Client& client, const BucketSeed& seed,
                 std::vector<JobSpec>& specs);

}  // namespace renderer::devapi

#include "devapi/bucket_seeder.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/log.h"
#include "common/paths.h"
#include "storage/object_upload.h"

namespace renderer::devapi {
namespace {

namespace fs = std::filesystem;

std::string s3_url(const storage::S3Location& root, const std::string& key) {
    return fmt::format("s3://{}/{}{}", root.bucket, root.key, key);
}

// Where scan_stories found the spec's PNGs: <part>/frames, or <part> itself (frames_dir,
// relative to the stories dir's parent).
fs::path local_frames_dir(const fs::path& stories_dir, const JobSpec& spec) {
    // frames_dir is relative to the stories dir's parent as scan_stories named it: resolved
    // the same way, since "DIR/" and "DIR/." (what "." is from inside DIR) have a last
    // component whose parent_path() is DIR itself.
    std::error_code ec;
    auto base = fs::absolute(stories_dir, ec).lexically_normal();
    if (!base.has_filename()) base = base.parent_path();
    if (spec.frames_dir) return base.parent_path() / *spec.frames_dir;
    return stories_dir / spec.story_id / spec.part_id / "frames";
}

}  // namespace

void seed_bucket(const storage::S3Client& client, const BucketSeed& seed,
                 std::vector<JobSpec>& specs) {
    auto root = seed.root;
    if (!root.key.empty() && root.key.back() != '/') root.key += '/';
    const storage::CancelFn never = [] { return false; };
    std::optional<std::string> music_url;
    if (seed.music) {
        if (!fs::is_regular_file(*seed.music)) {
            throw Error(ErrorClass::ConfigError,
                        fmt::format("--seed-music {} is not a file", seed.music->string()));
        }
        music_url = s3_url(root, "music/" + seed.music->filename().string());
        storage::upload_file(client, *seed.music, *music_url, never);
    }
    std::size_t objects = music_url ? 1 : 0;
    for (auto& spec : specs) {
        const auto dir = local_frames_dir(seed.stories_dir, spec);
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            throw Error(ErrorClass::ConfigError,
                        fmt::format("{} is not a directory: nothing to seed for {}", dir.string(),
                                    spec.id));
        }
        const auto frames = list_files_with_ext(dir, "png");
        if (frames.empty()) {
            throw Error(ErrorClass::ConfigError,
                        fmt::format("{} holds no .png frames to seed", dir.string()));
        }
        const auto prefix = fmt::format("stories/{}/{}/frames/", spec.story_id, spec.part_id);
        for (const auto& frame : frames) {
            storage::upload_file(client, frame, s3_url(root, prefix + frame.filename().string()),
                                 never);
        }
        objects += frames.size();
        spec.frames_dir.reset();
        spec.frames_url = s3_url(root, prefix);
        spec.music_url = music_url;
        spec.output_url =
            s3_url(root, fmt::format("videos/{}_{}.mp4", spec.story_id, spec.part_id));
    }
    log::info("bucket_seeded", {{"bucket", root.bucket},
                                {"prefix", root.key},
                                {"jobs", static_cast<std::uint64_t>(specs.size())},
                                {"objects", static_cast<std::uint64_t>(objects)}});
}

}  // namespace renderer::devapi

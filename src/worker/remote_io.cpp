#include "worker/remote_io.h"

#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "common/error.h"
#include "storage/etag_cache.h"
#include "storage/object_download.h"
#include "storage/object_upload.h"
#include "storage/remote_frames.h"
#include "storage/remote_tar.h"
#include "storage/remote_url.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

fs::path make_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        throw Error(ErrorClass::IoError,
                    fmt::format("cannot create {}: {}", dir.string(), ec.message()))
            .with_os_error(ec.value());
    }
    return dir;
}

// The music file's name in the work dir: the URL's last path segment when it is a plain track
// name (what music_track accepts), else "music.mp3". The bytes, not the name, decide the
// format: preflight probes them.
std::string music_file_name(const std::string& url) {
    const auto path = storage::url_for_log(url);
    const auto slash = path.rfind('/');
    const auto name = slash == std::string::npos ? path : path.substr(slash + 1);
    try {
        media::validate_music_select("named:" + name);
        if (!name.empty() && name.front() != '.') return name;
    } catch (const Error&) {
    }
    return "music.mp3";
}

storage::DownloadItem item_for(const std::string& url, fs::path dest) {
    if (auto loc = storage::parse_s3_url(url))
        return {.object = std::move(*loc), .dest = std::move(dest)};
    return {.url = url, .dest = std::move(dest)};
}

}  // namespace

bool has_remote_fields(const Job& job) { return job.frames_url || job.music_url || job.output_url; }

std::shared_ptr<FrameFetch> stage_remote_inputs(const storage::S3Client& client, const Job& job,
                                                const fs::path& work_dir,
                                                media::RenderRequest& request,
                                                const storage::CancelFn& cancelled,
                                                const log::Context& log) {
    const auto& config = client.config();
    if (job.frames_url) storage::check_remote_url(config, "frames_url", *job.frames_url);
    if (job.music_url) storage::check_remote_url(config, "music_url", *job.music_url);
    if (job.output_url) storage::check_remote_url(config, "output_url", *job.output_url);

    const auto start = std::chrono::steady_clock::now();
    std::vector<storage::DownloadItem> items;
    // frames_url is an s3:// prefix of PNGs, downloaded while the render reads them, or the
    // http(s) URL of a .tar of them: downloaded with the other inputs, unpacked after.
    std::vector<storage::DownloadItem> frame_items;
    std::optional<fs::path> frames_tar;
    if (job.frames_url) {
        const auto dir = make_dir(work_dir / "frames");
        if (const auto prefix = storage::parse_s3_url(*job.frames_url)) {
            const auto frames = storage::list_frames(client, *prefix, cancelled);
            for (const auto& f : frames) {
                frame_items.push_back({.object = storage::S3Location{prefix->bucket, f.key},
                                       .dest = dir / f.name,
                                       .expected_size = f.size});
            }
        } else {
            frames_tar = work_dir / "frames.tar";
            items.push_back({.url = *job.frames_url, .dest = *frames_tar});
        }
        request.frames_dir = dir;
    }
    // Music is shared by many parts: kept in TMP_DIR/.music-cache by URL and ETag (hidden, no
    // marker: the work-dir sweep leaves it alone), fetched again only when the ETag changed.
    const storage::EtagCache music_cache(work_dir.parent_path() / ".music-cache");
    std::optional<std::size_t> music_item;
    if (job.music_url) {
        const auto dir = make_dir(work_dir / "music");
        const auto name = music_file_name(*job.music_url);
        auto item = item_for(*job.music_url, dir / name);
        item.if_none_match = music_cache.etag(*job.music_url).value_or("");
        music_item = items.size();
        items.push_back(std::move(item));
        request.music_dir = dir;
        request.music_select = "named:" + name;
    }
    if (job.output_url) request.output_dir = make_dir(work_dir / "output");
    const auto stats = storage::download_all(client, items, cancelled);
    std::uint64_t unpacked_files = 0;
    if (frames_tar) {
        // The archive is removed whatever the outcome: its frames are now files, or the job
        // fails and the work dir goes with it.
        struct RemoveArchive {
            fs::path path;
            ~RemoveArchive() {
                std::error_code ec;
                fs::remove(path, ec);
            }
        } remove_archive{*frames_tar};
        const auto unpacked =
            storage::extract_frames_tar(*frames_tar, request.frames_dir, config.limits,
                                        storage::url_for_log(*job.frames_url), cancelled);
        unpacked_files = unpacked.files;
    }
    bool music_cached = false;
    if (music_item) {
        const auto& item = items[*music_item];
        const auto& etag = stats.etags[*music_item];
        if (stats.not_modified[*music_item]) {
            music_cached = music_cache.restore(*job.music_url, etag, item.dest);
            if (!music_cached) {  // replaced by another worker since we asked: fetch it whole
                auto again = item;
                again.if_none_match.clear();
                storage::download_all(client, {again}, cancelled);
            }
        } else {
            music_cache.store(*job.music_url, etag, item.dest);
        }
    }
    if (!frame_items.empty()) {
        // One budget for the job's inputs: what the music took is not the frames' to take
        // (FrameFetch counts it as spent, so messages state the whole job and the set limit).
        auto fetch = std::make_shared<FrameFetch>(client, std::move(frame_items), cancelled,
                                                  FrameFetch::Earlier{.files = items.size(),
                                                                      .bytes = stats.bytes,
                                                                      .retries = stats.retries,
                                                                      .music_cached = music_cached,
                                                                      .start = start},
                                                  log);
        request.arriving_frames = fetch;
        return fetch;
    }
    if (items.empty()) return nullptr;
    log.info("inputs_downloaded", {{"files", static_cast<std::uint64_t>(items.size())},
                                   {"unpacked_files", unpacked_files},
                                   {"bytes", stats.bytes},
                                   {"retries", stats.retries},
                                   {"music_cached", music_cached},
                                   {"while_rendering", false},
                                   {"wall_sec", seconds_since(start)}});
    return nullptr;
}

std::string publish_remote_output(const storage::S3Client& client, const Job& job,
                                  const media::RenderResult& result,
                                  const storage::CancelFn& cancelled, const log::Context& log) {
    const auto start = std::chrono::steady_clock::now();
    const auto uploaded = storage::upload_file(client, result.path, *job.output_url, cancelled);
    const auto artifact = storage::url_for_log(*job.output_url);
    log.info("output_uploaded", {{"artifact", artifact},
                                 {"bytes", uploaded.bytes},
                                 {"parts", uploaded.parts},
                                 {"wall_sec", seconds_since(start)}});
    return artifact;
}

}  // namespace renderer::worker

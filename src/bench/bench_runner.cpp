#include "bench/bench_runner.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "bench/video_decoder.h"
#include "common/byte_buffer.h"
#include "common/cpu_quota.h"
#include "common/paths.h"
#include "common/process_usage.h"
#include "media/png_decoder.h"
#include "media/preflight.h"
#include "media/render_key.h"

namespace renderer::bench {
namespace {

constexpr const char* kStoryId = "bench";

// Removes a render once it has been measured, also when measuring throws.
class RemoveUnlessKept {
  public:
    RemoveUnlessKept(std::filesystem::path path, bool keep) : path_(std::move(path)), keep_(keep) {}
    ~RemoveUnlessKept() {
        std::error_code ec;
        if (!keep_) std::filesystem::remove(path_, ec);
    }
    RemoveUnlessKept(const RemoveUnlessKept&) = delete;
    RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;

  private:
    std::filesystem::path path_;
    bool keep_;
};

int quality_threads(const media::RenderSettings& s) {
    if (s.decode_threads > 0) return s.decode_threads;
    // The CPUs the cgroup quota allows, not the node's cores (common/cpu_quota.h).
    return std::clamp(available_cpus(), 1, 4);
}

// The first render would otherwise be the only one reading frames from disk rather than from
// the page cache, and so look slower than the setting deserves.
void warm_page_cache(const std::filesystem::path& frames_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(frames_dir, ec)) return;  // media::preflight reports it
    for (const auto& f : list_files_with_ext(frames_dir, "png")) (void)read_file_bytes(f, "frame");
}

media::RenderRequest bench_request(const BenchPlan& plan, const BenchSetting& setting) {
    media::RenderRequest req;
    req.story_id = kStoryId;
    req.part_id = setting.id();
    req.frames_dir = plan.frames_dir;
    req.music_dir = plan.music_dir;
    req.music_select = plan.music_select;
    req.output_dir = plan.work_dir;
    req.min_free_bytes = plan.min_free_bytes;
    req.setting_names = plan.setting_names;
    req.settings = plan.base;
    req.settings.codec = setting.codec;
    req.settings.preset = setting.preset;
    req.settings.crf = setting.crf;
    req.settings.threads = setting.threads;
    req.settings.frame_timing = setting.timing;
    req.settings.video_bitrate = 0;  // crf is what is being compared
    req.settings.use_cache = false;  // a cache hit would measure nothing
    return req;
}

}  // namespace

std::string BenchSetting::id() const {
    const auto vfr = timing == media::FrameTiming::Vfr ? "_vfr" : "";
    const auto base = fmt::format("{}_crf{}_t{}{}", preset, crf, threads, vfr);
    if (codec == media::VideoCodec::H264) return base;
    return fmt::format("{}_{}", media::codec_name(codec), base);
}

std::string BenchSetting::curve(bool with_threads) const {
    auto name = fmt::format("{}:{}", media::codec_name(codec), preset);
    if (timing == media::FrameTiming::Vfr) name += "/vfr";
    return with_threads ? fmt::format("{}/t{}", name, threads) : name;
}

std::vector<BenchSetting> bench_order(const std::vector<BenchSetting>& settings, int repeat_index) {
    std::vector<BenchSetting> order = settings;
    if (!order.empty()) {
        const auto shift = static_cast<std::size_t>(repeat_index) % order.size();
        std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shift), order.end());
    }
    return order;
}

std::vector<BenchRun> run_bench(const BenchPlan& plan, const media::CancelToken& cancel,
                                const BenchObserver& observer) {
    using Clock = std::chrono::steady_clock;
    if (plan.settings.empty() || plan.repeat < 1) return {};
    // Bad inputs (no frames, no music, no space) fail here, before the first render is timed.
    (void)media::preflight(bench_request(plan, plan.settings.front()));
    warm_page_cache(plan.frames_dir);

    // Equal settings give equal bytes (x264 threads are fixed), so a repeat whose output hashes
    // the same as an earlier run of its setting reuses that run's quality instead of measuring
    // it again.
    struct Measured {
        std::uint64_t hash;
        QualityScore quality;
    };
    std::map<std::string, Measured> measured;

    const int total = static_cast<int>(plan.settings.size()) * plan.repeat;
    std::vector<BenchRun> runs;
    runs.reserve(static_cast<std::size_t>(total));
    for (int r = 0; r < plan.repeat; ++r) {
        for (const BenchSetting& setting : bench_order(plan.settings, r)) {
            if (const auto reason = cancel.reason()) throw Error(*reason, "bench cancelled");
            BenchRun run;
            run.setting = setting;
            run.repeat = r + 1;
            run.order = static_cast<int>(runs.size()) + 1;
            if (observer.on_start) observer.on_start(run, total);

            const media::RenderRequest req = bench_request(plan, setting);
            const log::Context ctx(
                {{"story_id", req.story_id}, {"part_id", req.part_id}, {"repeat", run.repeat}});

            const bool peak_reset = reset_peak_rss();
            const double cpu0 = process_cpu_seconds();
            const auto t0 = Clock::now();
            const media::RenderResult result =
                media::render_slideshow(req, ctx, cancel, observer.on_progress);
            run.wall_sec = std::chrono::duration<double>(Clock::now() - t0).count();
            run.cpu_sec = process_cpu_seconds() - cpu0;
            if (peak_reset) run.peak_rss_bytes = peak_rss_bytes();
            RemoveUnlessKept cleanup(result.path, plan.keep);

            run.path = result.path;
            run.audio_track = result.audio_track;
            run.frames = result.frames;
            run.width = result.width;
            run.height = result.height;
            run.duration_sec = static_cast<double>(result.duration_ms) / 1000.0;
            run.bytes = result.bytes;
            run.encode_fps = run.wall_sec > 0 ? static_cast<double>(run.frames) / run.wall_sec : 0;
            run.speed = run.wall_sec > 0 ? run.duration_sec / run.wall_sec : 0;
            run.kbps = run.duration_sec > 0
                           ? static_cast<double>(run.bytes) * 8.0 / run.duration_sec / 1000.0
                           : 0;
            run.video_kbps = run.duration_sec > 0
                                 ? static_cast<double>(video_stream_bytes(result.path)) * 8.0 /
                                       run.duration_sec / 1000.0
                                 : 0;

            const std::uint64_t hash = media::content_hash(read_file_bytes(result.path));
            const auto known = measured.find(setting.id());
            if (known != measured.end() && known->second.hash == hash) {
                run.quality = known->second.quality;
            } else {
                // The frames the render kept after its cut, in the order it used them.
                auto frames = list_files_with_ext(plan.frames_dir, "png");
                frames.resize(static_cast<std::size_t>(std::min<std::int64_t>(
                    result.frames, static_cast<std::int64_t>(frames.size()))));
                run.quality =
                    measure_quality(result.path, frames, setting.timing, plan.base.fps,
                                    quality_threads(plan.base), plan.base.max_frame_pixels, cancel);
                measured[setting.id()] = Measured{hash, run.quality};
            }
            if (observer.on_done) observer.on_done(run);
            runs.push_back(std::move(run));
        }
    }
    return runs;
}

}  // namespace renderer::bench

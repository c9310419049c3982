// `renderer bench`'s engine: renders the same frames with every requested encode setting
// through media::render_slideshow, measuring time, CPU, memory, size and quality of each run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/quality.h"
#include "common/log.h"
#include "media/cancel_token.h"
#include "media/render_settings.h"
#include "media/slideshow.h"

namespace renderer::bench {

// One point of the grid being compared.
struct BenchSetting {
    std::string preset;
    int crf = 23;
    int threads = 3;
    media::VideoCodec codec = media::VideoCodec::H264;
    media::FrameTiming timing = media::FrameTiming::Cfr;

    // "veryfast_crf23_t3", "hevc_medium_crf28_t3", "..._vfr" in vfr: a safe file-name part,
    // unique per setting (h264's without a prefix, as before other codecs).
    std::string id() const;
    // The rate-quality curve the setting is a point of: "h264:medium", "av1:8", "h264:fast/vfr",
    // with "/t2" when `with_threads`.
    std::string curve(bool with_threads) const;
    bool operator==(const BenchSetting&) const = default;
};

struct BenchPlan {
    std::filesystem::path frames_dir;
    std::filesystem::path music_dir;
    std::string music_select = "first";  // first | named:FILE, as for render
    media::RenderSettings base;  // all but codec, preset, crf, threads, timing; cache is ignored
    std::vector<BenchSetting> settings;
    int repeat = 1;
    // Renders are written here. Unless `keep`, each is removed once measured.
    std::filesystem::path work_dir;
    bool keep = false;
    std::uint64_t min_free_bytes = 256ull << 20;
    media::SettingNames setting_names = nullptr;  // for preflight's messages
    // The curve (codec and preset) the others' Bjøntegaard deltas are measured against.
    std::optional<BenchSetting> anchor;
};

// One measured render.
struct BenchRun {
    BenchSetting setting;
    int repeat = 0;              // 1-based
    int order = 0;               // 1-based position in the whole run sequence
    std::filesystem::path path;  // where the render was written (gone unless kept)
    std::string audio_track;
    std::int64_t frames = 0;
    int width = 0, height = 0;
    double duration_sec = 0;
    double wall_sec = 0;
    double cpu_sec = 0;  // all threads of the process, user + system
    double encode_fps = 0;
    double speed = 0;  // output duration / wall time
    std::uint64_t bytes = 0;
    double kbps = 0;                              // whole file (video + audio) over its duration
    double video_kbps = 0;                        // the video stream alone: rate-quality curves
    std::optional<std::uint64_t> peak_rss_bytes;  // process peak RSS during this render
    QualityScore quality;
};

// The order settings are run in during repeat `repeat_index` (0-based): the list rotated by
// the index, so each setting takes a different place in each pass and slow drift of a noisy
// machine (thermal throttling, a neighbour's load) is spread over all of them.
std::vector<BenchSetting> bench_order(const std::vector<BenchSetting>& settings, int repeat_index);

struct BenchObserver {
    std::function<void(const BenchRun& upcoming, int total)>
        on_start;  // setting, repeat, order set
    media::ProgressFn on_progress;
    std::function<void(const BenchRun&)> on_done;
};

// Runs settings.size() * repeat renders. Render failures (PreflightError for bad inputs, the
// token's reason when cancelled) propagate; renders not kept are removed on every path.
std::vector<BenchRun> run_bench(const BenchPlan& plan, const media::CancelToken& cancel,
                                const BenchObserver& observer = {});

}  // namespace renderer::bench

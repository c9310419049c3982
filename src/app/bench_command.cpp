// `renderer bench`: renders the user's frames with every requested encode setting, in process,
// and shows speed, size and quality side by side (table, CSV or JSON; optional SVG plot).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "bench/bench_plot.h"
#include "bench/bench_report.h"
#include "bench/bench_runner.h"
#include "common/atomic_file.h"
#include "common/env.h"
#include "common/error.h"
#include "common/service_paths.h"
#include "worker/render_config.h"

namespace renderer::app {
namespace {

namespace fs = std::filesystem;

struct BenchOptions {
    std::string frames, presets, crfs, format = "table";
    std::optional<std::string> codecs, anchor, music, threads, timings, plot, keep;
    int repeat = 1;
};

media::CancelToken* g_cancel = nullptr;
extern "C" void on_bench_signal(int) {
    if (g_cancel != nullptr) g_cancel->cancel(ErrorClass::Cancelled);
}

[[noreturn]] void usage(std::string message) {
    throw Error(ErrorClass::UsageError, std::move(message));
}

// "a, b,c" -> {"a", "b", "c"}; empty items are a usage error, repeats are dropped.
std::vector<std::string> split_list(std::string_view flag, const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) {
            usage(fmt::format("{} must be a comma-separated list without empty items; got '{}'",
                              flag, text));
        }
        if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

std::vector<int> int_list(std::string_view flag, const std::string& text, media::Setting setting) {
    const auto range = media::setting_range(setting);
    std::vector<int> out;
    for (const auto& item : split_list(flag, text)) {
        try {
            const int v = static_cast<int>(parse_int(flag, item, range.min, range.max));
            if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
        } catch (const Error& e) {
            usage(e.what());  // the parser's message names the flag and the range
        }
    }
    return out;
}

// "hevc:medium" -> {hevc, "medium"}; "medium" -> {nullopt, "medium"}. A prefix that names no
// codec is a usage error naming the codecs.
std::pair<std::optional<media::VideoCodec>, std::string> qualified(std::string_view flag,
                                                                   const std::string& item) {
    const auto colon = item.find(':');
    if (colon == std::string::npos) return {std::nullopt, item};
    const auto codec = media::parse_video_codec(item.substr(0, colon));
    if (!codec) {
        usage(fmt::format("{}: '{}' names no codec; use one of {} before the ':'", flag, item,
                          media::codec_list()));
    }
    return {*codec, item.substr(colon + 1)};
}

// Each codec's values of a list flag whose items are VALUE (every codec) or CODEC:VALUE (that
// codec only), in the order given. `valid` says whether a value is one of the codec's.
template <typename T, typename Parse>
std::map<media::VideoCodec, std::vector<T>> per_codec(std::string_view flag,
                                                      const std::string& text,
                                                      const std::vector<media::VideoCodec>& codecs,
                                                      Parse&& parse) {
    std::map<media::VideoCodec, std::vector<T>> out;
    for (const auto& item : split_list(flag, text)) {
        const auto [codec, value] = qualified(flag, item);
        if (codec && std::find(codecs.begin(), codecs.end(), *codec) == codecs.end()) {
            usage(fmt::format("{}: '{}' is for {}, which --codec does not name", flag, item,
                              media::codec_name(*codec)));
        }
        for (const auto c : codecs) {
            if (codec && *codec != c) continue;
            const std::optional<T> v = parse(c, value, codec.has_value());
            if (!v) continue;
            auto& list = out[c];
            if (std::find(list.begin(), list.end(), *v) == list.end()) list.push_back(*v);
        }
    }
    return out;
}

// The bench's own axes by their flags (the env only sets the timing's default).
std::string_view bench_setting_names(media::Setting setting) {
    switch (setting) {
        case media::Setting::Codec:
            return "--codec";
        case media::Setting::FrameTiming:
            return "--frame-timing, default FRAME_TIMING";
        default:
            return worker::env_setting_names(setting);
    }
}

// Every codec x preset x crf x threads x frame timing, in the order given: the table lists them
// the same way.
std::vector<bench::BenchSetting> settings_grid(const BenchOptions& o, int default_threads,
                                               media::FrameTiming default_timing) {
    std::vector<media::VideoCodec> codecs;
    for (const auto& name : split_list("--codec", o.codecs.value_or("h264"))) {
        const auto codec = media::parse_video_codec(name);
        if (!codec) {
            usage(fmt::format("--codec: unknown codec '{}'; use one of {}", name,
                              media::codec_list()));
        }
        codecs.push_back(*codec);
    }
    // A preset without a codec applies to each codec it is a preset of (x264 and x265 share
    // their names; SVT-AV1's are numbers), and must be one of some codec's.
    const auto presets = per_codec<std::string>(
        "--preset", o.presets, codecs,
        [&](media::VideoCodec c, const std::string& p, bool named) -> std::optional<std::string> {
            if (media::is_preset(c, p)) return p;
            const bool any = std::any_of(codecs.begin(), codecs.end(),
                                         [&](auto other) { return media::is_preset(other, p); });
            if (named || !any) {
                usage(fmt::format("--preset: '{}' is not a preset of {}; use one of {}", p,
                                  media::codec_name(c), media::preset_list(c)));
            }
            return std::nullopt;
        });
    const auto crfs = per_codec<int>(
        "--crf", o.crfs, codecs,
        [](media::VideoCodec c, const std::string& text, bool) -> std::optional<int> {
            const auto range = media::setting_range(media::Setting::Crf, c);
            try {
                return static_cast<int>(parse_int(fmt::format("--crf for {}", media::codec_name(c)),
                                                  text, range.min, range.max));
            } catch (const Error& e) {
                usage(e.what());  // the parser's message names the flag, the codec and the range
            }
        });
    const std::vector<int> threads =
        o.threads ? int_list("--threads", *o.threads, media::Setting::Threads)
                  : std::vector<int>{default_threads};
    std::vector<media::FrameTiming> timings;
    if (o.timings) {
        for (const auto& item : split_list("--frame-timing", *o.timings)) {
            try {
                timings.push_back(media::parse_frame_timing("--frame-timing", item));
            } catch (const Error& e) {
                usage(e.what());
            }
        }
    } else {
        timings.push_back(default_timing);
    }
    // The grid crosses every codec with every timing: a pair no render would accept is refused
    // here, before anything is rendered, as `render` refuses it.
    for (const auto codec : codecs) {
        for (const auto timing : timings) {
            try {
                media::validate_timing_codec(timing, codec, bench_setting_names);
            } catch (const Error& e) {
                usage(e.what());
            }
        }
    }
    std::vector<bench::BenchSetting> grid;
    for (const auto codec : codecs) {
        const auto p = presets.find(codec);
        if (p == presets.end()) {
            media::RenderSettings defaults;
            defaults.codec = codec;
            usage(fmt::format("--preset names no preset of {}; add one such as {}:{} ({})",
                              media::codec_name(codec), media::codec_name(codec),
                              media::effective_preset(defaults), media::preset_list(codec)));
        }
        const auto c = crfs.find(codec);
        if (c == crfs.end()) {
            usage(fmt::format("--crf names no crf for {}; add {}:N", media::codec_name(codec),
                              media::codec_name(codec)));
        }
        for (const auto& preset : p->second) {
            for (const int crf : c->second) {
                for (const int t : threads) {
                    for (const auto timing : timings) {
                        grid.push_back({.preset = preset,
                                        .crf = crf,
                                        .threads = t,
                                        .codec = codec,
                                        .timing = timing});
                    }
                }
            }
        }
    }
    return grid;
}

// --anchor CODEC:PRESET, a curve of the grid; without it, the grid's first curve when there is
// more than one curve to compare.
std::optional<bench::BenchSetting> anchor_of(const BenchOptions& o,
                                             const std::vector<bench::BenchSetting>& grid) {
    if (!o.anchor) {
        const bool one_curve = std::all_of(grid.begin(), grid.end(), [&](const auto& s) {
            return s.codec == grid.front().codec && s.preset == grid.front().preset;
        });
        if (grid.empty() || one_curve) return std::nullopt;
        return grid.front();
    }
    const auto [codec, preset] = qualified("--anchor", *o.anchor);
    for (const auto& s : grid) {
        if (s.preset == preset && (!codec || s.codec == *codec)) return s;
    }
    usage(
        fmt::format("--anchor: '{}' is not a curve of this bench; name one as CODEC:PRESET "
                    "from --codec and --preset, such as {}",
                    *o.anchor, grid.empty() ? "h264:medium" : grid.front().curve(false)));
}

// The renders' home when nothing is kept: a private dir under TMP_DIR, removed on every path.
class ScratchDir {
  public:
    explicit ScratchDir(const fs::path& parent) {
        std::error_code ec;
        fs::create_directories(parent, ec);
        std::string tmpl = (parent / "bench-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw Error(ErrorClass::IoError,
                        fmt::format("cannot create a scratch dir in '{}' (TMP_DIR): {}",
                                    parent.string(), std::strerror(errno)));
        }
        path_ = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// Logs go to stderr so stdout carries only the report. Without a terminal they are JSON events
// (a pipeline's progress); with one, the bar shows progress and only warnings are logged.
void init_bench_logs(const GlobalOptions& g, bool bar) {
    log::Options lo;
    lo.json = g.json_logs || !bar;
    log::parse_level(g.log_level, lo.level);
    if (g.debug) {
        lo.level = log::Level::debug;
    } else if (bar) {
        lo.level = std::max(lo.level, log::Level::warn);
    }
    log::init(lo, std::make_shared<spdlog::sinks::stderr_sink_mt>());
}

void write_plot(const fs::path& path, const std::string& svg) {
    AtomicFile out(path);
    {
        std::ofstream f(out.temp_path(), std::ios::binary | std::ios::trunc);
        f << svg;
        f.flush();
        if (!f) {
            throw Error(ErrorClass::IoError,
                        fmt::format("cannot write the plot '{}'", path.string()));
        }
    }
    out.commit();
}

int run_bench_command(const BenchOptions& o, const GlobalOptions& g) {
    const bool bar = !g.json_logs && ::isatty(STDERR_FILENO) == 1;
    init_bench_logs(g, bar);

    bench::BenchPlan plan;
    plan.base = worker::render_settings_from_env();  // FPS, RENDER_SIZE, … apply as for render
    plan.setting_names = worker::env_setting_names;
    plan.settings = settings_grid(o, plan.base.threads, plan.base.frame_timing);
    plan.anchor = anchor_of(o, plan.settings);
    plan.repeat = o.repeat;
    plan.frames_dir = fs::absolute(o.frames).lexically_normal();
    const ServicePaths paths = ServicePaths::from_env();
    if (o.music) {
        const fs::path music = fs::absolute(*o.music).lexically_normal();
        std::string ext = music.extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (ext != ".mp3") usage(fmt::format("--music must name an .mp3 file; got '{}'", *o.music));
        std::error_code ec;
        if (!fs::is_regular_file(music, ec)) {
            throw Error(
                ErrorClass::PreflightError,
                fmt::format("music file '{}' does not exist or is not a file", music.string()));
        }
        plan.music_dir = music.parent_path();
        plan.music_select = "named:" + music.filename().string();
    } else {
        plan.music_dir = paths.music_dir;
        plan.music_select = "first";
    }
    if (auto v = env_get("MIN_FREE_BYTES")) plan.min_free_bytes = parse_bytes("MIN_FREE_BYTES", *v);

    std::optional<fs::path> plot;
    if (o.plot) {
        plot = fs::absolute(*o.plot).lexically_normal();
        std::error_code ec;
        if (!fs::is_directory(plot->parent_path(), ec)) {
            usage(
                fmt::format("--plot: directory '{}' does not exist", plot->parent_path().string()));
        }
    }
    std::unique_ptr<ScratchDir> scratch;
    if (o.keep) {
        plan.work_dir = fs::absolute(*o.keep).lexically_normal();
        plan.keep = true;
        std::error_code ec;
        fs::create_directories(plan.work_dir, ec);
        if (ec) {
            throw Error(ErrorClass::IoError, fmt::format("--keep: cannot create '{}': {}",
                                                         plan.work_dir.string(), ec.message()));
        }
    } else {
        scratch = std::make_unique<ScratchDir>(paths.tmp_dir);
        plan.work_dir = scratch->path();
    }

    std::vector<std::string> ids;
    for (const auto& s : plan.settings) ids.push_back(s.id());
    log::info("bench_start", {{"frames_dir", plan.frames_dir.string()},
                              {"settings", ids},
                              {"repeat", plan.repeat},
                              {"runs", ids.size() * static_cast<std::size_t>(plan.repeat)}});

    media::CancelToken cancel;
    g_cancel = &cancel;
    std::signal(SIGINT, on_bench_signal);
    std::signal(SIGTERM, on_bench_signal);
    struct ResetSignals {
        ~ResetSignals() {
            g_cancel = nullptr;
            std::signal(SIGINT, SIG_DFL);
            std::signal(SIGTERM, SIG_DFL);
        }
    } reset_signals;

    std::unique_ptr<ProgressBar> progress;
    double last_log = -10;
    bench::BenchObserver observer;
    observer.on_start = [&](const bench::BenchRun& run, int total) {
        last_log = -10;
        if (bar) {
            progress = std::make_unique<ProgressBar>(
                true, fmt::format("[{}/{}] {} {} crf {} t{}", run.order, total,
                                  media::codec_name(run.setting.codec), run.setting.preset,
                                  run.setting.crf, run.setting.threads));
        }
    };
    observer.on_progress = [&](const media::Progress& p) {
        if (progress) progress->update(p);
        if (!bar && p.elapsed_sec - last_log >= 5) {
            last_log = p.elapsed_sec;
            log::info("rendering", {{"elapsed_sec", static_cast<std::int64_t>(p.elapsed_sec)},
                                    {"frames_done", p.frames_done},
                                    {"frames_total", p.frames_total},
                                    {"fps", p.fps}});
        }
    };
    observer.on_done = [&](const bench::BenchRun& run) {
        progress.reset();  // ends the bar's line
        log::Fields f{{"order", run.order},
                      {"repeat", run.repeat},
                      {"setting", run.setting.id()},
                      {"codec", std::string(media::codec_name(run.setting.codec))},
                      {"preset", run.setting.preset},
                      {"crf", run.setting.crf},
                      {"threads", run.setting.threads},
                      {"wall_sec", run.wall_sec},
                      {"cpu_sec", run.cpu_sec},
                      {"encode_fps", run.encode_fps},
                      {"speed", run.speed},
                      {"bytes", run.bytes},
                      {"kbps", run.kbps},
                      {"video_kbps", run.video_kbps},
                      {"ssim", run.quality.ssim}};
        // JSON has no infinity: an identical encode's PSNR is left out of the event.
        if (std::isfinite(run.quality.psnr_y)) f.emplace_back("psnr_y", run.quality.psnr_y);
        if (std::isfinite(run.quality.psnr_avg)) f.emplace_back("psnr_avg", run.quality.psnr_avg);
        if (run.peak_rss_bytes) f.emplace_back("peak_rss_bytes", *run.peak_rss_bytes);
        if (plan.keep) f.emplace_back("path", run.path.string());
        log::info("bench_run", f);
    };

    std::vector<bench::BenchRun> runs;
    try {
        runs = bench::run_bench(plan, cancel, observer);
    } catch (...) {
        progress.reset();
        throw;
    }
    bench::BenchReport report = bench::make_bench_report(plan, std::move(runs));
    report.frames_dir = o.frames;  // as the user wrote it: shorter than the absolute path

    std::vector<std::string> pareto;
    for (const auto& s : report.settings) {
        if (s.pareto) pareto.push_back(s.setting.id());
    }
    log::info("bench_done", {{"runs", report.runs.size()}, {"pareto", pareto}});

    if (plot) write_plot(*plot, bench::bench_plot_svg(report));
    std::string text;
    if (o.format == "csv") {
        text = bench::format_csv(report);
    } else if (o.format == "json") {
        text = bench::format_json(report);
    } else {
        text = bench::format_table(report);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, const GlobalOptions& global, Runner& runner) {
    auto* cmd = app.add_subcommand(
        "bench", "Compare encode settings on your frames: speed, size and quality");
    cmd->footer(
        "Examples:\n"
        "  renderer bench --frames ./frames --music ./music/track.mp3 --preset "
        "ultrafast,veryfast,medium --crf 18,23,28\n"
        "  renderer bench --frames ./frames --preset veryfast,medium --crf 20,23 --repeat 3 --plot "
        "bench.svg\n"
        "  renderer bench --frames ./frames --preset medium --crf 23 --threads 1,2,4 --format csv "
        "> bench.csv\n\n"
        "  renderer bench --frames ./frames --codec h264,hevc,av1 --preset medium,av1:8 --crf "
        "h264:20,h264:23,h264:26,h264:29,hevc:24,hevc:27,hevc:30,hevc:33,av1:28,av1:33,av1:38,"
        "av1:43 --anchor h264:medium\n\n"
        "Each setting (every codec x preset x crf x threads) is rendered in process exactly as "
        "`render` "
        "would\n"
        "(nothing written unless --keep) and measured: wall and CPU time, encode fps, speed "
        "(output\n"
        "duration / wall time), size and kbps, the process's peak memory during the render, and "
        "quality\n"
        "against the source frames (PSNR of Y and of all planes, SSIM; libavfilter's psnr and "
        "ssim\n"
        "filters, in the renderer's yuv420p BT.709 space). With --repeat N each pass runs every "
        "setting,\n"
        "starting one further along each time, and medians are shown with their spread.\n"
        "Rows marked * are Pareto-optimal: no other setting is at once as fast, as small and as "
        "good.\n"
        "Each codec:preset is a rate-quality curve over its crfs; with two or more curves, each "
        "is\n"
        "compared with the anchor by Bjøntegaard delta (PCHIP interpolation, as the JCT-VC/JVET "
        "test\n"
        "conditions; video stream rate): BD-rate on PSNR-Y and on SSIM, and BD-PSNR-Y. A curve "
        "needs\n"
        "4 or more crfs, rising quality with rate, and a quality range overlapping the "
        "anchor's.\n\n"
        "The report goes to stdout; logs go to stderr (JSON events when stderr is not a terminal,\n"
        "a progress bar when it is). Other settings (FPS, RENDER_SIZE, AUDIO_BITRATE, "
        "X264_PARAMS,\n"
        "DECODE_THREADS) come from the same env vars as `render`; renders go to a scratch dir "
        "under\n"
        "TMP_DIR that is removed at the end.");
    auto o = std::make_shared<BenchOptions>();
    cmd->add_option("--frames", o->frames,
                    "Frames dir (*.png, natural order), as for render --frames")
        ->required();
    cmd->add_option(
        "--music", o->music,
        "Background track (.mp3) [default: the first .mp3 in MUSIC_DIR, as render picks it]");
    cmd->add_option("--codec", o->codecs,
                    "Codecs to compare, comma-separated: h264,hevc,av1 [default h264]");
    cmd->add_option("--preset", o->presets,
                    "Presets to compare, comma-separated; CODEC:PRESET for one codec only: "
                    "veryfast,medium,av1:8 (h264/hevc: ultrafast..placebo; av1: 0..13)")
        ->required();
    cmd->add_option("--crf", o->crfs,
                    "crf values to compare, comma-separated; CODEC:N for one codec only: "
                    "18,23,28,hevc:30 (h264/hevc 0-51, av1 1-63)")
        ->required();
    cmd->add_option("--anchor", o->anchor,
                    "The curve (CODEC:PRESET) the others' BD-rate is measured against "
                    "[default: the first codec's first preset, when there are two curves]");
    cmd->add_option("--threads", o->threads,
                    "x264 thread counts to compare, comma-separated [X264_THREADS, default 3]");
    cmd->add_option("--frame-timing", o->timings,
                    "Frame timings to compare, comma-separated: cfr,vfr [FRAME_TIMING, default "
                    "cfr]");
    cmd->add_option("--repeat", o->repeat, "Runs per setting; medians and spread are reported")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    cmd->add_option("--format", o->format, "table | csv | json")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "csv", "json"}));
    cmd->add_option("--plot", o->plot, "Also write an SVG plot of size against speed to FILE.svg");
    cmd->add_option("--keep", o->keep,
                    "Keep the rendered MP4s in DIR (bench_<preset>_crf<N>_t<N>.mp4)");
    cmd->callback(
        [&runner, &global, o] { runner = [&global, o] { return run_bench_command(*o, global); }; });
}

}  // namespace renderer::app

// `renderer render`: one-shot renders without the job API, with the spec's create_slideshow.py
// flags (--stories-path --music-dir --output) or a single frames dir.
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "common/env.h"
#include "common/error.h"
#include "common/natural_sort.h"
#include "common/paths.h"
#include "common/service_paths.h"
#include "media/encoders.h"
#include "media/slideshow.h"
#include "worker/render_config.h"

namespace renderer::app {
namespace {

struct RenderOptions {
    std::optional<std::string> frames, story, part, stories_path, music_dir, output, music_select;
    std::optional<std::string> fps, audio_bitrate, codec, preset, crf, video_bitrate, x264_params,
        size, threads, decode_threads, output_name, min_free_bytes, max_frame_pixels;
    std::optional<std::string> audio_fit, audio_fade_in_ms, audio_fade_out_ms, audio_loudness,
        audio_true_peak;
    std::optional<std::string> keyint_sec, frame_timing, vfr_max_hold_ms;
    bool no_cache = false;
};

media::CancelToken* g_cancel = nullptr;
extern "C" void on_signal(int) {
    if (g_cancel != nullptr) g_cancel->cancel(ErrorClass::Cancelled);
}

// A story part found under --stories-path.
struct PartJob {
    std::string story, part;
    fs::path frames_dir;
};

std::vector<PartJob> discover_parts(const fs::path& stories) {
    std::error_code ec;
    if (!fs::is_directory(stories, ec)) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("stories path '{}' does not exist or is not a directory",
                                stories.string()));
    }
    const auto sorted_dirs = [](const fs::path& dir) {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) {
            std::error_code e2;
            const auto n = e.path().filename().string();
            if (!n.empty() && n.front() != '.' && e.is_directory(e2)) names.push_back(n);
        }
        natural_sort(names);
        return names;
    };
    std::vector<PartJob> jobs;
    for (const auto& story : sorted_dirs(stories)) {
        for (const auto& part : sorted_dirs(stories / story)) {
            const fs::path base = stories / story / part;
            if (fs::is_directory(base / "frames", ec) &&
                !list_files_with_ext(base / "frames", "png").empty()) {
                jobs.push_back({story, part, base / "frames"});
            } else if (!list_files_with_ext(base, "png").empty()) {
                jobs.push_back({story, part, base});
            }
        }
    }
    if (jobs.empty()) {
        throw Error(
            ErrorClass::PreflightError,
            fmt::format("no story parts under '{}': expected <story>/<part>/frames/*.png or "
                        "<story>/<part>/*.png",
                        stories.string()));
    }
    return jobs;
}

// CLI values are checked with the same parsers as env values, but a bad flag is a usage error.
template <typename F>
void as_usage(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        throw Error(ErrorClass::UsageError, e.what());
    }
}

// This command's flag for each setting.
std::string_view flag_of(media::Setting setting) {
    using media::Setting;
    switch (setting) {
        case Setting::Fps:
            return "--fps";
        case Setting::Codec:
            return "--codec";
        case Setting::Preset:
            return "--preset";
        case Setting::Crf:
            return "--crf";
        case Setting::Threads:
            return "--threads";
        case Setting::DecodeThreads:
            return "--decode-threads";
        case Setting::AudioBitrate:
            return "--audio-bitrate";
        case Setting::Size:
        case Setting::SizeSide:
            return "--size";
        case Setting::MaxFramePixels:
            return "--max-frame-pixels";
        case Setting::MusicDir:
            return "--music-dir";
        case Setting::OutputDir:
            return "--output";
        case Setting::MinFreeBytes:
            return "--min-free-bytes";
        case Setting::AudioFit:
            return "--audio-fit";
        case Setting::AudioFadeInMs:
            return "--audio-fade-in-ms";
        case Setting::AudioFadeOutMs:
            return "--audio-fade-out-ms";
        case Setting::AudioLoudness:
            return "--audio-loudness";
        case Setting::AudioTruePeak:
            return "--audio-true-peak";
        case Setting::KeyintSec:
            return "--keyint-sec";
        case Setting::FrameTiming:
            return "--frame-timing";
        case Setting::VfrMaxHoldMs:
            return "--vfr-max-hold-ms";
    }
    return "";
}

// "FPS, --fps": the env var (worker/render_config names it) and this command's flag, for
// messages. Made once per setting and kept: SettingNames hands out views.
std::string_view setting_names(media::Setting setting) {
    static std::mutex mutex;
    static std::map<media::Setting, std::string> names;  // nodes never move
    std::lock_guard lock(mutex);
    auto [it, added] = names.try_emplace(setting);
    if (added)
        it->second = fmt::format("{}, {}", worker::env_setting_names(setting), flag_of(setting));
    return it->second;
}

// A flag's value within the setting's range (media/render_settings.cpp states it).
int flag_int(std::string_view flag, const std::string& text, media::Setting setting) {
    const auto r = media::setting_range(setting);
    return static_cast<int>(parse_int(flag, text, r.min, r.max));
}

media::RenderSettings merge_settings(const RenderOptions& o) {
    media::RenderSettings s = worker::render_settings_from_env();
    as_usage([&] {
        if (o.fps) s.fps = flag_int("--fps", *o.fps, media::Setting::Fps);
        if (o.audio_bitrate) s.audio_bitrate = parse_bitrate("--audio-bitrate", *o.audio_bitrate);
        if (o.codec) media::use_codec(s, media::parse_video_codec_setting("--codec", *o.codec));
        if (o.preset) s.preset = *o.preset;
        // Any integer here: validate() checks it against the codec's range and names the codec.
        if (o.crf) s.crf = static_cast<int>(parse_int("--crf", *o.crf, -999, 999));
        if (o.video_bitrate) s.video_bitrate = parse_bitrate("--video-bitrate", *o.video_bitrate);
        if (o.x264_params) s.x264_params = *o.x264_params;
        if (o.size) media::parse_size("--size", *o.size, s.width, s.height);
        if (o.threads) s.threads = flag_int("--threads", *o.threads, media::Setting::Threads);
        if (o.decode_threads)
            s.decode_threads =
                flag_int("--decode-threads", *o.decode_threads, media::Setting::DecodeThreads);
        if (o.max_frame_pixels) {
            const auto r = media::setting_range(media::Setting::MaxFramePixels);
            s.max_frame_pixels = static_cast<std::uint64_t>(
                parse_int("--max-frame-pixels", *o.max_frame_pixels, r.min, r.max));
        }
        if (o.no_cache) s.use_cache = false;
        if (o.audio_fit) s.audio.fit = media::parse_audio_fit_setting("--audio-fit", *o.audio_fit);
        if (o.audio_fade_in_ms) {
            s.audio.fade_in_ms =
                flag_int("--audio-fade-in-ms", *o.audio_fade_in_ms, media::Setting::AudioFadeInMs);
        }
        if (o.audio_fade_out_ms) {
            s.audio.fade_out_ms = flag_int("--audio-fade-out-ms", *o.audio_fade_out_ms,
                                           media::Setting::AudioFadeOutMs);
        }
        if (o.audio_loudness) {
            s.audio.loudness_lufs =
                media::parse_audio_loudness("--audio-loudness", *o.audio_loudness);
        }
        if (o.audio_true_peak) {
            const auto r = media::setting_range(media::Setting::AudioTruePeak);
            s.audio.true_peak_dbtp =
                parse_double("--audio-true-peak", *o.audio_true_peak, static_cast<double>(r.min),
                             static_cast<double>(r.max));
        }
        if (o.keyint_sec)
            s.keyint_sec = flag_int("--keyint-sec", *o.keyint_sec, media::Setting::KeyintSec);
        if (o.frame_timing)
            s.frame_timing = media::parse_frame_timing("--frame-timing", *o.frame_timing);
        if (o.vfr_max_hold_ms) {
            s.vfr_max_hold_ms =
                flag_int("--vfr-max-hold-ms", *o.vfr_max_hold_ms, media::Setting::VfrMaxHoldMs);
        }
        media::validate(s, setting_names);
    });
    // --codec names a valid codec whose encoder this machine's FFmpeg lacks: a ConfigError
    // (exit 78), the machine's configuration, not a usage error.
    media::find_video_encoder(s.codec);
    return s;
}

int run_render(const RenderOptions& o, const GlobalOptions& g) {
    const ServicePaths paths = ServicePaths::from_env();
    media::RenderRequest base;
    base.settings = merge_settings(o);
    base.setting_names = setting_names;
    base.music_dir = paths.music_dir;
    base.output_dir = paths.output_dir;
    base.music_select = env_string("MUSIC_SELECT", "first");
    base.output_name_template = env_string("OUTPUT_NAME_TEMPLATE", base.output_name_template);
    if (auto v = env_get("MIN_FREE_BYTES")) base.min_free_bytes = parse_bytes("MIN_FREE_BYTES", *v);
    as_usage([&] {
        // Relative paths are fine on the command line: they are resolved against the cwd here.
        if (o.music_dir) base.music_dir = fs::absolute(*o.music_dir).lexically_normal();
        if (o.output) base.output_dir = fs::absolute(*o.output).lexically_normal();
        if (o.music_select) base.music_select = *o.music_select;
        if (o.output_name) base.output_name_template = *o.output_name;
        if (o.min_free_bytes)
            base.min_free_bytes = parse_bytes("--min-free-bytes", *o.min_free_bytes);
        media::validate_music_select(base.music_select);
    });

    std::vector<PartJob> parts;
    if (o.frames) {
        if (!o.story || !o.part)
            throw Error(ErrorClass::UsageError, "--frames needs --story and --part");
        parts.push_back({*o.story, *o.part, fs::absolute(*o.frames).lexically_normal()});
    } else if (o.stories_path) {
        parts = discover_parts(fs::absolute(*o.stories_path).lexically_normal());
    } else {
        throw Error(ErrorClass::UsageError,
                    "give --frames DIR --story S --part P, or --stories-path DIR");
    }

    media::CancelToken cancel;
    g_cancel = &cancel;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    const bool bar = !g.json_logs && ::isatty(STDERR_FILENO) == 1;
    int failed = 0;
    for (const auto& p : parts) {
        media::RenderRequest req = base;
        req.story_id = p.story;
        req.part_id = p.part;
        req.frames_dir = p.frames_dir;
        const log::Context ctx({{"story_id", p.story}, {"part_id", p.part}});
        if (g.debug) {
            std::error_code ec;
            fs::create_directories(paths.tmp_dir, ec);
            if (!ec && is_safe_id(p.story) && is_safe_id(p.part)) {
                req.libav_report_path =
                    paths.tmp_dir / fmt::format("ffreport-{}_{}.log", p.story, p.part);
            }
        }
        ProgressBar progress_bar(bar, fmt::format("{}/{}", p.story, p.part));
        double last_log = -10;
        const media::ProgressFn on_progress = [&](const media::Progress& pr) {
            progress_bar.update(pr);
            if (!bar && pr.elapsed_sec - last_log >= 5) {
                last_log = pr.elapsed_sec;
                ctx.info("rendering", {{"elapsed_sec", static_cast<std::int64_t>(pr.elapsed_sec)},
                                       {"frames_done", pr.frames_done},
                                       {"frames_total", pr.frames_total},
                                       {"fps", pr.fps}});
            }
        };
        try {
            const auto r = media::render_slideshow(req, ctx, cancel, on_progress);
            progress_bar.finish();
            log::Fields done{{"path", r.path.string()},      {"bytes", r.bytes},
                             {"duration_ms", r.duration_ms}, {"audio_track", r.audio_track},
                             {"frames", r.frames},           {"width", r.width},
                             {"height", r.height},           {"wall_sec", r.wall_sec},
                             {"encode_fps", r.encode_fps},   {"cache_hit", r.cache_hit}};
            if (const auto& l = r.loudness) {
                // A silent track has no loudness (-inf): only the finite values are stated.
                if (std::isfinite(l->lufs)) done.emplace_back("loudness_lufs", l->lufs);
                if (std::isfinite(l->true_peak_dbtp)) {
                    done.emplace_back("true_peak_dbtp", l->true_peak_dbtp);
                }
                done.emplace_back("gain_db", l->gain_db);
            }
            if (!r.warnings.empty()) done.emplace_back("warnings", r.warnings);
            ctx.info("done", done);
        } catch (const Error& e) {
            progress_bar.finish();
            ++failed;
            log::Fields f{{"error_class", std::string(to_string(e.error_class()))},
                          {"error_message", e.what()}};
            if (!e.stderr_snippet().empty()) f.emplace_back("stderr_snippet", e.stderr_snippet());
            if (req.libav_report_path) f.emplace_back("ffreport", req.libav_report_path->string());
            ctx.error("error", f);
            if (e.error_class() == ErrorClass::Cancelled) break;
        }
    }
    g_cancel = nullptr;
    if (parts.size() > 1) {
        log::info(
            "summary",
            {{"parts", parts.size()}, {"rendered", parts.size() - failed}, {"failed", failed}});
    }
    return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void add_render_command(CLI::App& app, const GlobalOptions& global, Runner& runner) {
    auto* cmd = app.add_subcommand("render", "Render story parts once, without the job API");
    cmd->footer(
        "Examples:\n"
        "  renderer render --stories-path /content/stories --music-dir /content/audio/music "
        "--output /output\n"
        "  renderer render --frames ./frames --story S45 --part P2 --music-dir ./music --output "
        "./out\n\n"
        "Each part becomes <output>/<story>_<part>.mp4, written to a temp file and renamed "
        "atomically.\n"
        "Settings also come from env vars (shown in brackets); flags override them.");
    auto o = std::make_shared<RenderOptions>();
    cmd->add_option("--frames", o->frames, "Frames dir of one part (*.png, natural order)");
    cmd->add_option("--story", o->story, "Story id for --frames ([A-Za-z0-9._-])");
    cmd->add_option("--part", o->part, "Part id for --frames ([A-Za-z0-9._-])");
    cmd->add_option("--stories-path", o->stories_path,
                    "Render every <story>/<part>/frames/*.png (or <story>/<part>/*.png) under DIR");
    cmd->add_option("--music-dir", o->music_dir,
                    "Dir of .mp3 tracks [MUSIC_DIR, default /content/audio/music]");
    cmd->add_option("--output", o->output, "Output dir [OUTPUT_DIR, default /output]");
    cmd->add_option("--music-select", o->music_select,
                    "first | hash | named:FILE.mp3 [MUSIC_SELECT, default first]");
    cmd->add_option("--fps", o->fps, "Frames per second [FPS, default 30]");
    cmd->add_option("--audio-bitrate", o->audio_bitrate,
                    "AAC bit rate, e.g. 192k [AUDIO_BITRATE, default 192k]");
    cmd->add_option("--codec", o->codec,
                    "Video codec: h264, hevc or av1 [VIDEO_CODEC, default h264]");
    cmd->add_option("--preset", o->preset,
                    "The codec's preset: h264/hevc ultrafast..placebo (default medium), av1 0..13 "
                    "(default 8) [X264_PRESET]");
    cmd->add_option("--crf", o->crf,
                    "The codec's constant rate factor: h264 0-51 (default 23), hevc 0-51 (default "
                    "24), av1 1-63 (default 35) [X264_CRF]");
    cmd->add_option("--video-bitrate", o->video_bitrate,
                    "Target video bit rate instead of crf, e.g. 4M [VIDEO_BITRATE]");
    cmd->add_option("--x264-params", o->x264_params,
                    "Extra x264 options, key=value:key=value [X264_PARAMS]");
    cmd->add_option(
        "--size", o->size,
        "Output WxH (even); frames are fitted and padded [RENDER_SIZE, default first frame]");
    cmd->add_option(
        "--threads", o->threads,
        "x264 threads; fixed so output is identical everywhere [X264_THREADS, default 3]");
    cmd->add_option(
        "--decode-threads", o->decode_threads,
        "PNG decode threads, 0 = auto: half the cores, 1-4 [DECODE_THREADS, default 0]");
    cmd->add_option("--output-name", o->output_name,
                    "File name template: {story_id} {part_id} {ts} [OUTPUT_NAME_TEMPLATE, default "
                    "{story_id}_{part_id}.mp4]");
    cmd->add_option("--min-free-bytes", o->min_free_bytes,
                    "Refuse to start below this free space [MIN_FREE_BYTES, default 2G]");
    cmd->add_option(
        "--max-frame-pixels", o->max_frame_pixels,
        "Refuse frames larger than this [MAX_FRAME_PIXELS, default 8294400 (3840x2160)]");
    cmd->add_option("--audio-fit", o->audio_fit,
                    "shortest: cut at the shorter input; loop: repeat the music to the frames' "
                    "end; pad: silence after it [AUDIO_FIT, default shortest]");
    cmd->add_option("--audio-fade-in-ms", o->audio_fade_in_ms,
                    "Fade-in at the start, 0-60000 [AUDIO_FADE_IN_MS, default 0]");
    cmd->add_option("--audio-fade-out-ms", o->audio_fade_out_ms,
                    "Fade-out where the output ends inside the music, 0-60000 [AUDIO_FADE_OUT_MS, "
                    "default 1000]");
    cmd->add_option("--audio-loudness", o->audio_loudness,
                    "off, or an EBU R128 integrated loudness target in LUFS, -70 to -5, e.g. -16 "
                    "[AUDIO_LOUDNESS, default off]");
    cmd->add_option("--audio-true-peak", o->audio_true_peak,
                    "True-peak ceiling of the loudness gain, -9 to 0 dBTP [AUDIO_TRUE_PEAK, "
                    "default -1.0]");
    cmd->add_option("--keyint-sec", o->keyint_sec,
                    "A keyframe at least every this many seconds of video, 1-300 [KEYINT_SEC, "
                    "default 10]");
    cmd->add_option("--frame-timing", o->frame_timing,
                    "cfr: every frame encoded; vfr: a held frame encoded once, lasting the hold "
                    "[FRAME_TIMING, default cfr]");
    cmd->add_option("--vfr-max-hold-ms", o->vfr_max_hold_ms,
                    "vfr: the longest one encoded frame shows, 1-60000 [VFR_MAX_HOLD_MS, default "
                    "1000]");
    cmd->add_flag("--no-cache", o->no_cache,
                  "Always encode, even when the artifact already matches [RENDER_CACHE=0]");
    cmd->callback(
        [&runner, &global, o] { runner = [&global, o] { return run_render(*o, global); }; });
}

}  // namespace renderer::app

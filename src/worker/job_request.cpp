#include "worker/job_request.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.h"
#include "common/paths.h"
#include "worker/render_config.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;

Error preflight(std::string message) {
    return Error(ErrorClass::PreflightError, std::move(message));
}

// The job's frames_dir (default: CONTENT_DIR/stories/<story>/<part>/frames), refused unless it
// stays under CONTENT_DIR: it came from the network.
fs::path resolve_frames_dir(const Job& job, const WorkerConfig& config) {
    const auto& content = config.paths.content_dir;
    if (!job.frames_dir) return content / "stories" / job.story_id / job.part_id / "frames";
    const fs::path given(*job.frames_dir);
    for (const auto& part : given) {
        if (part == "..") {
            throw preflight(
                fmt::format("frames_dir '{}' contains '..': give a path under CONTENT_DIR ({})",
                            *job.frames_dir, content.string()));
        }
    }
    const fs::path full = given.is_absolute() ? given : content / given;
    // is_within resolves symlinks, so a link inside CONTENT_DIR pointing out of it is refused too.
    if (!is_within(content, full)) {
        throw preflight(
            fmt::format("frames_dir '{}' is outside CONTENT_DIR ({}): a job may only name frames "
                        "under the content directory",
                        *job.frames_dir, content.string()));
    }
    return full.lexically_normal();
}

// Settings a job's `render` may override, by the job's field and the worker's variable it
// overrides: a value out of range is the job's when the job set it, and a pair that cannot go
// together (vfr with av1) may have one from each.
std::string_view job_setting_names(media::Setting setting) {
    using media::Setting;
    switch (setting) {
        case Setting::Fps:
            return "render.fps, default FPS";
        case Setting::Codec:
            return "render.codec, default VIDEO_CODEC";
        case Setting::Preset:
            return "render.preset, default X264_PRESET";
        case Setting::Crf:
            return "render.crf, default X264_CRF";
        case Setting::AudioFit:
            return "render.audio_fit, default AUDIO_FIT";
        case Setting::AudioFadeInMs:
            return "render.audio_fade_in_ms, default AUDIO_FADE_IN_MS";
        case Setting::AudioFadeOutMs:
            return "render.audio_fade_out_ms, default AUDIO_FADE_OUT_MS";
        case Setting::AudioLoudness:
            return "render.audio_loudness, default AUDIO_LOUDNESS";
        case Setting::AudioTruePeak:
            return "render.audio_true_peak, default AUDIO_TRUE_PEAK";
        case Setting::FrameTiming:
            return "render.frame_timing, default FRAME_TIMING";
        case Setting::KeyintSec:
            return "render.keyint_sec, default KEYINT_SEC";
        default:
            return env_setting_names(setting);
    }
}

}  // namespace

media::RenderRequest render_request_for(const Job& job, const WorkerConfig& config) {
    if (job.input_error) throw preflight(fmt::format("the job is malformed: {}", *job.input_error));
    media::RenderRequest r;
    r.story_id = job.story_id;
    r.part_id = job.part_id;
    r.frames_dir = resolve_frames_dir(job, config);
    r.music_dir = config.paths.music_dir;
    r.music_select = config.music_select;
    if (job.music_track) {
        const auto& track = *job.music_track;
        const bool printable = std::all_of(track.begin(), track.end(), [](char c) {
            return static_cast<unsigned char>(c) >= 0x20;
        });
        try {
            if (!printable) throw Error(ErrorClass::ConfigError, "control characters");
            media::validate_music_select("named:" + track);
        } catch (const Error&) {
            throw preflight(
                fmt::format("music_track '{}' must be a plain file name in MUSIC_DIR ({})", track,
                            config.paths.music_dir.string()));
        }
        r.music_select = "named:" + track;
    }
    r.output_dir = config.paths.output_dir;
    // The same threshold the poll loop claims by: without it preflight would hold every job to
    // the media layer's 2 GiB default and fail jobs the worker had just judged it had room for.
    r.min_free_bytes = config.min_free_bytes;
    r.output_name_template = config.output_name_template;
    r.settings = config.render;
    r.setting_names = env_setting_names;
    if (job.render.fps) r.settings.fps = *job.render.fps;
    try {
        const auto& o = job.render;
        if (o.codec) {
            media::use_codec(r.settings,
                             media::parse_video_codec_setting("render.codec", *o.codec));
        }
        if (o.preset) r.settings.preset = *o.preset;
        if (o.crf) r.settings.crf = *o.crf;
        auto& a = r.settings.audio;
        if (o.audio_fit) a.fit = media::parse_audio_fit_setting("render.audio_fit", *o.audio_fit);
        if (o.audio_fade_in_ms) a.fade_in_ms = *o.audio_fade_in_ms;
        if (o.audio_fade_out_ms) a.fade_out_ms = *o.audio_fade_out_ms;
        if (o.audio_loudness) {
            a.loudness_lufs =
                media::parse_audio_loudness("render.audio_loudness", *o.audio_loudness);
        }
        if (o.audio_true_peak) a.true_peak_dbtp = *o.audio_true_peak;
        if (o.frame_timing) {
            r.settings.frame_timing =
                media::parse_frame_timing("render.frame_timing", *o.frame_timing);
        }
        if (o.keyint_sec) r.settings.keyint_sec = *o.keyint_sec;
        media::validate(r.settings, job_setting_names);
    } catch (const Error& e) {
        throw preflight(fmt::format("the job's render settings are invalid: {}", e.what()));
    }
    return r;
}

}  // namespace renderer::worker

#include "worker/render_config.h"

#include "common/env.h"
#include "media/encoders.h"

namespace renderer::worker {
namespace {

using media::Setting;

std::int64_t env_in_range(const char* name, std::int64_t fallback, Setting setting) {
    const auto r = media::setting_range(setting);
    return env_int(name, fallback, r.min, r.max);
}

}  // namespace

std::string_view env_setting_names(Setting setting) {
    switch (setting) {
        case Setting::Fps:
            return "FPS";
        case Setting::Codec:
            return "VIDEO_CODEC";
        case Setting::Preset:
            return "X264_PRESET";
        case Setting::Crf:
            return "X264_CRF";
        case Setting::Threads:
            return "X264_THREADS";
        case Setting::DecodeThreads:
            return "DECODE_THREADS";
        case Setting::AudioBitrate:
            return "AUDIO_BITRATE";
        case Setting::Size:
        case Setting::SizeSide:
            return "RENDER_SIZE";
        case Setting::MaxFramePixels:
            return "MAX_FRAME_PIXELS";
        case Setting::MusicDir:
            return "MUSIC_DIR";
        case Setting::OutputDir:
            return "OUTPUT_DIR";
        case Setting::MinFreeBytes:
            return "MIN_FREE_BYTES";
        case Setting::AudioFit:
            return "AUDIO_FIT";
        case Setting::AudioFadeInMs:
            return "AUDIO_FADE_IN_MS";
        case Setting::AudioFadeOutMs:
            return "AUDIO_FADE_OUT_MS";
        case Setting::AudioLoudness:
            return "AUDIO_LOUDNESS";
        case Setting::AudioTruePeak:
            return "AUDIO_TRUE_PEAK";
        case Setting::KeyintSec:
            return "KEYINT_SEC";
        case Setting::FrameTiming:
            return "FRAME_TIMING";
        case Setting::VfrMaxHoldMs:
            return "VFR_MAX_HOLD_MS";
    }
    return "";
}

media::RenderSettings render_settings_from_env() {
    media::RenderSettings s;
    s.fps = static_cast<int>(env_in_range("FPS", s.fps, Setting::Fps));
    if (auto v = env_get("AUDIO_BITRATE")) s.audio_bitrate = parse_bitrate("AUDIO_BITRATE", *v);
    if (auto v = env_get("VIDEO_CODEC"))
        s.codec = media::parse_video_codec_setting("VIDEO_CODEC", *v);
    // X264_PRESET and X264_CRF (named when x264 was the only codec) set the preset and crf of the
    // codec VIDEO_CODEC names; validate() checks them against that codec's range.
    if (auto v = env_get("X264_PRESET")) s.preset = *v;
    // Any integer here: validate() checks it against the codec's range and names the codec.
    if (auto v = env_get("X264_CRF"))
        s.crf = static_cast<int>(parse_int("X264_CRF", *v, -999, 999));
    if (auto v = env_get("VIDEO_BITRATE")) s.video_bitrate = parse_bitrate("VIDEO_BITRATE", *v);
    s.x264_params = env_string("X264_PARAMS", s.x264_params);
    s.threads = static_cast<int>(env_in_range("X264_THREADS", s.threads, Setting::Threads));
    s.decode_threads =
        static_cast<int>(env_in_range("DECODE_THREADS", s.decode_threads, Setting::DecodeThreads));
    if (auto v = env_get("RENDER_SIZE")) media::parse_size("RENDER_SIZE", *v, s.width, s.height);
    if (auto v = env_get("MAX_FRAME_PIXELS")) {
        const auto r = media::setting_range(Setting::MaxFramePixels);
        s.max_frame_pixels =
            static_cast<std::uint64_t>(parse_int("MAX_FRAME_PIXELS", *v, r.min, r.max));
    }
    s.use_cache = env_int("RENDER_CACHE", 1, 0, 1) == 1;
    if (auto v = env_get("AUDIO_FIT"))
        s.audio.fit = media::parse_audio_fit_setting("AUDIO_FIT", *v);
    s.audio.fade_in_ms = static_cast<int>(
        env_in_range("AUDIO_FADE_IN_MS", s.audio.fade_in_ms, Setting::AudioFadeInMs));
    s.audio.fade_out_ms = static_cast<int>(
        env_in_range("AUDIO_FADE_OUT_MS", s.audio.fade_out_ms, Setting::AudioFadeOutMs));
    if (auto v = env_get("AUDIO_LOUDNESS")) {
        s.audio.loudness_lufs = media::parse_audio_loudness("AUDIO_LOUDNESS", *v);
    }
    if (auto v = env_get("AUDIO_TRUE_PEAK")) {
        const auto r = media::setting_range(Setting::AudioTruePeak);
        s.audio.true_peak_dbtp = parse_double("AUDIO_TRUE_PEAK", *v, static_cast<double>(r.min),
                                              static_cast<double>(r.max));
    }
    s.keyint_sec = static_cast<int>(env_in_range("KEYINT_SEC", s.keyint_sec, Setting::KeyintSec));
    if (auto v = env_get("FRAME_TIMING"))
        s.frame_timing = media::parse_frame_timing("FRAME_TIMING", *v);
    s.vfr_max_hold_ms =
        static_cast<int>(env_in_range("VFR_MAX_HOLD_MS", s.vfr_max_hold_ms, Setting::VfrMaxHoldMs));
    media::validate(s, env_setting_names);
    // The machine's FFmpeg must have the codec's encoder: said at startup (exit 78), not at the
    // first job.
    media::find_video_encoder(s.codec);
    return s;
}

}  // namespace renderer::worker

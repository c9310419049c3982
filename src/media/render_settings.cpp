#include "media/render_settings.h"

#include <array>

#include <fmt/format.h>

#include "common/env.h"
#include "common/error.h"

namespace renderer::media {
namespace {

// The ranges of the audio finishing settings: a fade up to a minute; a loudness target from the
// quietest a meter gates (-70 LUFS) to louder than any platform asks (-5); a true-peak ceiling
// from -9 dBTP to full scale (above it the float samples would clip in the AAC encoder's input).
constexpr int kMaxFadeMs = 60000;
constexpr double kMinLoudnessLufs = -70;
constexpr double kMaxLoudnessLufs = -5;
constexpr double kMinTruePeak = -9;
constexpr double kMaxTruePeak = 0;

constexpr std::array<const char*, 10> kPresets = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                                  "medium",    "slow",      "slower",   "veryslow", "placebo"};

}  // namespace

bool is_x264_preset(std::string_view name) {
    for (const auto* p : kPresets) {
        if (name == p) return true;
    }
    return false;
}

void parse_size(std::string_view name, std::string_view text, int& width, int& height) {
    const auto x = text.find_first_of("xX");
    if (x == std::string_view::npos) {
        throw Error(ErrorClass::ConfigError, fmt::format("{} must be WIDTHxHEIGHT such as 1920x1080; got '{}'", name, text));
    }
    width = static_cast<int>(parse_int(name, text.substr(0, x), 16, 8192));
    height = static_cast<int>(parse_int(name, text.substr(x + 1), 16, 8192));
    if (width % 2 != 0 || height % 2 != 0) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("{} must have even width and height (yuv420p); got '{}'", name, text));
    }
}

void validate_music_select(std::string_view text) {
    if (text == "first" || text == "hash") return;
    if (text.rfind("named:", 0) == 0 && text.size() > 6) {
        const auto file = text.substr(6);
        if (file.find('/') == std::string_view::npos && file != "." && file != "..") return;
    }
    throw Error(ErrorClass::ConfigError,
                fmt::format("music selection must be first, hash or named:FILE.mp3 (a file name in the music "
                            "dir); got '{}'",
                            text));
}

AudioFit parse_audio_fit_setting(std::string_view name, std::string_view text) {
    if (auto fit = parse_audio_fit(text)) return *fit;
    throw Error(ErrorClass::ConfigError, fmt::format("{} must be shortest, loop or pad; got '{}'", name, text));
}

std::optional<double> parse_audio_loudness(std::string_view name, std::string_view text) {
    if (text == "off") return std::nullopt;
    return parse_double(name, text, kMinLoudnessLufs, kMaxLoudnessLufs);
}

void validate(const RenderSettings& s) {
    const auto bad = [](std::string msg) { throw Error(ErrorClass::ConfigError, std::move(msg)); };
    if (s.fps < 1 || s.fps > 120) bad(fmt::format("fps (FPS, --fps) must be from 1 to 120; got {}", s.fps));
    if (!is_x264_preset(s.preset)) {
        bad(fmt::format("x264 preset (X264_PRESET, --preset) must be one of ultrafast, superfast, veryfast, faster, fast, medium, slow, "
                        "slower, veryslow, placebo; got '{}'",
                        s.preset));
    }
    if (s.crf < 0 || s.crf > 51) bad(fmt::format("crf (X264_CRF, --crf) must be from 0 to 51; got {}", s.crf));
    if (s.threads < 1 || s.threads > 64) bad(fmt::format("x264 threads (X264_THREADS, --threads) must be from 1 to 64; got {}", s.threads));
    if (s.decode_threads < 0 || s.decode_threads > 64) {
        bad(fmt::format("decode threads (DECODE_THREADS, --decode-threads) must be from 0 (auto) to 64; got {}", s.decode_threads));
    }
    if (s.audio_bitrate < 32000 || s.audio_bitrate > 512000) {
        bad(fmt::format("audio bitrate (AUDIO_BITRATE, --audio-bitrate) must be from 32k to 512k; got {}", s.audio_bitrate));
    }
    if ((s.width == 0) != (s.height == 0) || s.width % 2 != 0 || s.height % 2 != 0) {
        bad(fmt::format("size (RENDER_SIZE, --size) must be even WIDTHxHEIGHT; got {}x{}", s.width, s.height));
    }
    const auto& a = s.audio;
    if (a.fade_in_ms < 0 || a.fade_in_ms > kMaxFadeMs) {
        bad(fmt::format("fade-in (AUDIO_FADE_IN_MS, --audio-fade-in-ms) must be from 0 to {} ms; got {}", kMaxFadeMs,
                        a.fade_in_ms));
    }
    if (a.fade_out_ms < 0 || a.fade_out_ms > kMaxFadeMs) {
        bad(fmt::format("fade-out (AUDIO_FADE_OUT_MS, --audio-fade-out-ms) must be from 0 to {} ms; got {}",
                        kMaxFadeMs, a.fade_out_ms));
    }
    if (a.loudness_lufs && !(*a.loudness_lufs >= kMinLoudnessLufs && *a.loudness_lufs <= kMaxLoudnessLufs)) {
        bad(fmt::format("loudness target (AUDIO_LOUDNESS, --audio-loudness) must be off or from {} to {} LUFS; got {}",
                        kMinLoudnessLufs, kMaxLoudnessLufs, *a.loudness_lufs));
    }
    if (!(a.true_peak_dbtp >= kMinTruePeak && a.true_peak_dbtp <= kMaxTruePeak)) {
        bad(fmt::format("true-peak ceiling (AUDIO_TRUE_PEAK, --audio-true-peak) must be from {} to {} dBTP; got {}",
                        kMinTruePeak, kMaxTruePeak, a.true_peak_dbtp));
    }
}

RenderSettings render_settings_from_env() {
    RenderSettings s;
    s.fps = static_cast<int>(env_int("FPS", s.fps, 1, 120));
    if (auto v = env_get("AUDIO_BITRATE")) s.audio_bitrate = parse_bitrate("AUDIO_BITRATE", *v);
    s.preset = env_string("X264_PRESET", s.preset);
    s.crf = static_cast<int>(env_int("X264_CRF", s.crf, 0, 51));
    if (auto v = env_get("VIDEO_BITRATE")) s.video_bitrate = parse_bitrate("VIDEO_BITRATE", *v);
    s.x264_params = env_string("X264_PARAMS", s.x264_params);
    s.threads = static_cast<int>(env_int("X264_THREADS", s.threads, 1, 64));
    s.decode_threads = static_cast<int>(env_int("DECODE_THREADS", s.decode_threads, 0, 64));
    if (auto v = env_get("RENDER_SIZE")) parse_size("RENDER_SIZE", *v, s.width, s.height);
    if (auto v = env_get("MAX_FRAME_PIXELS")) {
        s.max_frame_pixels = static_cast<std::uint64_t>(parse_int("MAX_FRAME_PIXELS", *v, 1, 1ll << 30));
    }
    s.use_cache = env_int("RENDER_CACHE", 1, 0, 1) == 1;
    if (auto v = env_get("AUDIO_FIT")) s.audio.fit = parse_audio_fit_setting("AUDIO_FIT", *v);
    s.audio.fade_in_ms = static_cast<int>(env_int("AUDIO_FADE_IN_MS", s.audio.fade_in_ms, 0, kMaxFadeMs));
    s.audio.fade_out_ms = static_cast<int>(env_int("AUDIO_FADE_OUT_MS", s.audio.fade_out_ms, 0, kMaxFadeMs));
    if (auto v = env_get("AUDIO_LOUDNESS")) s.audio.loudness_lufs = parse_audio_loudness("AUDIO_LOUDNESS", *v);
    if (auto v = env_get("AUDIO_TRUE_PEAK")) {
        s.audio.true_peak_dbtp = parse_double("AUDIO_TRUE_PEAK", *v, kMinTruePeak, kMaxTruePeak);
    }
    validate(s);
    return s;
}

}  // namespace renderer::media

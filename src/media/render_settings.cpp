#include "media/render_settings.h"

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/env.h"
#include "common/error.h"

namespace renderer::media {
namespace {

// x264's and x265's preset names (the same ten); SVT-AV1's presets are numbers (kRanges).
constexpr std::array<const char*, 10> kX26xPresets = {
    "ultrafast", "superfast", "veryfast", "faster",   "fast",
    "medium",    "slow",      "slower",   "veryslow", "placebo"};

// Each codec's encoder and defaults. The defaults give about the quality of x264 medium/crf 23
// on W1 (measured: docs/DECISIONS.md, "Codecs").
struct CodecRow {
    VideoCodec codec;
    const char* name;
    const char* encoder;
    bool named_presets;  // false: the preset is a number in Setting::Preset's range
    const char* default_preset;
    int default_crf;
};
constexpr std::array<CodecRow, 3> kCodecs = {{
    {.codec = VideoCodec::H264,
     .name = "h264",
     .encoder = "libx264",
     .named_presets = true,
     .default_preset = "medium",
     .default_crf = 23},
    {.codec = VideoCodec::Hevc,
     .name = "hevc",
     .encoder = "libx265",
     .named_presets = true,
     .default_preset = "medium",
     .default_crf = 24},
    {.codec = VideoCodec::Av1,
     .name = "av1",
     .encoder = "libsvtav1",
     .named_presets = false,
     .default_preset = "8",
     .default_crf = 35},
}};

const CodecRow& codec_row(VideoCodec codec) {
    for (const auto& row : kCodecs) {
        if (row.codec == codec) return row;
    }
    throw std::logic_error("codec_row: a codec without a row");
}

// Each numeric setting's range, stated once; a row with a codec holds for that codec only.
struct RangeRow {
    Setting setting;
    std::optional<VideoCodec> codec;
    SettingRange range;
};
const std::array<RangeRow, 16> kRanges = {{
    {.setting = Setting::Fps, .codec = {}, .range = {.min = 1, .max = 120}},
    {.setting = Setting::Crf, .codec = VideoCodec::H264, .range = {.min = 0, .max = 51}},
    {.setting = Setting::Crf, .codec = VideoCodec::Hevc, .range = {.min = 0, .max = 51}},
    {.setting = Setting::Crf, .codec = VideoCodec::Av1, .range = {.min = 1, .max = 63}},
    {.setting = Setting::Preset, .codec = VideoCodec::Av1, .range = {.min = 0, .max = 13}},
    {.setting = Setting::Threads, .codec = {}, .range = {.min = 1, .max = 64}},
    // 0: half the available CPUs, 1-4
    {.setting = Setting::DecodeThreads, .codec = {}, .range = {.min = 0, .max = 64}},
    {.setting = Setting::AudioBitrate, .codec = {}, .range = {.min = 32'000, .max = 512'000}},
    {.setting = Setting::SizeSide, .codec = {}, .range = {.min = 16, .max = 8192}},
    {.setting = Setting::MaxFramePixels,
     .codec = {},
     .range = {.min = 1, .max = std::int64_t{1} << 30}},
    // Audio finishing: a fade up to a minute; a loudness target from the quietest a meter gates
    // (-70 LUFS) to louder than any platform asks (-5); a true-peak ceiling from -9 dBTP to full
    // scale (above it the float samples could exceed full scale at the AAC encoder's input).
    {.setting = Setting::AudioFadeInMs, .codec = {}, .range = {.min = 0, .max = 60'000}},
    {.setting = Setting::AudioFadeOutMs, .codec = {}, .range = {.min = 0, .max = 60'000}},
    {.setting = Setting::AudioLoudness, .codec = {}, .range = {.min = -70, .max = -5}},
    {.setting = Setting::AudioTruePeak, .codec = {}, .range = {.min = -9, .max = 0}},
    // A keyframe from every second (seeking decodes little, the file grows) to every five
    // minutes (one long GOP: seeking decodes up to that much).
    {.setting = Setting::KeyintSec, .codec = {}, .range = {.min = 1, .max = 300}},
    // From a millisecond (below a frame period: every frame its own, as cfr) to a minute.
    {.setting = Setting::VfrMaxHoldMs, .codec = {}, .range = {.min = 1, .max = 60'000}},
}};

// "fps (FPS, --fps)" when the caller names its sources, else "fps".
std::string described(std::string_view what, Setting setting, SettingNames names) {
    return fmt::format("{}{}", what, named(setting, names));
}

}  // namespace

std::string named(Setting setting, SettingNames names) {
    if (names == nullptr) return "";
    return fmt::format(" ({})", names(setting));
}

SettingRange setting_range(Setting setting, VideoCodec codec) {
    for (const auto& row : kRanges) {
        if (row.setting == setting && (!row.codec || *row.codec == codec)) return row.range;
    }
    throw std::logic_error("setting_range: a setting without a range");
}

std::optional<VideoCodec> parse_video_codec(std::string_view name) {
    for (const auto& row : kCodecs) {
        if (name == row.name) return row.codec;
    }
    return std::nullopt;
}

std::string_view codec_name(VideoCodec codec) { return codec_row(codec).name; }

const char* encoder_name(VideoCodec codec) { return codec_row(codec).encoder; }

std::string codec_list() {
    std::vector<std::string_view> names;
    for (const auto& row : kCodecs) names.emplace_back(row.name);
    return fmt::format("{}", fmt::join(names, ", "));
}

VideoCodec parse_video_codec_setting(std::string_view name, std::string_view text) {
    if (auto codec = parse_video_codec(text)) return *codec;
    throw Error(ErrorClass::ConfigError,
                fmt::format("{} must be one of {}; got '{}'", name, codec_list(), text));
}

bool is_preset(VideoCodec codec, std::string_view name) {
    if (codec_row(codec).named_presets) {
        for (const auto* p : kX26xPresets) {
            if (name == p) return true;
        }
        return false;
    }
    // A number in the codec's range, written plainly ("8", not "08" or "+8": one spelling per
    // preset, so the render cache key never sees two names for one encode).
    const auto r = setting_range(Setting::Preset, codec);
    for (std::int64_t v = r.min; v <= r.max; ++v) {
        if (name == std::to_string(v)) return true;
    }
    return false;
}

std::string preset_list(VideoCodec codec) {
    if (codec_row(codec).named_presets) return fmt::format("{}", fmt::join(kX26xPresets, ", "));
    const auto r = setting_range(Setting::Preset, codec);
    return fmt::format("{} to {}", r.min, r.max);
}

std::string effective_preset(const RenderSettings& s) {
    return s.preset.value_or(codec_row(s.codec).default_preset);
}

void use_codec(RenderSettings& s, VideoCodec codec) {
    if (codec == s.codec) return;
    s.codec = codec;
    s.preset.reset();
    s.crf.reset();
}

int effective_crf(const RenderSettings& s) {
    return s.crf.value_or(codec_row(s.codec).default_crf);
}

void parse_size(std::string_view name, std::string_view text, int& width, int& height) {
    const auto x = text.find_first_of("xX");
    if (x == std::string_view::npos) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("{} must be WIDTHxHEIGHT such as 1920x1080; got '{}'", name, text));
    }
    const auto side = setting_range(Setting::SizeSide);
    width = static_cast<int>(parse_int(name, text.substr(0, x), side.min, side.max));
    height = static_cast<int>(parse_int(name, text.substr(x + 1), side.min, side.max));
    if (width % 2 != 0 || height % 2 != 0) {
        throw Error(
            ErrorClass::ConfigError,
            fmt::format("{} must have even width and height (yuv420p); got '{}'", name, text));
    }
}

void validate_music_select(std::string_view text) {
    if (text == "first" || text == "hash") return;
    if (text.rfind("named:", 0) == 0 && text.size() > 6) {
        const auto file = text.substr(6);
        if (file.find('/') == std::string_view::npos && file != "." && file != "..") return;
    }
    throw Error(
        ErrorClass::ConfigError,
        fmt::format(
            "music selection must be first, hash or named:FILE.mp3 (a file name in the music "
            "dir); got '{}'",
            text));
}

AudioFit parse_audio_fit_setting(std::string_view name, std::string_view text) {
    if (auto fit = parse_audio_fit(text)) return *fit;
    throw Error(ErrorClass::ConfigError,
                fmt::format("{} must be shortest, loop or pad; got '{}'", name, text));
}

std::optional<double> parse_audio_loudness(std::string_view name, std::string_view text) {
    if (text == "off") return std::nullopt;
    const auto r = setting_range(Setting::AudioLoudness);
    return parse_double(name, text, static_cast<double>(r.min), static_cast<double>(r.max));
}

FrameTiming parse_frame_timing(std::string_view name, std::string_view text) {
    if (text == "cfr") return FrameTiming::Cfr;
    if (text == "vfr") return FrameTiming::Vfr;
    throw Error(ErrorClass::ConfigError,
                fmt::format("{} must be cfr or vfr; got '{}'", name, text));
}

std::string_view to_string(FrameTiming timing) {
    return timing == FrameTiming::Vfr ? "vfr" : "cfr";
}

int keyint_frames(const RenderSettings& s) { return std::max(1, s.keyint_sec * s.fps); }

int max_hold_frames(const RenderSettings& s) {
    // Whole frame periods, rounded down: a frame never shows longer than the hold asks.
    const auto hold = static_cast<int>(static_cast<std::int64_t>(s.vfr_max_hold_ms) * s.fps / 1000);
    return std::clamp(hold, 1, keyint_frames(s));
}

void validate_timing_codec(FrameTiming timing, VideoCodec codec, SettingNames names) {
    if (timing == FrameTiming::Vfr && codec == VideoCodec::Av1) {
        // vfr's keyframes come by time, forced on the frame that needs one; SVT-AV1 ignores a
        // forced key picture, so KEYINT_SEC could not hold.
        throw Error(ErrorClass::ConfigError,
                    fmt::format("{} vfr is not available with {} av1 (SVT-AV1 cannot place the "
                                "keyframes vfr forces by time); use cfr, or h264 or hevc",
                                described("frame timing", Setting::FrameTiming, names),
                                described("codec", Setting::Codec, names)));
    }
}

void validate(const RenderSettings& s, SettingNames names) {
    const auto bad = [](std::string msg) { throw Error(ErrorClass::ConfigError, std::move(msg)); };
    const auto check = [&](Setting setting, std::string_view what, std::int64_t value) {
        const auto r = setting_range(setting);
        if (value >= r.min && value <= r.max) return;
        bad(fmt::format("{} must be from {} to {}; got {}", described(what, setting, names), r.min,
                        r.max, value));
    };
    check(Setting::Fps, "fps", s.fps);
    const auto codec = codec_name(s.codec);
    if (s.preset && !is_preset(s.codec, *s.preset)) {
        // A preset of another codec is the likely mistake when VIDEO_CODEC changed: say so.
        std::string other;
        for (const auto& row : kCodecs) {
            if (row.codec != s.codec && is_preset(row.codec, *s.preset)) {
                other = fmt::format(" (a preset of {}, not of {})", row.name, codec);
                break;
            }
        }
        bad(fmt::format("{} for {} must be one of {}; got '{}'{}",
                        described("preset", Setting::Preset, names), codec, preset_list(s.codec),
                        *s.preset, other));
    }
    if (s.crf) {
        const auto r = setting_range(Setting::Crf, s.codec);
        if (*s.crf < r.min || *s.crf > r.max) {
            bad(fmt::format("{} for {} must be from {} to {}; got {}",
                            described("crf", Setting::Crf, names), codec, r.min, r.max, *s.crf));
        }
    }
    check(Setting::Threads, "encoder threads", s.threads);
    check(Setting::KeyintSec, "keyframe interval (seconds)", s.keyint_sec);
    check(Setting::VfrMaxHoldMs, "vfr max hold (ms)", s.vfr_max_hold_ms);
    validate_timing_codec(s.frame_timing, s.codec, names);
    const auto decode = setting_range(Setting::DecodeThreads);
    if (s.decode_threads < decode.min || s.decode_threads > decode.max) {
        bad(fmt::format("{} must be from {} (auto) to {}; got {}",
                        described("decode threads", Setting::DecodeThreads, names), decode.min,
                        decode.max, s.decode_threads));
    }
    const auto audio = setting_range(Setting::AudioBitrate);
    if (s.audio_bitrate < audio.min || s.audio_bitrate > audio.max) {
        bad(fmt::format("{} must be from {}k to {}k; got {}",
                        described("audio bitrate", Setting::AudioBitrate, names), audio.min / 1000,
                        audio.max / 1000, s.audio_bitrate));
    }
    if ((s.width == 0) != (s.height == 0) || s.width % 2 != 0 || s.height % 2 != 0) {
        bad(fmt::format("{} must be even WIDTHxHEIGHT; got {}x{}",
                        described("size", Setting::Size, names), s.width, s.height));
    }
    const auto& a = s.audio;
    check(Setting::AudioFadeInMs, "fade-in ms", a.fade_in_ms);
    check(Setting::AudioFadeOutMs, "fade-out ms", a.fade_out_ms);
    const auto in_range = [](Setting setting, double v) {
        const auto r = setting_range(setting);
        return v >= static_cast<double>(r.min) && v <= static_cast<double>(r.max);
    };
    if (a.loudness_lufs && !in_range(Setting::AudioLoudness, *a.loudness_lufs)) {
        const auto r = setting_range(Setting::AudioLoudness);
        bad(fmt::format("{} must be off or from {} to {} LUFS; got {}",
                        described("loudness target", Setting::AudioLoudness, names), r.min, r.max,
                        *a.loudness_lufs));
    }
    if (!in_range(Setting::AudioTruePeak, a.true_peak_dbtp)) {
        const auto r = setting_range(Setting::AudioTruePeak);
        bad(fmt::format("{} must be from {} to {} dBTP; got {}",
                        described("true-peak ceiling", Setting::AudioTruePeak, names), r.min, r.max,
                        a.true_peak_dbtp));
    }
}

}  // namespace renderer::media

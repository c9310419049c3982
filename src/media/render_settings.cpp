#include "media/render_settings.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/env.h"
#include "common/error.h"

namespace renderer::media {
namespace {

constexpr std::array<const char*, 10> kPresets = {"ultrafast", "superfast", "veryfast", "faster",
                                                  "fast",      "medium",    "slow",     "slower",
                                                  "veryslow",  "placebo"};

// Each numeric setting's range, stated once.
struct RangeRow {
    Setting setting;
    SettingRange range;
};
constexpr std::array<RangeRow, 13> kRanges = {{
    {Setting::Fps, {.min = 1, .max = 120}},
    {Setting::Crf, {.min = 0, .max = 51}},  // x264's crf scale
    {Setting::Threads, {.min = 1, .max = 64}},
    {Setting::DecodeThreads, {.min = 0, .max = 64}},  // 0: half the available CPUs, 1-4
    {Setting::AudioBitrate, {.min = 32'000, .max = 512'000}},
    {Setting::SizeSide, {.min = 16, .max = 8192}},
    {Setting::MaxFramePixels, {.min = 1, .max = std::int64_t{1} << 30}},
    // Audio finishing: a fade up to a minute; a loudness target from the quietest a meter gates
    // (-70 LUFS) to louder than any platform asks (-5); a true-peak ceiling from -9 dBTP to full
    // scale (above it the float samples could exceed full scale at the AAC encoder's input).
    {Setting::AudioFadeInMs, {.min = 0, .max = 60'000}},
    {Setting::AudioFadeOutMs, {.min = 0, .max = 60'000}},
    {Setting::AudioLoudness, {.min = -70, .max = -5}},
    {Setting::AudioTruePeak, {.min = -9, .max = 0}},
    // A keyframe from every second (seeking decodes little, the file grows) to every five
    // minutes (one long GOP: seeking decodes up to that much).
    {Setting::KeyintSec, {.min = 1, .max = 300}},
    // From a millisecond (below a frame period: every frame its own, as cfr) to a minute.
    {Setting::VfrMaxHoldMs, {.min = 1, .max = 60'000}},
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

SettingRange setting_range(Setting setting) {
    for (const auto& row : kRanges) {
        if (row.setting == setting) return row.range;
    }
    throw std::logic_error("setting_range: a setting without a range");
}

bool is_x264_preset(std::string_view name) {
    for (const auto* p : kPresets) {
        if (name == p) return true;
    }
    return false;
}

std::string x264_preset_list() { return fmt::format("{}", fmt::join(kPresets, ", ")); }

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

void validate(const RenderSettings& s, SettingNames names) {
    const auto bad = [](std::string msg) { throw Error(ErrorClass::ConfigError, std::move(msg)); };
    const auto check = [&](Setting setting, std::string_view what, std::int64_t value) {
        const auto r = setting_range(setting);
        if (value >= r.min && value <= r.max) return;
        bad(fmt::format("{} must be from {} to {}; got {}", described(what, setting, names), r.min,
                        r.max, value));
    };
    check(Setting::Fps, "fps", s.fps);
    if (!is_x264_preset(s.preset)) {
        bad(fmt::format("{} must be one of {}; got '{}'",
                        described("x264 preset", Setting::Preset, names), x264_preset_list(),
                        s.preset));
    }
    check(Setting::Crf, "crf", s.crf);
    check(Setting::Threads, "x264 threads", s.threads);
    check(Setting::KeyintSec, "keyframe interval (seconds)", s.keyint_sec);
    check(Setting::VfrMaxHoldMs, "vfr max hold (ms)", s.vfr_max_hold_ms);
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

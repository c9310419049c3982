#include "media/ffmpeg_cmd.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "media/audio_finish.h"
#include "media/encoders.h"

namespace renderer::media {
namespace {

// A path as a quoted ffconcat string: inside '…' a quote is written '\''.
std::string concat_quoted(const std::string& path) {
    std::string out = "'";
    for (const char c : path) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

std::optional<std::string> ffconcat_list(const std::vector<std::filesystem::path>& frames,
                                         int fps) {
    // Durations in microseconds (the directive takes no fractions); -r snaps them to the frame
    // grid.
    std::string out = "ffconcat version 1.0\n";
    const long long us = (1000000LL + fps / 2) / fps;
    for (const auto& f : frames) {
        const std::string path = std::filesystem::absolute(f).string();
        if (path.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos)
            return std::nullopt;
        out += fmt::format("file {}\nduration {}us\n", concat_quoted(path), us);
    }
    return out;
}

std::vector<std::string> ffmpeg_argv(const RenderRequest& req, const PreflightReport& pf,
                                     const std::filesystem::path& frame_list, double cut_seconds) {
    const auto& s = req.settings;
    const int W = pf.canvas.width, H = pf.canvas.height;
    // fit_to_canvas(): a frame one pixel short of the even canvas is placed unscaled; otherwise it
    // is scaled to fill one side with its aspect kept (the other side rounded to the nearest even
    // number of pixels, at least 2), then centred at even offsets on black.
    const std::string keep =
        fmt::format("lte(iw,{0})*lte(ih,{1})*lte({0}-iw,1)*lte({1}-ih,1)", W, H);
    const std::string wide = fmt::format("gte(iw*{1},ih*{0})", W, H);
    const std::string video_filter = fmt::format(
        "premultiply=inplace=1,"
        "scale=w='if({2},iw,if({3},{0},min({0},max(2,2*floor((iw*{1}+ih)/(2*ih))))))'"
        ":h='if({2},ih,if({3},min({1},max(2,2*floor((ih*{0}+iw)/(2*iw)))),{1}))'"
        ":flags=bicubic:out_color_matrix=bt709:out_range=tv,"
        "format=yuv420p,pad={0}:{1}:x='2*floor((ow-iw)/4)':y='2*floor((oh-ih)/4)':color=black",
        W, H, keep, wide);
    std::vector<std::string> argv = {"ffmpeg",  "-y",
                                     "-f",      "concat",
                                     "-safe",   "0",
                                     "-i",      frame_list.string(),
                                     "-i",      pf.music_path.string(),
                                     "-map",    "0:v:0",
                                     "-map",    "1:a:0",
                                     "-vf",     video_filter,
                                     "-r",      std::to_string(s.fps),
                                     "-c:v",    encoder_name(s.codec),
                                     "-preset", effective_preset(s)};
    if (s.video_bitrate > 0) {
        argv.insert(argv.end(), {"-b:v", std::to_string(s.video_bitrate)});
    } else {
        argv.insert(argv.end(), {"-crf", std::to_string(effective_crf(s))});
    }
    argv.insert(argv.end(),
                {fmt::format("-{}", codec_params_option(s.codec)), codec_params(s, pf.canvas)});
    if (s.codec == VideoCodec::Hevc) argv.insert(argv.end(), {"-tag:v", "hvc1"});
    argv.insert(argv.end(),
                {"-threads", std::to_string(s.threads), "-colorspace", "bt709", "-color_primaries",
                 "bt709", "-color_trc", "bt709", "-color_range", "tv"});
    if (s.audio.fit == AudioFit::Loop) {
        // Before the music's -i: the track repeats from its start (gapless, as the render's loop).
        const auto music = std::find(argv.begin(), argv.end(), pf.music_path.string()) - 1;
        argv.insert(music, {"-stream_loop", "-1"});
    }
    // Mono (as the track starts) to both channels at unity gain; -ac 2 would mix it at -3 dB.
    std::vector<std::string> audio_filters;
    if (pf.audio.channels == 1) audio_filters.emplace_back("pan=stereo|c0=c0|c1=c0");
    if (s.audio.fit == AudioFit::Pad) audio_filters.emplace_back("apad");
    // The render's fades, in samples, with afade's quarter-sine curve (the same curve). The
    // loudness gain is measured during the render; the `loudness` event states it (volume=GdB).
    const int rate = pf.audio.sample_rate;
    const AudioPlan plan = plan_audio(s.audio, std::llround(cut_seconds * rate),
                                      std::llround(pf.audio.duration_sec * rate), rate);
    if (plan.fade_in > 0)
        audio_filters.push_back(fmt::format("afade=t=in:ss=0:ns={}:curve=qsin", plan.fade_in));
    if (plan.fade_out > 0) {
        audio_filters.push_back(fmt::format("afade=t=out:ss={}:ns={}:curve=qsin",
                                            plan.total - plan.fade_out, plan.fade_out));
    }
    if (!audio_filters.empty())
        argv.insert(argv.end(), {"-af", fmt::format("{}", fmt::join(audio_filters, ","))});
    argv.insert(argv.end(),
                {"-ac", "2", "-ar", std::to_string(pf.audio.sample_rate), "-c:a", "aac", "-b:a",
                 std::to_string(s.audio_bitrate), "-t", fmt::format("{:.6f}", cut_seconds),
                 "-movflags", "+faststart", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                 "-flags:a", "+bitexact", pf.output_path.string()});
    return argv;
}

}  // namespace renderer::media

#include "media/ffmpeg_cmd.h"

#include <fmt/format.h>

namespace renderer::media {

std::vector<std::string> ffmpeg_argv(const RenderRequest& req, const PreflightReport& pf) {
    const auto& s = req.settings;
    std::vector<std::string> argv = {
        "ffmpeg", "-y", "-framerate", std::to_string(s.fps), "-pattern_type", "glob", "-i",
        (req.frames_dir / "*.png").string(), "-i", pf.music_path.string(), "-map", "0:v:0", "-map", "1:a:0",
        // Fit into the canvas, pad black, BT.709 limited range: what the in-process converter does.
        "-vf",
        fmt::format("scale={0}:{1}:force_original_aspect_ratio=decrease,pad={0}:{1}:(ow-iw)/2:(oh-ih)/2,"
                    "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
                    pf.canvas.width, pf.canvas.height),
        "-c:v", "libx264", "-preset", s.preset};
    if (s.video_bitrate > 0) {
        argv.insert(argv.end(), {"-b:v", std::to_string(s.video_bitrate)});
    } else {
        argv.insert(argv.end(), {"-crf", std::to_string(s.crf)});
    }
    if (!s.x264_params.empty()) argv.insert(argv.end(), {"-x264-params", s.x264_params});
    argv.insert(argv.end(), {"-threads", std::to_string(s.threads), "-colorspace", "bt709", "-color_primaries",
                             "bt709", "-color_trc", "bt709", "-color_range", "tv", "-c:a", "aac", "-b:a",
                             std::to_string(s.audio_bitrate), "-ac", "2", "-shortest", "-movflags", "+faststart",
                             "-fflags", "+bitexact", pf.output_path.string()});
    return argv;
}

}  // namespace renderer::media

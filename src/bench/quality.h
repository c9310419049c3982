// Objective quality of a rendered file against the frames it was made from: PSNR and SSIM as
// libavfilter's psnr and ssim filters compute them, in the renderer's own colour space (the
// source PNGs decoded and converted to yuv420p BT.709 limited range exactly as a render does).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "media/cancel_token.h"
#include "media/render_settings.h"

namespace renderer::bench {

struct QualityScore {
    // dB from the mean squared error over all frames, the filter's own summary method; +inf
    // when the encode is identical to its source.
    double psnr_y = 0;
    double psnr_avg = 0;  // the three planes' MSE weighted by plane size
    double ssim = 0;      // mean over frames of the filter's per-frame "All" value
    std::int64_t frames = 0;
};

// Decodes the video of `encoded` and compares the picture shown at frame i's time (i / fps) with
// `source_frames[i]`: in a cfr file decoded frame i, in a vfr file the frame holding that instant
// (DESIGN 3.2). Every decoded frame must be used, and in cfr there must be one per source frame
// (pass the frames the render kept after its cut). `decode_threads` and `max_frame_pixels` are
// those of the render. Throws Error(DecodeError) when the file cannot be read back or does not
// match the frames in number or timing.
QualityScore measure_quality(const std::filesystem::path& encoded,
                             const std::vector<std::filesystem::path>& source_frames,
                             media::FrameTiming timing, int fps, int decode_threads,
                             std::uint64_t max_frame_pixels, const media::CancelToken& cancel);

}  // namespace renderer::bench

// RGB24 image -> yuv420p frame of the canvas size, BT.709 limited range, chroma centre-sited. A
// frame of another size is fitted preserving its aspect ratio and padded with black. One
// converter per thread.
#pragma once

#include "media/av_ptr.h"
#include "media/png_decoder.h"

namespace renderer::media {

// Where both converters put each chroma sample: at the centre of its 2x2 luma block. The direct
// converter averages the block; libswscale is told the same position explicitly (it is also its
// default). Frames and the encoder are tagged with it, so the H.264 VUI says so: an untagged
// stream is read as "left" (MPEG-2 siting), half a pixel off.
inline constexpr AVChromaLocation kChromaLocation = AVCHROMA_LOC_CENTER;

// Where `location` puts a chroma sample, in 1/256 luma pixel from its 2x2 block's top-left
// sample (libav's mapping, whose home moved between FFmpeg 5 and 7). False when it has none.
bool chroma_position(AVChromaLocation location, int& x, int& y);

struct Canvas {
    int width = 0;
    int height = 0;
};

// Where a `w`x`h` image lands on the canvas: its size (scaled to even sides, or unscaled when
// it is at most one pixel short of the canvas) and even offsets.
struct Placement {
    int x = 0, y = 0, width = 0, height = 0;
};
Placement fit_to_canvas(int w, int h, Canvas canvas);

class FrameConverter {
  public:
    explicit FrameConverter(Canvas canvas) : canvas_(canvas) {}

    // A new refcounted yuv420p frame holding `image`.
    FramePtr convert(const RgbImage& image);

  private:
    FramePtr new_frame();

    Canvas canvas_;
    // Pictures come from a pool: a frame returned by the encoder is reused without the kernel
    // zeroing 3 MB of fresh pages (1080p) each time.
    BufferPoolPtr pool_;
    int pool_size_ = 0;
    SwsContextPtr sws_;
    Canvas sws_src_, sws_dst_;  // the sizes sws_ was made for
};

}  // namespace renderer::media

// RGB24 -> yuv420p with BT.709 coefficients, full-range RGB to limited-range YCbCr, chroma as the
// mean of each 2x2 block. Written out because it is the per-frame hot path: the loops are plain
// integer arithmetic that the compiler vectorises (AVX2 where the CPU has it), about 4x faster
// than libswscale's rgb24 input path (see docs/PERFORMANCE.md). Sizes may be odd.
#pragma once

#include <cstdint>

namespace renderer::media {

void rgb24_to_yuv420p_bt709(const std::uint8_t* src, int src_stride, int width, int height, std::uint8_t* const dst[3],
                            const int dst_stride[3]);

}  // namespace renderer::media

// RGB24 -> yuv420p with BT.709 coefficients, full-range RGB to limited-range YCbCr, chroma as the
// mean of each 2x2 block. Written out because it is the per-frame hot path: an AVX2 kernel does
// 16 pixels of a row pair per step, and portable integer loops do the rest (and everything on
// CPUs without AVX2). Both compute the same integer formula, so the output bytes do not depend on
// the CPU. About 8x faster than libswscale's rgb24 input path (see docs/PERFORMANCE.md). Sizes
// may be odd.
#pragma once

#include <cstdint>

namespace renderer::media {

enum class YuvKernel {
    Best,      // AVX2 when this CPU has it, else Portable
    Portable,  // plain C++ loops (which the compiler may still vectorise)
};

void rgb24_to_yuv420p_bt709(const std::uint8_t* src, int src_stride, int width, int height,
                            std::uint8_t* const dst[3], const int dst_stride[3],
                            YuvKernel kernel = YuvKernel::Best);

// Whether YuvKernel::Best uses the AVX2 kernel on this CPU.
bool yuv_kernel_has_avx2();

}  // namespace renderer::media

#include "media/rgb_to_yuv.h"

#include <algorithm>
#include <vector>

namespace renderer::media {
namespace {

// BT.709 in 14-bit fixed point, scaled for 8-bit limited range (Y 16..235, C 16..240):
//   Y  = 16  + 0.18259 R + 0.61423 G + 0.06201 B
//   Cb = 128 - 0.10064 R - 0.33857 G + 0.43922 B
//   Cr = 128 + 0.43922 R - 0.39894 G - 0.04027 B
constexpr int kYR = 2992, kYG = 10063, kYB = 1016;
constexpr int kUR = -1649, kUG = -5547, kUB = 7196;
constexpr int kVR = 7196, kVG = -6536, kVB = -660;
constexpr int kYOffset = (16 << 14) + (1 << 13);
// Chroma coefficients apply to sums of four pixels: two more bits of shift.
constexpr int kCOffset = (128 << 16) + (1 << 15);

[[gnu::target_clones("avx2", "default")]] void luma_row(const std::uint8_t* __restrict rgb, std::uint8_t* __restrict y,
                                                        int width) {
    for (int x = 0; x < width; ++x) {
        const int r = rgb[3 * x], g = rgb[3 * x + 1], b = rgb[3 * x + 2];
        y[x] = static_cast<std::uint8_t>((kYR * r + kYG * g + kYB * b + kYOffset) >> 14);
    }
}

// Vertical sums of a row pair, deinterleaved: r[x] = a.R[x] + b.R[x] …
[[gnu::target_clones("avx2", "default")]] void pair_sums(const std::uint8_t* __restrict a,
                                                         const std::uint8_t* __restrict b, std::int16_t* __restrict r,
                                                         std::int16_t* __restrict g, std::int16_t* __restrict bl,
                                                         int width) {
    for (int x = 0; x < width; ++x) {
        r[x] = static_cast<std::int16_t>(a[3 * x] + b[3 * x]);
        g[x] = static_cast<std::int16_t>(a[3 * x + 1] + b[3 * x + 1]);
        bl[x] = static_cast<std::int16_t>(a[3 * x + 2] + b[3 * x + 2]);
    }
}

// Chroma from the sums of horizontal pairs: one sample per 2x2 block.
[[gnu::target_clones("avx2", "default")]] void chroma_row(const std::int16_t* __restrict r,
                                                          const std::int16_t* __restrict g,
                                                          const std::int16_t* __restrict bl, std::uint8_t* __restrict u,
                                                          std::uint8_t* __restrict v, int pairs) {
    for (int x = 0; x < pairs; ++x) {
        const int r4 = r[2 * x] + r[2 * x + 1], g4 = g[2 * x] + g[2 * x + 1], b4 = bl[2 * x] + bl[2 * x + 1];
        u[x] = static_cast<std::uint8_t>((kUR * r4 + kUG * g4 + kUB * b4 + kCOffset) >> 16);
        v[x] = static_cast<std::uint8_t>((kVR * r4 + kVG * g4 + kVB * b4 + kCOffset) >> 16);
    }
}

}  // namespace

void rgb24_to_yuv420p_bt709(const std::uint8_t* src, int src_stride, int width, int height, std::uint8_t* const dst[3],
                            const int dst_stride[3]) {
    // An odd last column is paired with itself: the sums get one extra, duplicated entry.
    const int padded = width + (width & 1);
    thread_local std::vector<std::int16_t> sums;
    sums.resize(static_cast<std::size_t>(padded) * 3);
    std::int16_t* r = sums.data();
    std::int16_t* g = r + padded;
    std::int16_t* b = g + padded;
    for (int y = 0; y < height; y += 2) {
        const std::uint8_t* row0 = src + static_cast<std::ptrdiff_t>(y) * src_stride;
        // An odd last row is paired with itself.
        const std::uint8_t* row1 = y + 1 < height ? row0 + src_stride : row0;
        luma_row(row0, dst[0] + static_cast<std::ptrdiff_t>(y) * dst_stride[0], width);
        if (y + 1 < height) luma_row(row1, dst[0] + static_cast<std::ptrdiff_t>(y + 1) * dst_stride[0], width);
        pair_sums(row0, row1, r, g, b, width);
        if (padded != width) {
            r[width] = r[width - 1];
            g[width] = g[width - 1];
            b[width] = b[width - 1];
        }
        chroma_row(r, g, b, dst[1] + static_cast<std::ptrdiff_t>(y / 2) * dst_stride[1],
                   dst[2] + static_cast<std::ptrdiff_t>(y / 2) * dst_stride[2], padded / 2);
    }
}

}  // namespace renderer::media

#include "media/rgb_to_yuv.h"

// The AVX2 kernel exists on x86 only; elsewhere (arm64) and with -DRENDERER_NO_AVX2 (to test that
// build on x86) the portable loops do every row, with the same bytes.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(RENDERER_NO_AVX2)
#define RENDERER_HAVE_AVX2_KERNEL 1
#include <immintrin.h>
#else
#define RENDERER_HAVE_AVX2_KERNEL 0
#endif

#include <vector>

namespace renderer::media {
namespace {

// BT.709 in 14-bit fixed point, scaled for 8-bit limited range (Y 16..235, C 16..240):
//   Y  = 16  + 0.18259 R + 0.61423 G + 0.06201 B
//   Cb = 128 - 0.10064 R - 0.33857 G + 0.43922 B
//   Cr = 128 + 0.43922 R - 0.39894 G - 0.04027 B
// Every coefficient fits in int16, which the AVX2 kernel's multiply-adds rely on.
constexpr int kYR = 2992, kYG = 10063, kYB = 1016;
constexpr int kUR = -1649, kUG = -5547, kUB = 7196;
constexpr int kVR = 7196, kVG = -6536, kVB = -660;
constexpr int kYOffset = (16 << 14) + (1 << 13);
// Chroma coefficients apply to sums of four pixels: two more bits of shift.
constexpr int kCOffset = (128 << 16) + (1 << 15);
// Every sum before a shift is positive, so >> and the kernel's arithmetic shift agree.

// Portable loops: the tail of each row pair after the AVX2 kernel, and whole rows elsewhere.
void luma_row(const std::uint8_t* __restrict rgb, std::uint8_t* __restrict y, int width) {
    for (int x = 0; x < width; ++x) {
        const int r = rgb[3 * x], g = rgb[3 * x + 1], b = rgb[3 * x + 2];
        y[x] = static_cast<std::uint8_t>((kYR * r + kYG * g + kYB * b + kYOffset) >> 14);
    }
}

// Vertical sums of a row pair, deinterleaved: r[x] = a.R[x] + b.R[x] …
void pair_sums(const std::uint8_t* __restrict a, const std::uint8_t* __restrict b,
               std::int16_t* __restrict r, std::int16_t* __restrict g, std::int16_t* __restrict bl,
               int width) {
    for (int x = 0; x < width; ++x) {
        r[x] = static_cast<std::int16_t>(a[3 * x] + b[3 * x]);
        g[x] = static_cast<std::int16_t>(a[3 * x + 1] + b[3 * x + 1]);
        bl[x] = static_cast<std::int16_t>(a[3 * x + 2] + b[3 * x + 2]);
    }
}

// Chroma from the sums of horizontal pairs: one sample per 2x2 block.
void chroma_row(const std::int16_t* __restrict r, const std::int16_t* __restrict g,
                const std::int16_t* __restrict bl, std::uint8_t* __restrict u,
                std::uint8_t* __restrict v, int pairs) {
    for (int x = 0; x < pairs; ++x) {
        const int r4 = r[2 * x] + r[2 * x + 1], g4 = g[2 * x] + g[2 * x + 1],
                  b4 = bl[2 * x] + bl[2 * x + 1];
        u[x] = static_cast<std::uint8_t>((kUR * r4 + kUG * g4 + kUB * b4 + kCOffset) >> 16);
        v[x] = static_cast<std::uint8_t>((kVR * r4 + kVG * g4 + kVB * b4 + kCOffset) >> 16);
    }
}

// One row pair from pixel `x0` on (x0 even). `row1` may equal `row0` (an odd last row), and
// `y1` is null then. An odd last column is paired with itself.
void portable_pair(const std::uint8_t* row0, const std::uint8_t* row1, int x0, int width,
                   std::uint8_t* y0, std::uint8_t* y1, std::uint8_t* u, std::uint8_t* v) {
    const int n = width - x0;
    if (n <= 0) return;
    luma_row(row0 + 3 * x0, y0 + x0, n);
    if (y1) luma_row(row1 + 3 * x0, y1 + x0, n);
    const int padded = n + (n & 1);
    thread_local std::vector<std::int16_t> sums;
    sums.resize(static_cast<std::size_t>(padded) * 3);
    std::int16_t* r = sums.data();
    std::int16_t* g = r + padded;
    std::int16_t* b = g + padded;
    pair_sums(row0 + 3 * x0, row1 + 3 * x0, r, g, b, n);
    if (padded != n) {
        r[n] = r[n - 1];
        g[n] = g[n - 1];
        b[n] = b[n - 1];
    }
    chroma_row(r, g, b, u + x0 / 2, v + x0 / 2, padded / 2);
}

// --- AVX2 ---------------------------------------------------------------------------------------
#if RENDERER_HAVE_AVX2_KERNEL

#define RENDERER_AVX2 [[gnu::target("avx2")]]

struct Planes16 {
    __m256i r, g, b;  // 16 pixels, one channel each, as int16
};

// One channel of 16 packed RGB pixels: three byte shuffles gather its bytes from the three
// 16-byte loads (a shuffle index with the top bit set writes zero).
RENDERER_AVX2 inline __m128i gather(__m128i a, __m128i b, __m128i c, __m128i ma, __m128i mb,
                                    __m128i mc) {
    return _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, ma), _mm_shuffle_epi8(b, mb)),
                        _mm_shuffle_epi8(c, mc));
}

// 16 packed RGB pixels (48 bytes) into three channel vectors.
RENDERER_AVX2 inline Planes16 load16(const std::uint8_t* p) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
    constexpr char z = -128;
    const __m128i r =
        gather(a, b, c, _mm_setr_epi8(0, 3, 6, 9, 12, 15, z, z, z, z, z, z, z, z, z, z),
               _mm_setr_epi8(z, z, z, z, z, z, 2, 5, 8, 11, 14, z, z, z, z, z),
               _mm_setr_epi8(z, z, z, z, z, z, z, z, z, z, z, 1, 4, 7, 10, 13));
    const __m128i g =
        gather(a, b, c, _mm_setr_epi8(1, 4, 7, 10, 13, z, z, z, z, z, z, z, z, z, z, z),
               _mm_setr_epi8(z, z, z, z, z, 0, 3, 6, 9, 12, 15, z, z, z, z, z),
               _mm_setr_epi8(z, z, z, z, z, z, z, z, z, z, z, 2, 5, 8, 11, 14));
    const __m128i bl =
        gather(a, b, c, _mm_setr_epi8(2, 5, 8, 11, 14, z, z, z, z, z, z, z, z, z, z, z),
               _mm_setr_epi8(z, z, z, z, z, 1, 4, 7, 10, 13, z, z, z, z, z, z),
               _mm_setr_epi8(z, z, z, z, z, z, z, z, z, z, 0, 3, 6, 9, 12, 15));
    return {_mm256_cvtepu8_epi16(r), _mm256_cvtepu8_epi16(g), _mm256_cvtepu8_epi16(bl)};
}

// Two int16 coefficients as the (low, high) halves of each int32 lane, for _mm256_madd_epi16.
RENDERER_AVX2 inline __m256i coeff_pair(int lo, int hi) {
    return _mm256_set1_epi32(
        static_cast<int>((static_cast<std::uint32_t>(hi) << 16) | (lo & 0xffff)));
}

// The 8 low bytes of each 128-bit lane, as one 16-byte vector.
RENDERER_AVX2 inline __m128i low_halves(__m256i v) {
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(v, 0x08));
}

// Luma of 8 pixels from (r, g) and (b, 0) int16 pairs: int32 results, shifted.
RENDERER_AVX2 inline __m256i luma8(__m256i r_g, __m256i b_0) {
    const __m256i sum = _mm256_add_epi32(_mm256_madd_epi16(r_g, coeff_pair(kYR, kYG)),
                                         _mm256_madd_epi16(b_0, coeff_pair(kYB, 0)));
    return _mm256_srai_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(kYOffset)), 14);
}

RENDERER_AVX2 inline void store_luma16(const Planes16& p, std::uint8_t* y) {
    const __m256i zero = _mm256_setzero_si256();
    // unpacklo/hi work within 128-bit lanes: pixels 0-3 and 8-11, then 4-7 and 12-15. The pack
    // interleaves them back into 0-15.
    const __m256i lo = luma8(_mm256_unpacklo_epi16(p.r, p.g), _mm256_unpacklo_epi16(p.b, zero));
    const __m256i hi = luma8(_mm256_unpackhi_epi16(p.r, p.g), _mm256_unpackhi_epi16(p.b, zero));
    const __m256i y16 = _mm256_packs_epi32(lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), low_halves(_mm256_packus_epi16(y16, y16)));
}

// One chroma plane of 8 blocks from (r4, g4) int16 pairs and b4 as int32.
RENDERER_AVX2 inline __m256i chroma8(__m256i r4g4, __m256i b4, int cr, int cg, int cb) {
    const __m256i sum = _mm256_add_epi32(_mm256_madd_epi16(r4g4, coeff_pair(cr, cg)),
                                         _mm256_madd_epi16(b4, coeff_pair(cb, 0)));
    return _mm256_srai_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(kCOffset)), 16);
}

// 8 chroma samples of each plane from 16 pixels of two rows.
RENDERER_AVX2 inline void store_chroma8(const Planes16& p0, const Planes16& p1, std::uint8_t* u,
                                        std::uint8_t* v) {
    const __m256i ones = _mm256_set1_epi16(1);
    // Vertical sums, then horizontal pairs: one int32 per 2x2 block, in order, at most 1020.
    const __m256i r4 = _mm256_madd_epi16(_mm256_add_epi16(p0.r, p1.r), ones);
    const __m256i g4 = _mm256_madd_epi16(_mm256_add_epi16(p0.g, p1.g), ones);
    const __m256i b4 = _mm256_madd_epi16(_mm256_add_epi16(p0.b, p1.b), ones);
    // (r4, g4) as the two int16 halves of each int32, for one multiply-add.
    const __m256i r4g4 = _mm256_or_si256(r4, _mm256_slli_epi32(g4, 16));
    // Lanes after the packs: U0-3 V0-3 | U4-7 V4-7; the shuffle makes it U0-7 V0-7.
    const __m256i uv16 =
        _mm256_packs_epi32(chroma8(r4g4, b4, kUR, kUG, kUB), chroma8(r4g4, b4, kVR, kVG, kVB));
    const __m128i uv =
        _mm_shuffle_epi8(low_halves(_mm256_packus_epi16(uv16, uv16)),
                         _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(u), uv);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(v), _mm_srli_si128(uv, 8));
}

// The whole 16-pixel blocks of a row pair; returns how many pixels it did.
RENDERER_AVX2 int avx2_pair(const std::uint8_t* row0, const std::uint8_t* row1, int width,
                            std::uint8_t* y0, std::uint8_t* y1, std::uint8_t* u, std::uint8_t* v) {
    const int blocks = width / 16 * 16;
    for (int x = 0; x < blocks; x += 16) {
        const Planes16 p0 = load16(row0 + 3 * x);
        const Planes16 p1 = load16(row1 + 3 * x);
        store_luma16(p0, y0 + x);
        if (y1) store_luma16(p1, y1 + x);
        store_chroma8(p0, p1, u + x / 2, v + x / 2);
    }
    return blocks;
}

bool cpu_has_avx2() {
    static const bool has = __builtin_cpu_supports("avx2");
    return has;
}
#else
bool cpu_has_avx2() { return false; }
int avx2_pair(const std::uint8_t*, const std::uint8_t*, int, std::uint8_t*, std::uint8_t*,
              std::uint8_t*, std::uint8_t*) {
    return 0;
}
#endif

}  // namespace

bool yuv_kernel_has_avx2() { return cpu_has_avx2(); }

void rgb24_to_yuv420p_bt709(const std::uint8_t* src, int src_stride, int width, int height,
                            std::uint8_t* const dst[3], const int dst_stride[3], YuvKernel kernel) {
    const bool avx2 = kernel == YuvKernel::Best && cpu_has_avx2();
    for (int y = 0; y < height; y += 2) {
        const std::uint8_t* row0 = src + static_cast<std::ptrdiff_t>(y) * src_stride;
        // An odd last row is paired with itself.
        const bool has_row1 = y + 1 < height;
        const std::uint8_t* row1 = has_row1 ? row0 + src_stride : row0;
        std::uint8_t* y0 = dst[0] + static_cast<std::ptrdiff_t>(y) * dst_stride[0];
        std::uint8_t* y1 = has_row1 ? y0 + dst_stride[0] : nullptr;
        std::uint8_t* u = dst[1] + static_cast<std::ptrdiff_t>(y / 2) * dst_stride[1];
        std::uint8_t* v = dst[2] + static_cast<std::ptrdiff_t>(y / 2) * dst_stride[2];
        const int done = avx2 ? avx2_pair(row0, row1, width, y0, y1, u, v) : 0;
        portable_pair(row0, row1, done, width, y0, y1, u, v);
    }
}

}  // namespace renderer::media

// PNG decoding: the libdeflate fast path agrees with libspng byte for byte, rejects corruption,
// and hands other types to libspng; the BT.709 converter produces the textbook values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/error.h"
#include "media/png_decoder.h"
#include "media/rgb_to_yuv.h"
#include "support/fixtures.h"
#include "support/png_writer.h"

namespace renderer::testing {
namespace {

using media::RgbImage;

// Photographic-ish content: gradients plus noise, so the encoder uses every filter type.
std::vector<std::uint8_t> pattern(int w, int h, int channels, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * channels);
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            for (int c = 0; c < channels; ++c) {
                const int v = (x * (c + 1) * 3 + y * 2 + static_cast<int>(rng() % 24)) & 0xff;
                px[(static_cast<std::size_t>(y) * w + x) * channels + c] =
                    static_cast<std::uint8_t>(c == 3 ? 255 - v / 2 : v);
            }
        }
    }
    return px;
}

std::vector<std::uint8_t> packed_rgb(const RgbImage& img) {
    std::vector<std::uint8_t> out;
    for (int y = 0; y < img.height; ++y) {
        const auto* row = img.data() + static_cast<std::ptrdiff_t>(y) * img.stride;
        out.insert(out.end(), row, row + img.width * 3);
    }
    return out;
}

class PngDecoderTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(PngDecoderTest, FastPathMatchesLibspng) {
    const auto [channels, all_filters] = GetParam();
    TempDir t;
    const auto path = t / "f.png";
    write_png_pixels(path, 77, 41, channels, pattern(77, 41, channels, 7), all_filters);
    const auto bytes = read_file_bytes(path);
    const auto fast = media::decode_png_fast(bytes, "f.png", 1 << 20);
    ASSERT_TRUE(fast.has_value()) << "8-bit RGB/RGBA must take the fast path";
    const auto reference = media::decode_png_spng(bytes, "f.png", 1 << 20);
    EXPECT_EQ(fast->width, 77);
    EXPECT_EQ(fast->height, 41);
    EXPECT_EQ(packed_rgb(*fast), packed_rgb(reference));
}

INSTANTIATE_TEST_SUITE_P(Types, PngDecoderTest,
                         ::testing::Combine(::testing::Values(3, 4),
                                            ::testing::Values(false, true)));

class PngCorruptionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        write_png_pixels(t_ / "f.png", 64, 32, 3, pattern(64, 32, 3, 3), true);
        bytes_ = read_file_bytes(t_ / "f.png");
    }
    void expect_decode_error(const std::vector<std::uint8_t>& b, const std::string& what) {
        try {
            media::decode_png(b, "f.png", 1 << 20);
            FAIL() << "decoded corrupt data";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::DecodeError);
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("f.png"), std::string::npos) << "names the frame";
        }
    }
    TempDir t_;
    std::vector<std::uint8_t> bytes_;
};

TEST_F(PngCorruptionTest, BadCrc) {
    auto b = bytes_;
    b[b.size() / 2] ^= 0x55;  // inside IDAT
    expect_decode_error(b, "CRC");
}

TEST_F(PngCorruptionTest, Truncated) {
    expect_decode_error(
        std::vector<std::uint8_t>(bytes_.begin(), bytes_.begin() + bytes_.size() / 2), "corrupt");
}

TEST_F(PngCorruptionTest, TooManyPixels) {
    try {
        media::decode_png(bytes_, "f.png", 100);
        FAIL();
    } catch (const Error& e) {
        // media names no env var: the configuration layer names the setting (preflight's message).
        EXPECT_NE(std::string(e.what()).find("64x32 exceeds the pixel limit of 100"),
                  std::string::npos)
            << e.what();
    }
}

TEST(PngTypes, OtherTypesFallBackToLibspng) {
    TempDir t;
    for (const auto kind : {PngKind::Gray8, PngKind::Gray16, PngKind::Palette, PngKind::Rgb16,
                            PngKind::Rgb8Interlaced}) {
        write_png(t / "g.png", 9, 7, kind, Rgb{200, 100, 50});
        const auto bytes = read_file_bytes(t / "g.png");
        EXPECT_FALSE(media::decode_png_fast(bytes, "g.png", 1 << 20).has_value());
        const auto img = media::decode_png(bytes, "g.png", 1 << 20);
        EXPECT_EQ(img.width, 9);
        EXPECT_EQ(img.height, 7);
    }
}

TEST(RgbToYuv, TextbookBt709ValuesAndOddSizes) {
    struct Case {
        std::uint8_t r, g, b;
        int y, u, v;
    };
    // Limited range BT.709: white 235/128/128, black 16/128/128, red 63/102/240, green 173/42/26,
    // blue 32/240/118.
    const Case cases[] = {{255, 255, 255, 235, 128, 128},
                          {0, 0, 0, 16, 128, 128},
                          {255, 0, 0, 63, 102, 240},
                          {0, 255, 0, 173, 42, 26},
                          {0, 0, 255, 32, 240, 118}};
    for (const auto& c : cases) {
        const int w = 37, h = 3;  // odd: edge pairs with itself; two 16-pixel blocks and a tail
        std::vector<std::uint8_t> rgb;
        for (int i = 0; i < w * h; ++i) rgb.insert(rgb.end(), {c.r, c.g, c.b});
        std::vector<std::uint8_t> y(w * h), u(19 * 2), v(19 * 2);
        std::uint8_t* dst[3] = {y.data(), u.data(), v.data()};
        const int stride[3] = {w, 19, 19};
        media::rgb24_to_yuv420p_bt709(rgb.data(), w * 3, w, h, dst, stride);
        for (const auto p : y) EXPECT_NEAR(p, c.y, 1);
        for (const auto p : u) EXPECT_NEAR(p, c.u, 1);
        for (const auto p : v) EXPECT_NEAR(p, c.v, 1);
    }
}

TEST(RgbToYuv, Avx2KernelMatchesThePortableLoopsByteForByte) {
    if (!media::yuv_kernel_has_avx2())
        GTEST_SKIP() << "this CPU has no AVX2: only the portable loops run";
    // Widths around the 16-pixel block (and 1080p's), odd heights, padded strides: any
    // difference would make the output depend on the CPU.
    for (const int w : {1, 2, 15, 16, 17, 31, 33, 48, 1920}) {
        for (const int h : {1, 2, 3, 8}) {
            const int src_stride = w * 3 + 5;
            const auto rgb = pattern(src_stride, h, 1, static_cast<unsigned>(w * 31 + h));
            const int cw = (w + 1) / 2, ch = (h + 1) / 2;
            const int stride[3] = {w + 3, cw + 1, cw + 2};
            auto convert = [&](media::YuvKernel kernel) {
                std::vector<std::uint8_t> y(stride[0] * h, 0xaa), u(stride[1] * ch, 0xaa),
                    v(stride[2] * ch, 0xaa);
                std::uint8_t* dst[3] = {y.data(), u.data(), v.data()};
                media::rgb24_to_yuv420p_bt709(rgb.data(), src_stride, w, h, dst, stride, kernel);
                return std::vector<std::vector<std::uint8_t>>{y, u, v};
            };
            EXPECT_EQ(convert(media::YuvKernel::Best), convert(media::YuvKernel::Portable))
                << w << "x" << h;
        }
    }
}

TEST(Png16Bit, EverySixteenBitValueDecodesToTheNearestEightBitOne) {
    // All 65 536 gray levels in one 256x256 image: each must come out as round(v * 255 / 65535),
    // not the high byte (which is one too low for a quarter of them, a -0.5 LSB bias).
    png::Image img{.width = 256, .height = 256, .color_type = png::Gray, .bit_depth = 16};
    for (int v = 0; v < 65536; ++v) img.samples.push_back(static_cast<std::uint16_t>(v));
    const auto bytes = png::serialize(png::chunks(img, {}));
    const auto decoded = media::decode_png(bytes, "g16.png", 1 << 20);
    int wrong = 0;
    for (int v = 0; v < 65536; ++v) {
        const auto want = static_cast<std::uint8_t>(std::lround(v * 255.0 / 65535.0));
        const auto* px = decoded.data() + (v / 256) * decoded.stride + (v % 256) * 3;
        if (px[0] != want || px[1] != want || px[2] != want) {
            if (++wrong <= 3)
                ADD_FAILURE() << v << " -> " << int{px[0]} << ", nearest is " << int{want};
        }
    }
    EXPECT_EQ(wrong, 0);
}

TEST(Png16Bit, CompositingOverBlackRoundsOnceFromSixteenBits) {
    // composite16(c, a) against 255 * c/65535 * a/65535 in floating point: every c at the alpha
    // values where errors would show (0, 1, half, almost opaque, opaque), then random pairs.
    const auto nearest = [](std::uint32_t c, std::uint32_t a) {
        return static_cast<int>(std::lround(255.0 * (c / 65535.0) * (a / 65535.0)));
    };
    for (const std::uint32_t a : {0u, 1u, 257u, 32767u, 32768u, 65534u, 65535u}) {
        for (std::uint32_t c = 0; c < 65536; ++c) {
            ASSERT_EQ(
                media::composite16(static_cast<std::uint16_t>(c), static_cast<std::uint16_t>(a)),
                nearest(c, a))
                << "c=" << c << " a=" << a;
        }
    }
    std::mt19937 rng(5);
    for (int i = 0; i < 1000000; ++i) {
        const std::uint32_t c = rng() & 0xffff, a = rng() & 0xffff;
        ASSERT_EQ(media::composite16(static_cast<std::uint16_t>(c), static_cast<std::uint16_t>(a)),
                  nearest(c, a))
            << "c=" << c << " a=" << a;
    }
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// A frame the disk fails to read (EIO: /proc/self/mem at offset 0 is a real one from the
// kernel) is the filesystem's fault, transient: IoError, retried, not the PreflightError of a
// bad PNG. Likewise a frame preflight read that is gone when the render reads it (a story
// re-uploaded meanwhile): IoError, not the DecodeError of a corrupt PNG that fails the job.
TEST(InputReads, ReadErrorsAreIoErrors) {
    try {
        media::read_png_header("/proc/self/mem", 1 << 20);  // preflight's read of each frame
        FAIL() << "reading /proc/self/mem at offset 0 should fail with EIO";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::IoError) << e.what();
        EXPECT_NE(std::string(e.what()).find("Input/output error"), std::string::npos) << e.what();
    }
    TempDir t;
    try {
        read_file_bytes(t / "gone.png");  // the render's read of each frame
        FAIL() << "a missing file was read";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::IoError) << e.what();
    }
}

}  // namespace
}  // namespace renderer::testing

// What reaches the MP4 from a frame: 16-bit samples rounded (not truncated) to 8 bits, chroma
// sited where the stream says it is, and a damaged frame refused on every decoder path. Renders
// are real and reopened with libavformat/libavcodec; lossless x264 (qp=0) where exact pixel
// values are compared.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
}

#include "common/error.h"
#include "media/frame_converter.h"
#include "media/rgb_to_yuv.h"
#include "media/slideshow.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/png_writer.h"
#include "support/test_request.h"

namespace renderer::testing {
namespace {

class FrameFidelityTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        fs::create_directories(tmp_ / "out");
        fs::create_directories(tmp_ / "music");
        fs::copy_file(testdata() / "audio/music/background.mp3", tmp_ / "music/background.mp3");
    }

    media::RenderRequest request(const fs::path& frames) {
        return test_request(tmp_.path(), frames);
    }

    media::RenderResult render(const media::RenderRequest& r) {
        media::CancelToken cancel;
        return media::render_slideshow(
            r, log::Context({{"story_id", r.story_id}, {"part_id", r.part_id}}), cancel);
    }

    static void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    }

    TempDir tmp_;
    std::shared_ptr<CaptureSink> logs_;
};

// Y, Cb, Cr our converter gives a uniform 8-bit colour.
std::array<int, 3> yuv_of(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    const std::uint8_t rgb[12] = {r, g, b, r, g, b, r, g, b, r, g, b};
    std::uint8_t y[4], u[1], v[1];
    std::uint8_t* dst[3] = {y, u, v};
    const int stride[3] = {2, 1, 1};
    media::rgb24_to_yuv420p_bt709(rgb, 6, 2, 2, dst, stride);
    return {y[0], u[0], v[0]};
}

TEST_F(FrameFidelityTest, SixteenBitFramesRoundToTheNearestEightBitValue) {
    // Each sample sits above the midpoint between two 8-bit values, where truncating to the high
    // byte (what libspng's RGB8 output does) gives one less than rounding: 25850/257 = 100.58,
    // 13030/257 = 50.70, 4312/257 = 16.78.
    const std::uint16_t rgb16[3] = {25850, 13030, 4312};
    const auto rounded = yuv_of(101, 51, 17);
    ASSERT_NE(rounded[0], yuv_of(100, 50, 16)[0])
        << "the colour must tell rounding from truncation";

    png::Image img{.width = 64, .height = 36, .color_type = png::Rgb, .bit_depth = 16};
    for (int i = 0; i < 64 * 36; ++i) img.samples.insert(img.samples.end(), rgb16, rgb16 + 3);
    fs::create_directories(tmp_ / "frames");
    for (int i = 1; i <= 6; ++i) {
        write_bytes(tmp_ / "frames" / ("frame_" + std::to_string(i) + ".png"),
                    png::serialize(png::chunks(img, {})));
    }
    auto r = request(tmp_ / "frames");
    r.settings.x264_params = "qp=0";  // lossless: the decoded frame is exactly what was encoded
    const auto out = render(r);

    const auto means = decode_video_means(out.path);
    ASSERT_EQ(means.size(), 6u);
    for (const auto& m : means) {
        EXPECT_EQ(m.y, rounded[0]);
        EXPECT_EQ(m.u, rounded[1]);
        EXPECT_EQ(m.v, rounded[2]);
    }
}

TEST_F(FrameFidelityTest, TheStreamDeclaresCentreSitedChroma) {
    // Both converters put each chroma sample at the centre of its 2x2 luma block (the next
    // test shows it); the H.264 VUI must say so, or players assume "left" (MPEG-2) and shift
    // colour edges by half a pixel. One 64x36 frame takes the direct converter, the 30x30 ones
    // are fitted by libswscale.
    fs::create_directories(tmp_ / "frames");
    write_png(tmp_ / "frames/frame_1.png", 64, 36, PngKind::Rgb8, Rgb{200, 40, 40});
    for (int i = 2; i <= 4; ++i) {
        write_png(tmp_ / "frames" / ("frame_" + std::to_string(i) + ".png"), 30, 30, PngKind::Rgb8,
                  Rgb{40, 200, 40});
    }
    const auto out = render(request(tmp_ / "frames"));
    const auto siting = video_chroma_location(out.path);
    EXPECT_EQ(siting.stream, "center");
    EXPECT_EQ(siting.frame, "center");
}

// Where the chroma samples of a converted frame really sit. The image is a ramp (red rising
// left to right, blue top to bottom), so each siting libav names (left, center, topleft, top,
// bottomleft, bottom) predicts different Cb/Cr values; the one that predicts the converter's
// output best is where it puts chroma. A `w`x`h` image on a canvas of its own size takes our
// converter; any other canvas, libswscale (bicubic), fitted where fit_to_canvas places it.
AVChromaLocation measured_siting(int w, int h, media::Canvas canvas) {
    // x, y in source pixels; 10-234 and 20-228 across the image, whatever its size.
    const auto red = [w](double x) { return 10 + 224 * x / w; };
    const auto blue = [h](double y) { return 20 + 208 * y / h; };
    constexpr double kGreen = 100;
    media::RgbImage img{.width = w, .height = h, .stride = w * 3};
    img.storage.resize(static_cast<std::size_t>(w) * h * 3);
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            auto* p = img.storage.data() + (y * w + x) * 3;
            p[0] = static_cast<std::uint8_t>(std::lround(red(x)));
            p[1] = static_cast<std::uint8_t>(kGreen);
            p[2] = static_cast<std::uint8_t>(std::lround(blue(y)));
        }
    }
    media::FrameConverter converter(canvas);
    const auto frame = converter.convert(img);
    const auto placed = media::fit_to_canvas(w, h, canvas);
    const double x_scale = static_cast<double>(w) / placed.width;  // source pixels per canvas pixel
    const double y_scale = static_cast<double>(h) / placed.height;

    // BT.709 limited range from full-range RGB, in floating point.
    const auto cb = [](double r, double g, double b) {
        return 128 - 0.10064 * r - 0.33857 * g + 0.43922 * b;
    };
    const auto cr = [](double r, double g, double b) {
        return 128 + 0.43922 * r - 0.39894 * g - 0.04027 * b;
    };
    AVChromaLocation best = AVCHROMA_LOC_UNSPECIFIED;
    double best_error = 1e9;
    for (int loc = AVCHROMA_LOC_LEFT; loc <= AVCHROMA_LOC_BOTTOM; ++loc) {
        int xpos = 0,
            ypos = 0;  // of the chroma sample, in 1/256 luma pixel from its block's top-left sample
        EXPECT_TRUE(media::chroma_position(static_cast<AVChromaLocation>(loc), xpos, ypos));
        double error = 0;
        int n = 0;
        // Interior samples of the placed picture only: the bicubic filter clamps at the edges.
        for (int j = 2; j < placed.height / 2 - 2; ++j) {
            for (int i = 2; i < placed.width / 2 - 2; ++i) {
                // Canvas pixels from the picture's top-left, then source pixels.
                const double cx = 2 * i + xpos / 256.0, cy = 2 * j + ypos / 256.0;
                const double sx = (cx + 0.5) * x_scale - 0.5, sy = (cy + 0.5) * y_scale - 0.5;
                const int row = placed.y / 2 + j, col = placed.x / 2 + i;
                error += std::abs(frame->data[1][row * frame->linesize[1] + col] -
                                  cb(red(sx), kGreen, blue(sy)));
                error += std::abs(frame->data[2][row * frame->linesize[2] + col] -
                                  cr(red(sx), kGreen, blue(sy)));
                n += 2;
            }
        }
        error /= n;
        std::printf("  %dx%d on %dx%d (placed %dx%d), %-10s mean |error| %.2f\n", w, h,
                    canvas.width, canvas.height, placed.width, placed.height,
                    av_chroma_location_name(static_cast<AVChromaLocation>(loc)), error);
        if (error < best_error) {
            best_error = error;
            best = static_cast<AVChromaLocation>(loc);
        }
    }
    EXPECT_LT(best_error, 1.0) << "the converter's chroma fits no siting: wrong coefficients?";
    return best;
}

// `scale` 1 uses our converter, 2 libswscale.
AVChromaLocation measured_siting(int scale) {
    constexpr int kW = 32, kH = 16;
    return measured_siting(kW, kH, media::Canvas{kW * scale, kH * scale});
}

TEST(ChromaSiting, OurConverterSitsChromaAtTheBlockCentre) {
    EXPECT_STREQ(av_chroma_location_name(measured_siting(1)), "center");
}

TEST(ChromaSiting, LibswscaleSitsChromaAtTheBlockCentreToo) {
    EXPECT_STREQ(av_chroma_location_name(measured_siting(2)), "center");
}

TEST(ChromaSiting, LibswscaleSitsChromaAtTheBlockCentreWhateverTheFittedSize) {
    // Scaled down, and fitted to an odd size (32x16 on a 15x16 canvas: 15x8 before; 16x32 on
    // 16x15: 8x15). libswscale spreads ceil(n/2) chroma samples over the whole picture, as if
    // it were one pixel larger, so an odd fitted size put chroma up to half a pixel off centre
    // (measured "left" and "top").
    EXPECT_STREQ(av_chroma_location_name(measured_siting(64, 32, media::Canvas{32, 16})), "center");
    EXPECT_STREQ(av_chroma_location_name(measured_siting(32, 16, media::Canvas{30, 16})), "center");
    EXPECT_STREQ(av_chroma_location_name(measured_siting(16, 32, media::Canvas{16, 30})), "center");
    EXPECT_STREQ(av_chroma_location_name(measured_siting(64, 32, media::Canvas{30, 16})), "center");
}

TEST_F(FrameFidelityTest, AOneBitGrayFrameWithABadIdatCrcFailsTheRender) {
    // The case: libspng's path rendered it (exit 0) because it stopped reading after
    // the last scanline, before the last IDAT's CRC; the fast path and libpng refuse it.
    fs::create_directories(tmp_ / "frames");
    write_png(tmp_ / "frames/frame_1.png", 32, 32, PngKind::Gray8, Rgb{90, 90, 90});
    auto chunks = png::chunks(png::random_image(32, 32, png::Gray, 1, 7), {});
    chunks[png::index_of(chunks, "IDAT")].bad_crc = true;
    write_bytes(tmp_ / "frames/frame_2.png", png::serialize(chunks));
    write_png(tmp_ / "frames/frame_3.png", 32, 32, PngKind::Gray8, Rgb{90, 90, 90});
    try {
        render(request(tmp_ / "frames"));
        FAIL() << "rendered a frame with a corrupt IDAT";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::DecodeError) << e.what();
        EXPECT_NE(std::string(e.what()).find("frame_2.png"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty()) << "nothing half-written";
}

}  // namespace
}  // namespace renderer::testing

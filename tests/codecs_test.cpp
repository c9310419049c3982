// HEVC and AV1 output (DESIGN 3.3) beside H.264: each codec rendered for real and reopened with
// libavformat (codec, tag, profile, colour tags, duration, faststart), byte determinism per
// codec, the codec in the render cache key, and the settings' refusals (exit 64 from the CLI,
// 78 from the environment) naming the valid values.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"
#include "media/probe.h"
#include "media/render_settings.h"
#include "media/slideshow.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/mp4_boxes.h"
#include "support/process.h"
#include "support/test_request.h"

namespace renderer::testing {
namespace {

using media::VideoCodec;

constexpr int kFrames = 30;  // 1 s at 30 fps

struct CodecCase {
    VideoCodec codec;
    const char* preset;  // a fast one: the test is about the plumbing, not the compression
    const char* name;    // as libavcodec names the codec
    const char* tag;     // the MP4 sample entry
};
const CodecCase kCases[] = {
    {VideoCodec::H264, "ultrafast", "h264", "avc1"},
    {VideoCodec::Hevc, "ultrafast", "hevc", "hvc1"},
    {VideoCodec::Av1, "12", "av1", "av01"},
};

class CodecsTest : public ::testing::TestWithParam<CodecCase> {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        fs::create_directories(tmp_ / "music");
        fs::copy_file(testdata() / "audio/music/background.mp3", tmp_ / "music/background.mp3");
        // SVT-AV1 wants at least 64 lines; 128x72 keeps every encoder's block grid partial.
        write_textured_frames(tmp_ / "frames", kFrames, 128, 72);
    }

    media::RenderResult render(const std::string& out_dir, bool use_cache = false,
                               int threads = 2) {
        media::RenderRequest r = test_request(tmp_.path(), tmp_ / "frames");
        r.output_dir = tmp_ / out_dir;
        fs::create_directories(r.output_dir);
        r.settings.codec = GetParam().codec;
        r.settings.preset = GetParam().preset;
        r.settings.use_cache = use_cache;
        r.settings.threads = threads;
        media::CancelToken cancel;
        return media::render_slideshow(
            r, log::Context({{"story_id", r.story_id}, {"part_id", r.part_id}}), cancel);
    }

    TempDir tmp_;
    std::shared_ptr<CaptureSink> logs_;
};

TEST_P(CodecsTest, RendersTaggedVideoThatReopens) {
    const auto r = render("out");
    const auto info = media::probe_file(r.path, media::InputPolicy::Artifact);
    const auto* v = first_stream(info, "video");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->codec, GetParam().name);
    EXPECT_EQ(v->codec_tag, GetParam().tag);
    EXPECT_FALSE(v->profile.empty());
    EXPECT_EQ(v->width, 128);
    EXPECT_EQ(v->height, 72);
    EXPECT_EQ(v->pix_fmt, "yuv420p");
    EXPECT_EQ(v->color_space, "bt709");
    EXPECT_EQ(v->color_range, "tv");
    EXPECT_EQ(v->color_primaries, "bt709");
    EXPECT_EQ(v->color_transfer, "bt709");
    EXPECT_EQ(v->frames, kFrames);
    EXPECT_NEAR(v->duration_sec, 1.0, 1e-6);
    const auto* a = first_stream(info, "audio");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->codec, "aac");
    // Every frame decodes, and the texture survived (not a flat grey picture).
    const auto means = decode_video_means(r.path);
    ASSERT_EQ(means.size(), static_cast<std::size_t>(kFrames));
    // +faststart: the movie box comes before the media data.
    const auto boxes = top_level_boxes(read_text(r.path));
    std::vector<std::string> order;
    for (const auto& b : boxes) order.push_back(b.type);
    const auto moov = std::find(order.begin(), order.end(), "moov");
    const auto mdat = std::find(order.begin(), order.end(), "mdat");
    ASSERT_NE(moov, order.end());
    ASSERT_NE(mdat, order.end());
    EXPECT_LT(moov - order.begin(), mdat - order.begin());
}

// Threads are fixed by configuration (x264 threads, x265 pools and frame-threads, SVT-AV1 lp),
// so two renders of the same inputs give the same bytes; with the production default of 3
// threads (x265: 2 frame threads) as with 1.
TEST_P(CodecsTest, SameInputsGiveTheSameBytes) {
    for (const int threads : {1, 3}) {
        const auto first = render(fmt::format("one_t{}", threads), false, threads);
        const auto second = render(fmt::format("two_t{}", threads), false, threads);
        EXPECT_EQ(read_text(first.path), read_text(second.path))
            << GetParam().name << " with " << threads << " threads";
    }
}

// The cache key holds the codec: a render of the same frames in another codec to the same path
// is not a cache hit, and the same codec again is.
TEST_P(CodecsTest, CacheKeyHoldsTheCodec) {
    const auto first = render("out", true);
    ASSERT_FALSE(first.cache_hit);
    EXPECT_TRUE(render("out", true).cache_hit);
    media::RenderRequest other = test_request(tmp_.path(), tmp_ / "frames");
    other.output_dir = tmp_ / "out";
    other.settings.codec =
        GetParam().codec == VideoCodec::H264 ? VideoCodec::Hevc : VideoCodec::H264;
    other.settings.preset = "ultrafast";
    media::CancelToken cancel;
    const auto r = media::render_slideshow(
        other, log::Context({{"story_id", other.story_id}, {"part_id", other.part_id}}), cancel);
    EXPECT_FALSE(r.cache_hit);
    // The probe kept alive while its stream is read.
    const auto info = media::probe_file(r.path, media::InputPolicy::Artifact);
    const auto* v = first_stream(info, "video");
    ASSERT_NE(v, nullptr);
    EXPECT_NE(v->codec, GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecsTest, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// The message of validate()'s refusal, or "" when the settings pass.
std::string refusal(const media::RenderSettings& s) {
    try {
        media::validate(s);
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
        return e.what();
    }
    return "";
}

TEST(CodecSettings, EachCodecHasItsPresetsAndCrfRange) {
    media::RenderSettings s;
    s.codec = VideoCodec::Av1;
    s.preset = "veryfast";
    const auto wrong_codec = refusal(s);
    EXPECT_NE(wrong_codec.find("0 to 13"), std::string::npos) << wrong_codec;
    EXPECT_NE(wrong_codec.find("a preset of h264"), std::string::npos) << wrong_codec;
    s.preset = "13";
    EXPECT_EQ(refusal(s), "");
    s.preset = "14";
    EXPECT_NE(refusal(s).find("0 to 13"), std::string::npos);
    s.preset = "08";  // one spelling per preset
    EXPECT_NE(refusal(s), "");
    s.preset.reset();
    s.crf = 0;
    const auto av1_crf = refusal(s);
    EXPECT_NE(av1_crf.find("for av1 must be from 1 to 63"), std::string::npos) << av1_crf;
    s.crf = 63;
    EXPECT_EQ(refusal(s), "");

    s.codec = VideoCodec::Hevc;
    s.crf = 52;
    EXPECT_NE(refusal(s).find("for hevc must be from 0 to 51"), std::string::npos);
    s.crf = 0;
    s.preset = "8";
    const auto hevc_preset = refusal(s);
    EXPECT_NE(hevc_preset.find("placebo"), std::string::npos) << hevc_preset;
    EXPECT_NE(hevc_preset.find("a preset of av1"), std::string::npos) << hevc_preset;

    EXPECT_EQ(media::parse_video_codec("av1"), VideoCodec::Av1);
    EXPECT_FALSE(media::parse_video_codec("vp9"));
    try {
        media::parse_video_codec_setting("VIDEO_CODEC", "vp9");
        FAIL() << "vp9 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
        EXPECT_NE(std::string(e.what()).find("h264, hevc, av1"), std::string::npos) << e.what();
    }
}

// A preset or crf set for one codec does not carry to another chosen later; the new codec's
// defaults apply.
TEST(CodecSettings, SwitchingCodecDropsTheOtherCodecsPresetAndCrf) {
    media::RenderSettings s;
    s.preset = "veryfast";
    s.crf = 20;
    media::use_codec(s, VideoCodec::Av1);
    EXPECT_EQ(media::effective_preset(s), "8");
    EXPECT_EQ(media::effective_crf(s), 35);
    EXPECT_EQ(refusal(s), "");
    media::use_codec(s, VideoCodec::Hevc);
    EXPECT_EQ(media::effective_preset(s), "medium");
    EXPECT_EQ(media::effective_crf(s), 24);
}

class CodecsCliTest : public ::testing::Test {
  protected:
    RunResult render(std::vector<std::string> args,
                     std::vector<std::pair<std::string, std::string>> env = {}) {
        std::vector<std::string> argv = {renderer_bin(), "render",
                                         "--frames",     (tmp_ / "frames").string(),
                                         "--story",      "s",
                                         "--part",       "p",
                                         "--music-dir",  (testdata() / "audio/music").string(),
                                         "--output",     (tmp_ / "out").string(),
                                         "--json-logs"};
        argv.insert(argv.end(), args.begin(), args.end());
        env.emplace_back("MIN_FREE_BYTES", "1M");
        return run_process(argv, env);
    }
    void SetUp() override {
        write_textured_frames(tmp_ / "frames", 10, 128, 72);
        fs::create_directories(tmp_ / "out");
    }
    TempDir tmp_;
};

TEST_F(CodecsCliTest, BadCodecPresetOrCrfIsAUsageErrorNamingTheValidValues) {
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"--codec", "vp9"}, {"--codec", "h264, hevc, av1"}},
        {{"--codec", "av1", "--preset", "veryfast"}, {"--preset", "0 to 13", "a preset of h264"}},
        {{"--codec", "hevc", "--preset", "5"}, {"--preset", "ultrafast", "a preset of av1"}},
        {{"--codec", "hevc", "--crf", "52"}, {"--crf", "hevc", "0 to 51"}},
        {{"--codec", "av1", "--crf", "0"}, {"--crf", "av1", "1 to 63"}},
        {{"--codec", "av1", "--crf", "64"}, {"--crf", "av1", "1 to 63"}},
    };
    for (const auto& [args, words] : cases) {
        const auto r = render(args);
        EXPECT_EQ(r.exit_code, 64) << fmt::format("{}", fmt::join(args, " ")) << r.out << r.err;
        for (const auto& w : words) {
            EXPECT_NE((r.out + r.err).find(w), std::string::npos) << w << " in " << r.out << r.err;
        }
        EXPECT_TRUE(dir_entries(tmp_ / "out").empty()) << "nothing half-written";
    }
}

TEST_F(CodecsCliTest, BadCodecInTheEnvironmentIsAConfigError) {
    const auto unknown = render({}, {{"VIDEO_CODEC", "h266"}});
    EXPECT_EQ(unknown.exit_code, 78) << unknown.out << unknown.err;
    EXPECT_NE(unknown.out.find("VIDEO_CODEC must be one of h264, hevc, av1"), std::string::npos)
        << unknown.out;
    // An h264 preset beside VIDEO_CODEC=av1 in the same environment: refused, naming both.
    const auto mixed = render({}, {{"VIDEO_CODEC", "av1"}, {"X264_PRESET", "veryfast"}});
    EXPECT_EQ(mixed.exit_code, 78) << mixed.out << mixed.err;
    EXPECT_NE(mixed.out.find("X264_PRESET"), std::string::npos) << mixed.out;
    EXPECT_NE(mixed.out.find("a preset of h264, not of av1"), std::string::npos) << mixed.out;
}

// A libavcodec built without the codec's encoder (the real binary, with an LD_PRELOAD shim that
// hides libsvtav1 from avcodec_find_encoder_by_name): a ConfigError (exit 78) naming the codec
// and the encoder, before any output exists; the other codecs still render.
TEST_F(CodecsCliTest, AMissingEncoderIsAConfigError) {
    const char* shim = std::getenv("RENDERER_HIDE_ENCODER_SO");
    ASSERT_NE(shim, nullptr) << "meson sets RENDERER_HIDE_ENCODER_SO";
    // Under AddressSanitizer (scripts/sanitize.sh) the preloaded shim comes before the ASan
    // runtime, which ASan refuses unless told that the order is intended.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::vector<std::pair<std::string, std::string>> env = {
        {"LD_PRELOAD", shim},
        {"RENDERER_TEST_HIDE_ENCODER", "libsvtav1"},
        {"ASAN_OPTIONS", std::string(asan != nullptr ? asan : "") + ":verify_asan_link_order=0"}};
    const auto r = render({"--codec", "av1"}, env);
    EXPECT_EQ(r.exit_code, 78) << r.out << r.err;
    EXPECT_NE(r.out.find("ConfigError"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("codec av1 needs the libsvtav1 encoder"), std::string::npos) << r.out;
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty()) << "nothing written";
    const auto h264 = render({"--codec", "h264", "--preset", "ultrafast"}, env);
    EXPECT_EQ(h264.exit_code, 0) << h264.out << h264.err;
}

TEST_F(CodecsCliTest, CodecFlagRendersHevcTaggedHvc1) {
    const auto r = render({"--codec", "hevc", "--preset", "ultrafast", "--crf", "30"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto files = dir_entries(tmp_ / "out");
    ASSERT_EQ(files.size(), 1u);
    const auto info = media::probe_file(tmp_ / "out" / files.front(), media::InputPolicy::Artifact);
    const auto* v = first_stream(info, "video");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->codec, "hevc");
    EXPECT_EQ(v->codec_tag, "hvc1");
}

// x265 3.5's SIMD cu-tree propagation writes past a lookahead row narrower than 4 blocks (a
// canvas up to 48 pixels wide) and corrupts the heap: glibc aborted these renders with exit 134
// ("corrupted size vs. prev_size"), at any thread count. 64x64 is the first safe width beside.
TEST_F(CodecsCliTest, HevcOnANarrowCanvasRenders) {
    for (const char* size : {"40x30", "42x30", "64x64"}) {
        fs::remove_all(tmp_ / "out");
        fs::create_directories(tmp_ / "out");
        const auto r =
            render({"--codec", "hevc", "--preset", "ultrafast", "--size", size, "--threads", "8"});
        ASSERT_EQ(r.exit_code, 0) << size << r.out << r.err;
        const auto files = dir_entries(tmp_ / "out");
        ASSERT_EQ(files.size(), 1u) << size;
        const auto info =
            media::probe_file(tmp_ / "out" / files.front(), media::InputPolicy::Artifact);
        const auto* v = first_stream(info, "video");
        ASSERT_NE(v, nullptr);
        EXPECT_EQ(v->codec, "hevc");
    }
}

}  // namespace
}  // namespace renderer::testing

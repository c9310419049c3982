// End-to-end renders of real media, reopened with libavformat/libavcodec.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "common/error.h"
#include "media/ffmpeg_cmd.h"
#include "media/preflight.h"
#include "media/probe.h"
#include "media/render_key.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/mp4_boxes.h"
#include "support/test_request.h"

extern "C" {
#include <libavutil/cpu.h>
}

namespace renderer::testing {
namespace {

using media::RenderRequest;

class SlideshowTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        fs::create_directories(tmp_ / "out");
        fs::create_directories(tmp_ / "music");
        fs::copy_file(testdata() / "audio/music/background.mp3", tmp_ / "music/background.mp3");
    }

    RenderRequest request(const fs::path& frames, const std::string& track = "background.mp3") {
        RenderRequest r = test_request(tmp_.path(), frames);
        r.story_id = "S45";
        r.part_id = "P2";
        r.music_select = "named:" + track;
        return r;
    }

    void add_track(const std::string& from, const std::string& as) {
        fs::copy_file(testdata() / from, tmp_ / "music" / as, fs::copy_options::overwrite_existing);
    }

    media::RenderResult render(const RenderRequest& r) {
        media::CancelToken cancel;
        return media::render_slideshow(
            r, log::Context({{"story_id", r.story_id}, {"part_id", r.part_id}}), cancel);
    }

    TempDir tmp_;
    std::shared_ptr<CaptureSink> logs_;
};

constexpr double kFrame = 1.0 / 30;
constexpr double kAacFrame = 1024.0 / 44100;

TEST_F(SlideshowTest, AudioLongerThanFramesCutsAudioToTheFrames) {
    write_frames(tmp_ / "frames", 60, 64, 36);  // 2.0 s at 30 fps; the track is 4 s
    const auto r = render(request(tmp_ / "frames"));

    EXPECT_EQ(r.path, tmp_ / "out/S45_P2.mp4");
    EXPECT_EQ(r.frames, 60);
    EXPECT_EQ(r.audio_track, "background.mp3");
    const auto info = media::probe_file(r.path);
    EXPECT_EQ(info.size_bytes, r.bytes);
    ASSERT_EQ(info.streams.size(), 2u);
    ASSERT_EQ(count_streams(info, "video"), 1);
    ASSERT_EQ(count_streams(info, "audio"), 1);
    const auto* v = first_stream(info, "video");
    const auto* a = first_stream(info, "audio");
    EXPECT_EQ(v->codec, "h264");
    EXPECT_EQ(a->codec, "aac");
    EXPECT_EQ(v->frames, 60);
    EXPECT_NEAR(v->duration_sec, 2.0, kFrame);
    EXPECT_NEAR(a->duration_sec, 2.0, kAacFrame);
    EXPECT_NEAR(info.duration_sec, 2.0, kFrame);
    EXPECT_NEAR(r.duration_ms, 2000, 34);

    const auto audio = decode_audio(r.path);
    EXPECT_EQ(audio.channels, 2);
    EXPECT_EQ(audio.sample_rate, 44100);
    EXPECT_NEAR(static_cast<double>(audio.samples), 2.0 * 44100, 1024 * 2);  // + AAC priming
    EXPECT_GT(audio.peak, 0.05) << "audio must not be silence";
}

TEST_F(SlideshowTest, AudioShorterThanFramesCutsVideoToTheAudio) {
    add_track("media/short_1s.mp3", "short.mp3");
    write_frames(tmp_ / "frames", 60, 64, 36);  // 2.0 s of frames, 1.0 s of music
    const auto r = render(request(tmp_ / "frames", "short.mp3"));
    const auto info = media::probe_file(r.path);
    const auto* v = first_stream(info, "video");
    const auto* a = first_stream(info, "audio");
    EXPECT_EQ(v->frames, 30);
    EXPECT_EQ(r.frames, 30);
    EXPECT_NEAR(v->duration_sec, 1.0, kFrame);
    EXPECT_NEAR(a->duration_sec, 1.0, kAacFrame);
    EXPECT_NEAR(info.duration_sec, 1.0, kFrame);
}

TEST_F(SlideshowTest, CoverArtInTheMp3IsIgnored) {
    add_track("media/cover_art.mp3", "cover.mp3");
    write_frames(tmp_ / "frames", 15, 64, 36);
    const auto r = render(request(tmp_ / "frames", "cover.mp3"));
    const auto info = media::probe_file(r.path);
    EXPECT_EQ(info.streams.size(), 2u);
    EXPECT_EQ(count_streams(info, "video"), 1);
    EXPECT_EQ(first_stream(info, "video")->codec, "h264");
    EXPECT_FALSE(first_stream(info, "video")->attached_pic);
}

TEST_F(SlideshowTest, MonoLowRateMusicBecomesStereoAac) {
    add_track("media/mono_8k.mp3", "mono.mp3");
    write_frames(tmp_ / "frames", 15, 64, 36);
    const auto r = render(request(tmp_ / "frames", "mono.mp3"));
    const auto audio = decode_audio(r.path);
    EXPECT_EQ(audio.channels, 2);
    EXPECT_EQ(audio.sample_rate, 8000);
}

TEST_F(SlideshowTest, OddSizedFramesAreRoundedUpToEven) {
    write_frames(tmp_ / "frames", 10, 65, 37);
    const auto r = render(request(tmp_ / "frames"));
    EXPECT_EQ(r.width, 66);
    EXPECT_EQ(r.height, 38);
    const auto info = media::probe_file(r.path);
    EXPECT_EQ(first_stream(info, "video")->width, 66);
    EXPECT_EQ(first_stream(info, "video")->height, 38);
}

TEST_F(SlideshowTest, MixedSizesAreFittedAndPaddedBlack) {
    fs::create_directories(tmp_ / "frames");
    const Rgb white{255, 255, 255};
    write_png(tmp_ / "frames/f1.png", 64, 64, PngKind::Rgb8, white);  // canvas 64x64
    write_png(tmp_ / "frames/f2.png", 64, 32, PngKind::Rgb8, white);  // half the height: black bars
    write_png(tmp_ / "frames/f3.png", 128, 128, PngKind::Rgb8,
              white);  // larger: scaled down, fills
    const auto r = render(request(tmp_ / "frames"));
    EXPECT_EQ(r.width, 64);
    EXPECT_EQ(r.height, 64);
    const auto means = decode_video_means(r.path);
    ASSERT_EQ(means.size(), 3u);
    EXPECT_NEAR(means[0].y, 235, 4);               // white, limited range
    EXPECT_NEAR(means[1].y, (235 + 16) / 2.0, 8);  // half white, half black padding
    EXPECT_NEAR(means[2].y, 235, 4);
}

// Every PNG type decodes to the same colour; alpha is composited over black.
TEST_F(SlideshowTest, EveryPngTypeRendersWithBt709Colours) {
    const Rgb red{255, 0, 0};
    struct Case {
        PngKind kind;
        std::uint8_t alpha;
        double y, u, v;  // expected BT.709 limited-range means
    };
    // Red in BT.709 limited range: Y = 16 + 219 * 0.2126 = 62.6, Cb = 102.0, Cr = 240.0.
    const Case cases[] = {
        {PngKind::Rgb8, 255, 62.6, 102.0, 240.0},
        {PngKind::Rgb8Interlaced, 255, 62.6, 102.0, 240.0},
        {PngKind::Rgb16, 255, 62.6, 102.0, 240.0},
        {PngKind::Palette, 255, 62.6, 102.0, 240.0},
        {PngKind::Rgba8, 255, 62.6, 102.0, 240.0},
        {PngKind::Rgba8, 0, 16.0, 128.0, 128.0},  // fully transparent -> black
        {PngKind::Gray8, 255, 16 + 219 * (54 / 255.0), 128.0, 128.0},
        {PngKind::Gray16, 255, 16 + 219 * (54 / 255.0), 128.0, 128.0},
        {PngKind::GrayAlpha8, 255, 16 + 219 * (54 / 255.0), 128.0, 128.0},
    };
    int n = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(n);
        const fs::path dir = tmp_ / ("frames" + std::to_string(n++));
        fs::create_directories(dir);
        for (int i = 1; i <= 3; ++i)
            write_png(dir / ("f" + std::to_string(i) + ".png"), 32, 32, c.kind, red, c.alpha);
        auto req = request(dir);
        req.part_id = "P" + std::to_string(n);
        const auto r = render(req);
        const auto means = decode_video_means(r.path);
        ASSERT_EQ(means.size(), 3u);
        EXPECT_NEAR(means[0].y, c.y, 3);
        EXPECT_NEAR(means[0].u, c.u, 3);
        EXPECT_NEAR(means[0].v, c.v, 3);
        const auto info = media::probe_file(r.path);
        EXPECT_EQ(first_stream(info, "video")->color_space, "bt709");
        EXPECT_EQ(first_stream(info, "video")->color_range, "tv");
    }
}

TEST_F(SlideshowTest, FramesAreInNaturalOrder) {
    fs::create_directories(tmp_ / "frames");
    // f1..f12 with rising brightness: byte order would put f10 before f2.
    for (int i = 1; i <= 12; ++i) {
        const auto g = static_cast<std::uint8_t>(i * 20);
        write_png(tmp_ / "frames" / ("f" + std::to_string(i) + ".png"), 32, 32, PngKind::Rgb8,
                  Rgb{g, g, g});
    }
    auto req = request(tmp_ / "frames");
    req.settings.crf = 10;
    const auto means = decode_video_means(render(req).path);
    ASSERT_EQ(means.size(), 12u);
    for (std::size_t i = 1; i < means.size(); ++i)
        EXPECT_GT(means[i].y, means[i - 1].y + 5) << "frame " << i;
}

TEST_F(SlideshowTest, IdenticalInputsGiveIdenticalBytes) {
    fs::copy(testdata() / "stories/demo/part1/frames", tmp_ / "frames");
    auto req = request(tmp_ / "frames");
    req.settings.preset = "veryfast";
    req.settings.threads = 3;
    const auto first = read_text(render(req).path);
    fs::remove(tmp_ / "out/S45_P2.mp4");
    const auto second = read_text(render(req).path);
    ASSERT_FALSE(first.empty());
    EXPECT_TRUE(first == second) << "two renders of the same input differ";
}

// Leaves `fill` in freed heap blocks of many sizes, from a few bytes to past glibc's mmap
// threshold, so that code reading memory it never wrote sees other bytes after each call.
void scribble_freed_heap(std::uint8_t fill) {
    std::vector<void*> blocks;
    for (std::size_t size = 16; size <= (4u << 20); size = size * 9 / 8 + 16) {
        for (int copies = 0; copies < 3; ++copies) {
            void* b = std::malloc(size);
            std::memset(b, fill, size);
            asm volatile(""
                         :
                         : "r"(b)
                         : "memory");  // the stores must happen although b is freed unread
            blocks.push_back(b);
        }
    }
    for (void* b : blocks) std::free(b);
}

// A worker renders job after job in one process, and a re-render after a lost lease must
// publish the bytes the first render would have. libx264's AVX-512 mbtree kernel read heap
// memory it never wrote when a frame's width is not a multiple of 128 pixels, so a render's
// bytes depended on what earlier renders left in the heap (the load test's 7.5 % of differing
// files). Small frames at a preset with mbtree, several widths, the heap scribbled between renders.
TEST_F(SlideshowTest, RendersInOneProcessGiveIdenticalBytesWhateverTheHeapHolds) {
    for (const auto& [w, h] : {std::pair{64, 36}, std::pair{320, 180}, std::pair{144, 64}}) {
        const auto frames = tmp_ / fmt::format("frames_{}x{}", w, h);
        write_textured_frames(frames, 24, w, h);
        auto req = request(frames);
        req.settings.preset = "veryfast";  // mbtree on, as at every preset from veryfast to placebo
        req.settings.threads = 3;
        req.settings.use_cache = false;
        const std::string first = read_bytes(render(req).path);
        ASSERT_FALSE(first.empty());
        for (const std::uint8_t fill : {0x00, 0xff, 0x5a, 0x00, 0x81}) {
            scribble_freed_heap(fill);
            EXPECT_TRUE(read_bytes(render(req).path) == first)
                << w << "x" << h << ": a render after the heap held 0x" << std::hex << int{fill}
                << " differs from the first";
        }
    }
}

// Workers of a fleet run on different CPUs and share one output dir: a job re-rendered on
// another machine must give the bytes the first one published. x264's SIMD kernels for
// macroblock-tree rate control round differently from its C code, so x264 runs with
// cpu-independent; asm=0 stands in for a machine with no SIMD at all. The media data are
// compared: the moov's render key names the settings, and X264_PARAMS are settings.
TEST_F(SlideshowTest, X264OutputDoesNotDependOnTheSimdItUses) {
    const auto mdat = [](const std::string& file) {
        for (const auto& box : top_level_boxes(file)) {
            if (box.type == "mdat") return file.substr(box.offset, box.size);
        }
        return std::string();
    };
    write_textured_frames(tmp_ / "frames", 24, 320, 180);
    auto req = request(tmp_ / "frames");
    req.settings.preset = "veryfast";
    req.settings.use_cache = false;
    const std::string native = mdat(read_bytes(render(req).path));
    ASSERT_FALSE(native.empty());
    req.settings.x264_params = "asm=0";
    EXPECT_TRUE(mdat(read_bytes(render(req).path)) == native)
        << "x264 without SIMD gave other bytes";
}

TEST_F(SlideshowTest, TrackSelectionIsDeterministic) {
    add_track("media/short_1s.mp3", "a.mp3");
    add_track("media/short_1s.mp3", "z.mp3");
    const auto dir = tmp_ / "music";
    // first: byte order ("a.mp3" < "background.mp3" < "z.mp3").
    EXPECT_EQ(media::choose_track(dir, "first", "S1").filename(), "a.mp3");
    EXPECT_EQ(media::choose_track(dir, "named:z.mp3", "S1").filename(), "z.mp3");
    // hash: stable per story, and the stories spread over the tracks.
    std::set<std::string> picked;
    for (int i = 0; i < 30; ++i) {
        const auto id = "story-" + std::to_string(i);
        const auto t = media::choose_track(dir, "hash", id);
        EXPECT_EQ(t, media::choose_track(dir, "hash", id));
        picked.insert(t.filename().string());
    }
    EXPECT_EQ(picked.size(), 3u);

    write_frames(tmp_ / "frames", 5, 32, 32);
    auto req = request(tmp_ / "frames");
    req.music_select = "named:z.mp3";
    EXPECT_EQ(render(req).audio_track, "z.mp3");
}

TEST_F(SlideshowTest, LogsPreflightAndFfmpegCmdWithIds) {
    write_frames(tmp_ / "frames", 5, 32, 32);
    render(request(tmp_ / "frames"));
    const auto pre = logs_->events("preflight");
    ASSERT_EQ(pre.size(), 1u);
    EXPECT_STREQ(pre[0]["story_id"].GetString(), "S45");
    EXPECT_STREQ(pre[0]["part_id"].GetString(), "P2");
    EXPECT_EQ(pre[0]["frame_count"].GetInt(), 5);
    EXPECT_STREQ(pre[0]["chosen_track"].GetString(), "background.mp3");
    const auto cmd = logs_->events("ffmpeg_cmd");
    ASSERT_EQ(cmd.size(), 1u);
    ASSERT_TRUE(cmd[0]["argv"].IsArray());
    EXPECT_STREQ(cmd[0]["argv"][0].GetString(), "ffmpeg");
    const std::string joined = logs_->joined();
    EXPECT_NE(joined.find("\"-t\""), std::string::npos) << "the exact cut, not -shortest";
    EXPECT_NE(joined.find("\"1:a:0\""), std::string::npos);
}

TEST_F(SlideshowTest, CancelledRenderLeavesNothing) {
    write_frames(tmp_ / "frames", 30, 64, 36);
    media::CancelToken cancel;
    cancel.cancel(ErrorClass::LeaseLost);
    try {
        media::render_slideshow(request(tmp_ / "frames"), log::Context{}, cancel);
        FAIL() << "expected LeaseLost";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::LeaseLost);
    }
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
}

TEST_F(SlideshowTest, ClosedPublishGateLeavesNothing) {
    write_frames(tmp_ / "frames", 10, 64, 36);
    media::CancelToken cancel;
    try {
        media::render_slideshow(request(tmp_ / "frames"), log::Context{}, cancel, {},
                                [] { return false; });
        FAIL() << "expected LeaseLost";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::LeaseLost);
    }
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
}

TEST_F(SlideshowTest, ProgressIsReportedToTheEnd) {
    write_frames(tmp_ / "frames", 20, 32, 32);
    media::CancelToken cancel;
    media::Progress last;
    media::render_slideshow(request(tmp_ / "frames"), log::Context{}, cancel,
                            [&](const media::Progress& p) { last = p; });
    EXPECT_EQ(last.frames_done, 20);
    EXPECT_EQ(last.frames_total, 20);
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

TEST_F(SlideshowTest, RenderCacheAnswersAnUnchangedJobWithoutEncoding) {
    write_frames(tmp_ / "frames", 12, 32, 32);
    auto req = request(tmp_ / "frames");
    const auto first = render(req);
    EXPECT_FALSE(first.cache_hit);
    const auto mtime = fs::last_write_time(first.path);
    const auto bytes = read_text(first.path);

    const auto again = render(req);
    EXPECT_TRUE(again.cache_hit);
    EXPECT_EQ(again.bytes, first.bytes);
    EXPECT_EQ(again.duration_ms, first.duration_ms);
    EXPECT_EQ(fs::last_write_time(first.path), mtime) << "a cache hit must not rewrite the file";
    EXPECT_EQ(logs_->events("cache_hit").size(), 1u);

    // Any change in a frame's content is a miss, and the new render has the new content.
    write_png(tmp_ / "frames/frame_7.png", 32, 32, PngKind::Rgb8, Rgb{250, 250, 250});
    EXPECT_FALSE(render(req).cache_hit);
    // So are other settings, and --no-cache always encodes.
    req.settings.crf = 30;
    EXPECT_FALSE(render(req).cache_hit);
    EXPECT_TRUE(render(req).cache_hit);
    req.settings.use_cache = false;
    EXPECT_FALSE(render(req).cache_hit);
    EXPECT_NE(read_text(first.path), bytes);
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// With +faststart the key sits in the moov box at the front: a file cut short keeps it. A hit
// must prove the file whole.
TEST_F(SlideshowTest, RenderCacheRefusesATruncatedArtifact) {
    write_frames(tmp_ / "frames", 12, 32, 32);
    const auto req = request(tmp_ / "frames");
    const auto first = render(req);
    const std::string whole = read_text(first.path);

    fs::resize_file(first.path, whole.size() - 100);  // the end of mdat is gone
    const auto again = render(req);
    EXPECT_FALSE(again.cache_hit) << "a truncated artifact answered as a cache hit";
    EXPECT_TRUE(read_text(first.path) == whole) << "the re-render restores the same bytes";
}

// Cut short and with the mdat box's size patched to match: the boxes add up, but packets the
// moov lists are missing.
TEST_F(SlideshowTest, RenderCacheCountsThePackets) {
    write_frames(tmp_ / "frames", 12, 32, 32);
    const auto req = request(tmp_ / "frames");
    const auto first = render(req);
    std::string cut = read_text(first.path);
    const auto boxes = top_level_boxes(cut);
    ASSERT_EQ(boxes.back().type, "mdat");
    ASSERT_EQ(boxes.back().offset + boxes.back().size, cut.size());
    const std::size_t drop = 600;
    cut.resize(cut.size() - drop);
    const auto mdat_size = static_cast<std::uint32_t>(boxes.back().size - drop);
    for (int i = 0; i < 4; ++i)
        cut[boxes.back().offset + static_cast<std::size_t>(i)] =
            static_cast<char>(mdat_size >> (24 - 8 * i));
    write_bytes(first.path, cut);

    EXPECT_FALSE(render(req).cache_hit) << "an artifact missing packets answered as a cache hit";
}

// The renderer's own code shapes the bytes more than any library (this very branch changed the
// cut, the padding of damaged tracks...), yet its version string stays "0.1.0" across builds:
// during a rolling deploy old and new workers would take each other's artifacts. The key names
// the running executable's build by its content.
TEST(RenderKey, NamesTheRunningRendererBuild) {
    const std::string libs = media::render_key_libraries();
    const std::string self = fmt::format("{:016x}", media::file_content_hash("/proc/self/exe"));
    EXPECT_NE(libs.find("build " + self), std::string::npos) << libs;
}

TEST(RenderKey, NamesTheEncoderAndConverterBuilds) {
    const std::string libs = media::render_key_libraries();
    EXPECT_NE(libs.find("x264 core "), std::string::npos)
        << libs;  // libx264's own ident, e.g. "core 164 r3095 baee400"
    EXPECT_NE(libs.find("swscale " + std::to_string(swscale_version())), std::string::npos) << libs;
    EXPECT_NE(libs.find("swresample " + std::to_string(swresample_version())), std::string::npos)
        << libs;
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// The debug command reproduces the render's inputs: its own frame list (natural order, any case
// of .png), the exact cut, the canvas.
TEST_F(SlideshowTest, FfmpegCmdListsTheRenderedFramesAndTheExactCut) {
    add_track("media/short_1s.mp3", "short.mp3");
    fs::create_directories(tmp_ / "frames");
    for (const char* name : {"f10.png", "f2.PNG", "f1.png"})
        write_png(tmp_ / "frames" / name, 32, 32, PngKind::Rgb8, Rgb{});
    for (int i = 11; i <= 40; ++i)
        write_png(tmp_ / "frames" / ("f" + std::to_string(i) + ".png"), 32, 32, PngKind::Rgb8,
                  Rgb{});
    auto req = request(tmp_ / "frames", "short.mp3");
    req.libav_report_path = tmp_ / "ffreport.log";
    render(req);
    const auto cmd = logs_->events("ffmpeg_cmd");
    ASSERT_EQ(cmd.size(), 1u);
    std::vector<std::string> argv;
    for (const auto& a : cmd[0]["argv"].GetArray()) argv.emplace_back(a.GetString());
    const auto after = [&](const std::string& flag) {
        const auto it = std::find(argv.begin(), argv.end(), flag);
        return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : std::string();
    };
    EXPECT_EQ(after("-f"), "concat");
    EXPECT_EQ(after("-t"), "1.000000") << "the music (1 s) is shorter than the 33 frames";
    EXPECT_EQ(after("-ar"), "44100");
    const fs::path list = after("-i");
    EXPECT_EQ(list, fs::path(tmp_ / "ffreport.log.ffconcat"));
    const std::string text = read_text(list);
    const auto f1 = text.find("/f1.png'"), f2 = text.find("/f2.PNG'"), f10 = text.find("/f10.png'");
    ASSERT_NE(f2, std::string::npos) << text;
    EXPECT_LT(f1, f2);
    EXPECT_LT(f2, f10) << "natural order, as rendered";
    EXPECT_EQ(text.find("/f40.png'"), std::string::npos) << "frames after the cut are not listed";
    EXPECT_NE(text.find("/f30.png'"), std::string::npos);
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// Forces libav's CPU feature set for the guard's life, as a machine of another kind would have it.
class ForcedCpuFlags {
  public:
    explicit ForcedCpuFlags(int flags) { av_force_cpu_flags(flags); }
    ~ForcedCpuFlags() { av_force_cpu_flags(-1); }
    ForcedCpuFlags(const ForcedCpuFlags&) = delete;
    ForcedCpuFlags& operator=(const ForcedCpuFlags&) = delete;
};

// libswscale (fitting a frame of another size), libswresample and the AAC encoder take SIMD
// paths that round differently from their C code: the same job gives other bytes on a machine
// with other CPU features. A fleet of mixed machines shares the output dir, so an artifact
// made on one kind must not be a cache hit on another.
TEST_F(SlideshowTest, RenderCacheKeyNamesTheCpuFeaturesLibavUses) {
    if (av_get_cpu_flags() == 0) GTEST_SKIP() << "libav uses no SIMD on this machine";
    write_textured_frames(tmp_ / "frames", 30, 96, 64);
    auto req = request(tmp_ / "frames");
    req.settings.width = 128;
    req.settings.height = 72;
    const auto native = render(req);
    const std::string native_bytes = read_bytes(native.path);

    ForcedCpuFlags plain_c(0);
    const auto other = render(req);
    EXPECT_FALSE(other.cache_hit) << "bytes made with other CPU features answered as a cache hit";
    req.settings.use_cache = false;
    EXPECT_NE(read_bytes(render(req).path), native_bytes)
        << "the premise: these paths change the bytes";
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// The debug files (the libav report and the ffmpeg_cmd frame list) have predictable names in a
// shared temp dir: whatever another user put at those names beforehand (a symlink or a hard link
// to a file of ours) must be replaced, never written through.
TEST_F(SlideshowTest, DebugFilesNeverWriteThroughWhatIsAtTheirPath) {
    write_frames(tmp_ / "frames", 6, 32, 32);
    write_bytes(tmp_ / "victim.txt", "precious");
    write_bytes(tmp_ / "victim2.txt", "precious");
    auto req = request(tmp_ / "frames");
    req.libav_report_path = tmp_ / "ffreport.log";
    fs::create_symlink(tmp_ / "victim.txt", tmp_ / "ffreport.log");
    fs::create_hard_link(tmp_ / "victim2.txt", tmp_ / "ffreport.log.ffconcat");
    render(req);
    EXPECT_EQ(read_text(tmp_ / "victim.txt"), "precious")
        << "the libav report was written through a symlink";
    EXPECT_EQ(read_text(tmp_ / "victim2.txt"), "precious")
        << "the frame list was written through a hard link";
    EXPECT_NE(read_text(tmp_ / "ffreport.log.ffconcat").find("ffconcat version 1.0"),
              std::string::npos);

    // Without a report path the list goes to the temp dir, under a name made of the ids.
    const char* old_tmpdir = std::getenv("TMPDIR");
    const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
    ::setenv("TMPDIR", tmp_.path().c_str(), 1);
    fs::create_symlink(tmp_ / "victim.txt", tmp_ / "renderer-S45_P2.ffconcat");
    req.libav_report_path.reset();
    req.settings.use_cache = false;
    render(req);
    if (old_tmpdir != nullptr)
        ::setenv("TMPDIR", saved.c_str(), 1);
    else
        ::unsetenv("TMPDIR");
    EXPECT_EQ(read_text(tmp_ / "victim.txt"), "precious")
        << "the frame list was written through a symlink";
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// Same size, every box and packet in place, but bytes inside mdat changed (a copy gone wrong,
// a disk returning other data, a hand edit): the packets the moov lists are all there, and
// they are not the ones this render wrote. A hit must prove the contents too.
TEST_F(SlideshowTest, RenderCacheRefusesAnArtifactWithAlteredPackets) {
    write_textured_frames(tmp_ / "frames", 12, 64, 64);
    const auto req = request(tmp_ / "frames");
    const auto first = render(req);
    const std::string whole = read_bytes(first.path);
    const auto boxes = top_level_boxes(whole);
    ASSERT_EQ(boxes.back().type, "mdat");
    std::string altered = whole;
    for (std::size_t i = boxes.back().offset + 16; i < boxes.back().offset + 48; ++i)
        altered[i] = static_cast<char>(~altered[i]);
    write_bytes(first.path, altered);

    EXPECT_FALSE(render(req).cache_hit)
        << "an artifact with other packet bytes answered as a cache hit";
    EXPECT_TRUE(read_bytes(first.path) == whole) << "the re-render restores the same bytes";
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// The music is hashed for the key as it is read, in chunks: a 256 MiB file (an ID3 tag may be
// that big) must not be held in memory twice over, and a read the disk fails is an IoError
// (/proc/self/mem at offset 0 gives a real EIO), not the hash of what happened to be read.
TEST(RenderKey, TheMusicIsHashedAsItIsReadAndReadErrorsAreIoErrors) {
    const fs::path music = testdata() / "audio/music/background.mp3";
    EXPECT_EQ(media::file_content_hash(music), media::content_hash(read_file_bytes(music)));
    try {
        media::file_content_hash("/proc/self/mem");
        FAIL() << "a read error was hashed";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::IoError) << e.what();
    }
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// Frame names come from whoever made the story; the concat demuxer reads its list line by
// line. A name holding a line break would add directives of its own to the list an operator
// replays with `-safe 0` (here: read another file as a frame). Such a list cannot be written.
TEST(FfmpegCmd, AFrameNameCannotAddDirectivesToTheList) {
    const std::vector<fs::path> frames = {"/story/frame_1.png",
                                          "/story/x\nfile /etc/shadow\nduration 1\ny.png"};
    const auto list = media::ffconcat_list(frames, 30);
    if (list) {
        std::istringstream in(*list);
        std::string line;
        while (std::getline(in, line)) EXPECT_NE(line, "file /etc/shadow") << *list;
    }
    EXPECT_FALSE(list.has_value()) << "a name with a line break cannot be listed faithfully";
    EXPECT_TRUE(media::ffconcat_list({"/story/it's frame_1.png"}, 30).has_value())
        << "quotes are escaped, not refused";
}

}  // namespace
}  // namespace renderer::testing

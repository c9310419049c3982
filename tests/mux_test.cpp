// The MP4 container of a render: exact durations in the edit lists and the movie header
// (checked box by box, independently of libavformat's rounding, and through libavformat), and
// how write failures are classed.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "media/encoders.h"
#include "media/libav_log.h"
#include "media/mp4_writer.h"
#include "media/music_probe.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/mp3_fixture.h"
#include "support/mp4_boxes.h"
#include "support/test_request.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace renderer::testing {
namespace {

class MuxTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        fs::create_directories(tmp_ / "music");
        fs::create_directories(tmp_ / "out");
        fs::copy_file(testdata() / "audio/music/background.mp3", tmp_ / "music/background.mp3");
    }

    media::RenderResult render(int frames, const std::string& track,
                               const std::string& preset = "ultrafast") {
        if (!fs::exists(tmp_ / "frames")) write_frames(tmp_ / "frames", frames, 32, 32);
        media::RenderRequest r = test_request(tmp_.path(), tmp_ / "frames");
        r.music_select = "named:" + track;
        r.settings.preset = preset;
        media::CancelToken cancel;
        return media::render_slideshow(r, log::Context{}, cancel);
    }

    TempDir tmp_;
    std::shared_ptr<CaptureSink> logs_;
};

// libavformat's view of a stream: its duration in its own time base.
struct StreamDuration {
    std::int64_t duration = 0;
    AVRational time_base{0, 1};
    std::int64_t container_us = 0;
};
StreamDuration libav_duration(const fs::path& path, AVMediaType type) {
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0)
        throw std::runtime_error("open failed");
    media::InputFormatPtr fmt(raw);
    avformat_find_stream_info(fmt.get(), nullptr);
    const int i = av_find_best_stream(fmt.get(), type, -1, -1, nullptr, 0);
    if (i < 0) throw std::runtime_error("no such stream");
    return {fmt->streams[i]->duration, fmt->streams[i]->time_base, fmt->duration};
}

// 5 frames at 30 fps cut the music at 1/6 s: 7350 samples at 44.1 kHz. In a 1000-unit movie
// timescale the audio edit said 167 ms (7364.7 samples).
TEST_F(MuxTest, EditListsHoldTheExactCutWhenTheFramesAreShorter) {
    const auto r = render(5, "background.mp3");
    const Mp4Movie movie = read_movie(read_bytes(r.path));
    const Mp4Track* audio = movie.track("soun");
    const Mp4Track* video = movie.track("vide");
    ASSERT_NE(audio, nullptr);
    ASSERT_NE(video, nullptr);
    ASSERT_EQ(audio->media_timescale, 44100u);
    ASSERT_FALSE(audio->edits.empty());
    const Mp4Edit& edit = audio->edits.back();
    // segment_duration / movie timescale == 7350 / 44100, exactly.
    EXPECT_EQ(edit.segment_duration * 44100, 7350ull * movie.timescale)
        << "movie timescale " << movie.timescale;
    EXPECT_EQ(movie.duration * 6, movie.timescale) << "the movie lasts exactly 1/6 s";

    const auto a = libav_duration(r.path, AVMEDIA_TYPE_AUDIO);
    EXPECT_EQ(a.time_base.den, 44100);
    EXPECT_EQ(a.duration, 7350) << "audio duration_ts is the trimmed sample count";
}

// A track of 1.05 s (46305 samples) under 60 frames: the cut is 1.05 s, so 32 frames are sent
// (the last one shown from 31/30 s) and the last frame is shortened to end at 1.05 s instead of
// 32/30 s.
TEST_F(MuxTest, ContainerLastsExactlyTheMusicWhenTheMusicIsShorter) {
    write_mp3_sine(tmp_ / "music/short.mp3",
                   {.sample_rate = 44100, .channels = 2, .seconds = 1.05});
    const auto r = render(60, "short.mp3");
    EXPECT_EQ(r.frames, 32);
    const Mp4Movie movie = read_movie(read_bytes(r.path));
    EXPECT_EQ(movie.duration * 100, 105ull * movie.timescale)
        << movie.duration << " / " << movie.timescale;
    const Mp4Track* video = movie.track("vide");
    ASSERT_NE(video, nullptr);
    ASSERT_FALSE(video->edits.empty());
    EXPECT_EQ(video->edits.back().segment_duration * 100, 105ull * movie.timescale)
        << "video ends at T too";

    const auto a = libav_duration(r.path, AVMEDIA_TYPE_AUDIO);
    EXPECT_EQ(a.duration, 46305);
    EXPECT_EQ(a.container_us, 1050000);
}

// The default preset codes B-frames: packets reach the muxer in decode order, so the last one
// written is not the last one shown. The container must still end at T.
TEST_F(MuxTest, ContainerLastsExactlyTheMusicWithBFrames) {
    write_mp3_sine(tmp_ / "music/short.mp3",
                   {.sample_rate = 44100, .channels = 2, .seconds = 1.05});
    write_textured_frames(tmp_ / "frames", 60, 64, 64);
    const auto r = render(60, "short.mp3", "medium");
    EXPECT_EQ(r.frames, 32);
    const Mp4Movie movie = read_movie(read_bytes(r.path));
    EXPECT_EQ(movie.duration * 100, 105ull * movie.timescale)
        << movie.duration << " / " << movie.timescale;
    const Mp4Track* video = movie.track("vide");
    ASSERT_NE(video, nullptr);
    ASSERT_FALSE(video->edits.empty());
    EXPECT_EQ(video->edits.back().segment_duration * 100, 105ull * movie.timescale)
        << "video ends at T too";
    const auto v = libav_duration(r.path, AVMEDIA_TYPE_VIDEO);
    EXPECT_EQ(v.container_us, 1050000);

    // The case is real only if packets came out of order.
    AVFormatContext* raw = nullptr;
    ASSERT_EQ(avformat_open_input(&raw, r.path.c_str(), nullptr, nullptr), 0);
    media::InputFormatPtr fmt(raw);
    media::PacketPtr pkt = media::make_packet();
    std::int64_t last_pts = AV_NOPTS_VALUE;
    int reordered = 0;
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (fmt->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            if (last_pts != AV_NOPTS_VALUE && pkt->pts < last_pts) ++reordered;
            last_pts = pkt->pts;
        }
        av_packet_unref(pkt.get());
    }
    EXPECT_GT(reordered, 0) << "no B-frames: the test does not test what it says";
}

// The faststart pass reopens the file by path; with the output dir gone that fails (ENOENT).
// The disk's fault, not the encoder's: IoError, which the worker retries.
TEST_F(MuxTest, OutputDirRemovedBeforeTheFaststartPassIsAnIoError) {
    fs::create_directories(tmp_ / "gone");
    media::LibavLogCapture capture;
    media::Mp4Writer mux(tmp_ / "gone/x.mp4", capture);
    media::RenderSettings s;
    s.preset = "ultrafast";
    auto venc = media::open_video_encoder(s, media::Canvas{32, 32}, mux.needs_global_header());
    AVStream* vst = mux.add_stream(venc.get());
    mux.write_header(30);
    for (int i = 0; i < 3; ++i) {
        media::FramePtr f = media::make_frame();
        f->format = AV_PIX_FMT_YUV420P;
        f->width = f->height = 32;
        ASSERT_GE(av_frame_get_buffer(f.get(), 0), 0);
        av_frame_make_writable(f.get());
        for (int p = 0; p < 3; ++p)
            std::memset(f->data[p], 128, static_cast<std::size_t>(f->linesize[p]) * (p ? 16 : 32));
        f->pts = i;
        media::encode_and_write(venc.get(), f.get(), vst, mux);
    }
    media::encode_and_write(venc.get(), nullptr, vst, mux);
    fs::remove_all(tmp_ / "gone");
    try {
        mux.finish();
        FAIL() << "finishing into a removed directory must fail";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::IoError) << e.what();
    }
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// A track whose parts have other rates (44.1 kHz, then 48 kHz) lasts a fraction of a sample
// more than a whole number of output samples (n2 * 0.91875 for n2 samples at 48 kHz). Made to
// last k/30 s plus less than half a sample: k + 1 frames start before T (the last one at exactly
// k/30 s), but the audio keeps round(T * rate) samples, which end there, and the video's end,
// clamped to the audio's, leaves that frame a duration of 0, which the mov muxer replaces with
// the frame before's. No frame may be sent that starts at or after the end of the audio.
TEST_F(MuxTest, NoVideoFrameOfZeroDuration) {
    write_mp3_sine(tmp_ / "a.mp3", {.sample_rate = 44100, .channels = 2, .seconds = 0.5});
    // In a joined file the first part counts whole frames (its end padding is not cut), so
    // adding 1152 samples to it adds exactly 1152 to the total: find a 48 kHz part that gives
    // a total whose fraction is in (0.01, 0.49) and whose whole part is a multiple of 6, then
    // lengthen the first part by whole frames to reach a multiple of 1470 (one frame at 30 fps).
    double t0 = 0;
    for (int ms = 40; ms < 400; ++ms) {
        write_mp3_sine(tmp_ / "b.mp3",
                       {.sample_rate = 48000, .channels = 2, .seconds = ms / 1000.0});
        write_bytes(tmp_ / "music/joined.mp3",
                    read_bytes(tmp_ / "a.mp3") + read_bytes(tmp_ / "b.mp3"));
        t0 = media::probe_audio(tmp_ / "music/joined.mp3").duration_sec * 44100;
        const double frac = t0 - std::floor(t0);
        if (frac > 0.01 && frac < 0.49 && static_cast<std::int64_t>(std::floor(t0)) % 6 == 0) break;
        t0 = 0;
    }
    ASSERT_GT(t0, 0) << "no 48 kHz part gave the length this case needs";
    std::int64_t extra = 0;
    while ((static_cast<std::int64_t>(std::floor(t0)) + 1152 * extra) % 1470 != 0) ++extra;
    write_mp3_sine(
        tmp_ / "a.mp3",
        {.sample_rate = 44100, .channels = 2, .seconds = (22050.0 + 1152 * extra) / 44100});
    write_bytes(tmp_ / "music/joined.mp3", read_bytes(tmp_ / "a.mp3") + read_bytes(tmp_ / "b.mp3"));
    const double t = media::probe_audio(tmp_ / "music/joined.mp3").duration_sec * 44100;
    ASSERT_NEAR(t, t0 + 1152.0 * extra, 1e-6);
    const auto k = static_cast<std::int64_t>(std::floor(t)) / 1470;

    const auto r = render(static_cast<int>(k + 30), "joined.mp3");
    EXPECT_EQ(r.frames, k) << "a frame starting where the audio ends was sent";
    // The mov muxer takes a last duration of 0 for "unknown" and repeats the one before: the
    // video, and the file, then lasted a whole frame past the audio.
    const auto v = libav_duration(r.path, AVMEDIA_TYPE_VIDEO);
    EXPECT_EQ(v.container_us, std::llround(std::floor(t) / 44100 * 1e6))
        << "the file lasts the audio's whole samples";
    AVFormatContext* raw = nullptr;
    ASSERT_EQ(avformat_open_input(&raw, r.path.c_str(), nullptr, nullptr), 0);
    media::InputFormatPtr fmt(raw);
    media::PacketPtr pkt = media::make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (fmt->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            EXPECT_GT(pkt->duration, 0) << "video packet at pts " << pkt->pts << " lasts 0";
        }
        av_packet_unref(pkt.get());
    }
}

}  // namespace
}  // namespace renderer::testing

// The MP4 container of a render: exact durations in the edit lists and the movie header
// (checked box by box, independently of libavformat's rounding, and through libavformat), and
// how write failures are classed.
#include <gtest/gtest.h>

#include "common/error.h"
#include "media/encoders.h"
#include "media/libav_log.h"
#include "media/mp4_writer.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/mp3_fixture.h"
#include "support/mp4_boxes.h"

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

    media::RenderResult render(int frames, const std::string& track, const std::string& preset = "ultrafast") {
        if (!fs::exists(tmp_ / "frames")) write_frames(tmp_ / "frames", frames, 32, 32);
        media::RenderRequest r;
        r.story_id = "S1";
        r.part_id = "P1";
        r.frames_dir = tmp_ / "frames";
        r.music_dir = tmp_ / "music";
        r.music_select = "named:" + track;
        r.output_dir = tmp_ / "out";
        r.min_free_bytes = 1 << 20;
        r.settings.preset = preset;
        r.settings.threads = 2;
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
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0) throw std::runtime_error("open failed");
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
    EXPECT_EQ(edit.segment_duration * 44100, 7350ull * movie.timescale) << "movie timescale " << movie.timescale;
    EXPECT_EQ(movie.duration * 6, movie.timescale) << "the movie lasts exactly 1/6 s";

    const auto a = libav_duration(r.path, AVMEDIA_TYPE_AUDIO);
    EXPECT_EQ(a.time_base.den, 44100);
    EXPECT_EQ(a.duration, 7350) << "audio duration_ts is the trimmed sample count";
}

// A track of 1.05 s (46305 samples) under 60 frames: the cut is 1.05 s, so 32 frames are sent
// (the last one shown from 31/30 s) and the last frame is shortened to end at 1.05 s instead of
// 32/30 s.
TEST_F(MuxTest, ContainerLastsExactlyTheMusicWhenTheMusicIsShorter) {
    write_mp3_sine(tmp_ / "music/short.mp3", {.sample_rate = 44100, .channels = 2, .seconds = 1.05});
    const auto r = render(60, "short.mp3");
    EXPECT_EQ(r.frames, 32);
    const Mp4Movie movie = read_movie(read_bytes(r.path));
    EXPECT_EQ(movie.duration * 100, 105ull * movie.timescale) << movie.duration << " / " << movie.timescale;
    const Mp4Track* video = movie.track("vide");
    ASSERT_NE(video, nullptr);
    ASSERT_FALSE(video->edits.empty());
    EXPECT_EQ(video->edits.back().segment_duration * 100, 105ull * movie.timescale) << "video ends at T too";

    const auto a = libav_duration(r.path, AVMEDIA_TYPE_AUDIO);
    EXPECT_EQ(a.duration, 46305);
    EXPECT_EQ(a.container_us, 1050000);
}

// The default preset codes B-frames: packets reach the muxer in decode order, so the last one
// written is not the last one shown. The container must still end at T.
TEST_F(MuxTest, ContainerLastsExactlyTheMusicWithBFrames) {
    write_mp3_sine(tmp_ / "music/short.mp3", {.sample_rate = 44100, .channels = 2, .seconds = 1.05});
    write_textured_frames(tmp_ / "frames", 60, 64, 64);
    const auto r = render(60, "short.mp3", "medium");
    EXPECT_EQ(r.frames, 32);
    const Mp4Movie movie = read_movie(read_bytes(r.path));
    EXPECT_EQ(movie.duration * 100, 105ull * movie.timescale) << movie.duration << " / " << movie.timescale;
    const Mp4Track* video = movie.track("vide");
    ASSERT_NE(video, nullptr);
    ASSERT_FALSE(video->edits.empty());
    EXPECT_EQ(video->edits.back().segment_duration * 100, 105ull * movie.timescale) << "video ends at T too";
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
    auto venc = media::open_h264_encoder(s, media::Canvas{32, 32}, mux.needs_global_header());
    AVStream* vst = mux.add_stream(venc.get());
    mux.write_header(30);
    for (int i = 0; i < 3; ++i) {
        media::FramePtr f = media::make_frame();
        f->format = AV_PIX_FMT_YUV420P;
        f->width = f->height = 32;
        ASSERT_GE(av_frame_get_buffer(f.get(), 0), 0);
        av_frame_make_writable(f.get());
        for (int p = 0; p < 3; ++p) std::memset(f->data[p], 128, static_cast<std::size_t>(f->linesize[p]) * (p ? 16 : 32));
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

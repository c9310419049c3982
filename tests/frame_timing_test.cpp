// FRAME_TIMING and KEYINT_SEC (DESIGN 3.2): real renders in cfr and vfr, reopened with
// libavformat and decoded with libavcodec. A vfr render must show every frame at its exact time,
// the same pictures as the cfr render at every instant, with valid sample tables, the cfr
// render's duration and audio, and keyframes at most KEYINT_SEC apart.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "common/error.h"
#include "media/encoders.h"
#include "media/held_frames.h"
#include "media/libav_log.h"
#include "media/mp4_writer.h"
#include "media/probe.h"
#include "media/slideshow.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/mp4_boxes.h"
#include "support/test_request.h"

namespace renderer::testing {
namespace {

using media::FrameTiming;
using media::RenderRequest;

constexpr int kFps = 30;
// Pictures decoded at the same instant from two encodes (crf 8) of the same frames differ by
// encoder noise only; two different slides of the fixture are far below this (checked).
constexpr double kSamePictureDb = 30;  // measured: 40.7 dB at worst; slides 1 and 2: 13.6 dB

// One slide held `frames` frames: textured picture number `picture` (1-based).
struct Hold {
    int picture;
    int frames;
};

class FrameTimingTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        fs::create_directories(tmp_ / "music");
        fs::copy_file(testdata() / "audio/music/background.mp3", tmp_ / "music/background.mp3");
        write_textured_frames(tmp_ / "pictures", 8, 96, 64);
    }

    // Frames frame_1.png ... in the order `holds` show them: each frame a copy of its picture,
    // so a held slide is identical files, as a story's renderer writes them.
    fs::path story(const std::string& name, const std::vector<Hold>& holds) {
        const fs::path dir = tmp_ / name;
        fs::create_directories(dir);
        int n = 0;
        for (const auto& h : holds) {
            for (int k = 0; k < h.frames; ++k) {
                fs::copy_file(tmp_ / "pictures" / fmt::format("frame_{}.png", h.picture),
                              dir / fmt::format("frame_{}.png", ++n));
            }
        }
        return dir;
    }

    RenderRequest request(const fs::path& frames, FrameTiming timing, const std::string& out) {
        RenderRequest r = test_request(tmp_.path(), frames);
        r.output_dir = tmp_ / out;
        fs::create_directories(r.output_dir);
        r.music_select = "named:background.mp3";
        r.settings.fps = kFps;
        r.settings.frame_timing = timing;
        // x264's default preset, not the suite default ultrafast: B-frames (3, pyramid) reorder
        // frames, so the sample tables carry composition offsets (ctts) to get right.
        r.settings.preset = "medium";
        r.settings.use_cache = false;
        return r;
    }

    media::RenderResult render(const RenderRequest& r) {
        media::CancelToken cancel;
        return media::render_slideshow(r, log::Context({{"story_id", r.story_id}}), cancel);
    }

    std::shared_ptr<CaptureSink> logs_;
    TempDir tmp_;
};

// A story of slides held for various lengths: one held past VFR_MAX_HOLD_MS (1 s = 30 frames),
// single frames as in a crossfade, and a short hold at the end.
const std::vector<Hold> kStory = {{1, 10}, {2, 1}, {3, 45}, {4, 1}, {5, 1}, {6, 8}};
// The frames a vfr render of kStory encodes, by first index: the 45-frame hold is split at 30,
// and the last frame is a run of its own (media/held_frames.h).
const std::vector<std::int64_t> kStoryStarts = {0, 10, 11, 41, 56, 57, 58, 65};
constexpr std::int64_t kStoryFrames = 66;

// Whether `pts` (in num/den seconds) is exactly frame `index` at kFps: pts*num/den == index/kFps.
bool at_frame(std::int64_t pts, int num, int den, std::int64_t index) {
    return pts * num * kFps == index * den;
}

TEST_F(FrameTimingTest, VfrEncodesEachHeldRunOnceAtItsExactTime) {
    const auto frames = story("story", kStory);
    const auto vfr = render(request(frames, FrameTiming::Vfr, "vfr"));
    ASSERT_EQ(vfr.frames, kStoryFrames);
    const auto pictures = decode_pictures(vfr.path);
    ASSERT_EQ(pictures.size(), kStoryStarts.size());
    for (std::size_t k = 0; k < pictures.size(); ++k) {
        const auto& p = pictures[k];
        EXPECT_TRUE(at_frame(p.pts, p.time_base_num, p.time_base_den, kStoryStarts[k]))
            << "decoded frame " << k << " at " << p.pts << " * " << p.time_base_num << "/"
            << p.time_base_den << " s, expected frame " << kStoryStarts[k] << " ("
            << kStoryStarts[k] << "/" << kFps << " s)";
    }
    // The planner the render cache counts packets with agrees with what was encoded.
    std::vector<std::uint64_t> contents;
    for (const auto& h : kStory) contents.insert(contents.end(), h.frames, h.picture);
    EXPECT_EQ(
        media::encoded_frame_count(request(frames, FrameTiming::Vfr, "vfr").settings, contents),
        static_cast<std::int64_t>(kStoryStarts.size()));
}

TEST_F(FrameTimingTest, VfrShowsTheCfrPicturesAtEveryInstant) {
    const auto frames = story("story", kStory);
    // Near-lossless, so that encoder noise stays far below the difference between slides (at
    // crf 23 two encodes of these grainy frames differ by as much as two neighbouring slides).
    auto cfr_request = request(frames, FrameTiming::Cfr, "cfr");
    auto vfr_request = request(frames, FrameTiming::Vfr, "vfr");
    cfr_request.settings.crf = vfr_request.settings.crf = 8;
    const auto cfr = decode_pictures(render(cfr_request).path);
    const auto vfr = decode_pictures(render(vfr_request).path);
    ASSERT_EQ(cfr.size(), static_cast<std::size_t>(kStoryFrames));
    ASSERT_FALSE(vfr.empty());
    // The threshold tells slides apart: two different slides are far below it.
    EXPECT_LT(luma_psnr(cfr[0], cfr[10]), kSamePictureDb - 10);
    double worst = std::numeric_limits<double>::infinity();
    std::size_t shown = 0;  // the vfr picture on screen at frame i: the last starting by then
    for (std::int64_t i = 0; i < kStoryFrames; ++i) {
        while (shown + 1 < vfr.size() && vfr[shown + 1].pts * vfr[shown + 1].time_base_num * kFps <=
                                             i * vfr[shown + 1].time_base_den) {
            ++shown;
        }
        worst = std::min(worst, luma_psnr(cfr[static_cast<std::size_t>(i)], vfr[shown]));
        EXPECT_GE(luma_psnr(cfr[static_cast<std::size_t>(i)], vfr[shown]), kSamePictureDb)
            << "frame " << i << ": the vfr render shows another picture than the cfr render";
    }
    std::printf("worst PSNR between the renders at one instant: %.2f dB; slides 1 and 2: %.2f dB\n",
                worst, luma_psnr(cfr[0], cfr[10]));
}

TEST_F(FrameTimingTest, VfrSampleTablesAreValidAndKeepCfrDurationAndAudio) {
    const auto frames = story("story", kStory);
    const auto cfr = render(request(frames, FrameTiming::Cfr, "cfr"));
    const auto vfr = render(request(frames, FrameTiming::Vfr, "vfr"));
    const auto video = stream_packets(vfr.path, "video");
    ASSERT_EQ(video.size(), kStoryStarts.size());
    std::vector<std::int64_t> pts;
    bool reordered = false;
    for (std::size_t k = 0; k < video.size(); ++k) {
        reordered = reordered || video[k].pts > video[k].dts;
        // stts: decode times strictly increase (no zero or negative sample durations); ctts: a
        // frame is never presented before it is decoded.
        if (k > 0) {
            EXPECT_GT(video[k].dts, video[k - 1].dts) << "packet " << k;
        }
        EXPECT_GE(video[k].pts, video[k].dts) << "packet " << k;
        EXPECT_GT(video[k].duration, 0) << "packet " << k;
        pts.push_back(video[k].pts);
    }
    EXPECT_TRUE(reordered) << "no B-frames: the composition offsets went untested";
    std::sort(pts.begin(), pts.end());
    const auto& v0 = video.front();
    for (std::size_t k = 0; k < pts.size(); ++k) {
        EXPECT_TRUE(at_frame(pts[k], v0.time_base_num, v0.time_base_den, kStoryStarts[k])) << k;
    }

    const auto pc = media::probe_file(cfr.path), pv = media::probe_file(vfr.path);
    EXPECT_DOUBLE_EQ(pv.duration_sec, pc.duration_sec);
    EXPECT_EQ(vfr.duration_ms, cfr.duration_ms);
    const auto* sv = first_stream(pv, "video");
    const auto* sc = first_stream(pc, "video");
    ASSERT_NE(sv, nullptr);
    ASSERT_NE(sc, nullptr);
    EXPECT_DOUBLE_EQ(sv->duration_sec, sc->duration_sec);
    EXPECT_EQ(sv->frame_timing, "vfr");
    EXPECT_EQ(sc->frame_timing, "cfr");
    EXPECT_EQ(sv->frames, static_cast<std::int64_t>(kStoryStarts.size()));
    EXPECT_NEAR(sv->min_frame_duration_sec, 1.0 / kFps, 1e-9);
    EXPECT_NEAR(sv->max_frame_duration_sec, 1.0, 1e-9);  // the split 45-frame hold
    EXPECT_NEAR(sc->max_frame_duration_sec, 1.0 / kFps, 1e-9);

    // The audio is the cfr render's, packet for packet.
    const auto ac = stream_packets(cfr.path, "audio"), av = stream_packets(vfr.path, "audio");
    ASSERT_EQ(av.size(), ac.size());
    for (std::size_t k = 0; k < ac.size(); ++k) {
        EXPECT_EQ(av[k].pts, ac[k].pts) << k;
        EXPECT_EQ(av[k].duration, ac[k].duration) << k;
        EXPECT_EQ(av[k].data_sha256, ac[k].data_sha256) << k;
    }
}

// The sum of the video track's sample durations (stts), in its media timescale.
std::uint64_t stts_sum(const Mp4Track& t) {
    std::uint64_t sum = 0;
    for (const auto& [count, delta] : t.stts) sum += std::uint64_t{count} * delta;
    return sum;
}

// A story ending on a long hold after single frames: the last packet in decode order is a
// B-frame lasting one period, decoded after the long final slide. Its stts delta (the muxer's
// "last sample duration") ended the track's decode timeline 20 frames before the slide did:
// stts added up to 0.73 s in a 1.4 s media, libavformat (which takes the shorter of mdhd and
// the stts sum) reported a 0.73 s video stream, and `ffmpeg -vf fps=30` made 13 frames of it
// instead of 42. The sample durations must not end before the media does. (They may end after
// it: x264's decode times lag the sorted presentation times by its B-frame delay, so after a long
// first hold the decode timeline runs past the media's end, which libavformat bounds by mdhd.)
TEST_F(FrameTimingTest, VfrSampleDurationsCoverTheCfrVideoDuration) {
    for (const auto& holds :
         std::vector<std::vector<Hold>>{{{1, 10}, {2, 1}, {3, 1}, {4, 30}},
                                        {{1, 10}, {2, 1}, {3, 1}, {4, 1}, {5, 30}},
                                        {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 30}},
                                        kStory}) {
        std::int64_t total = 0;
        for (const auto& h : holds) total += h.frames;
        const auto frames = story(fmt::format("tail{}", total), holds);
        const auto cfr = render(request(frames, FrameTiming::Cfr, fmt::format("cfr{}", total)));
        const auto vfr = render(request(frames, FrameTiming::Vfr, fmt::format("vfr{}", total)));
        const auto movie = read_movie(read_text(vfr.path));
        const auto* track = movie.track("vide");
        ASSERT_NE(track, nullptr);
        // 44100 Hz audio: the media timescale is lcm(30, 44100) = 44100, 1470 ticks a frame.
        ASSERT_EQ(track->media_timescale, 44100u);
        EXPECT_EQ(track->media_duration, static_cast<std::uint64_t>(total) * 1470) << total;
        EXPECT_GE(stts_sum(*track), track->media_duration) << total << " frames";
        const auto vfr_info = media::probe_file(vfr.path);  // kept: the streams point into it
        const auto cfr_info = media::probe_file(cfr.path);
        const auto* sv = first_stream(vfr_info, "video");
        const auto* sc = first_stream(cfr_info, "video");
        ASSERT_NE(sv, nullptr);
        ASSERT_NE(sc, nullptr);
        EXPECT_DOUBLE_EQ(sv->duration_sec, sc->duration_sec) << total << " frames";
    }
}

// At 24 fps the frames' end is rarely a whole sample: 37 frames are 67987.5 samples at 44.1 kHz,
// the padded audio keeps 67988, and the video's track must still end with its frames (135975
// ticks of 1/88200 s), not half a sample later with the audio's rounding. Without B-frames
// (ultrafast) the last packet decoded is the last shown, in both timings.
TEST_F(FrameTimingTest, VideoTrackEndsWithItsFramesWhenTheAudioRoundsPastThem) {
    const auto frames = story("r24", {{1, 10}, {2, 1}, {3, 26}});
    for (const auto timing : {FrameTiming::Cfr, FrameTiming::Vfr}) {
        for (const std::string preset : {"ultrafast", "medium"}) {
            auto r = request(frames, timing, fmt::format("{}{}", media::to_string(timing), preset));
            r.settings.fps = 24;
            r.settings.preset = preset;
            r.settings.audio.fit = media::AudioFit::Pad;
            const auto movie = read_movie(read_text(render(r).path));
            const auto* v = movie.track("vide");
            ASSERT_NE(v, nullptr);
            ASSERT_EQ(v->media_timescale, 88200u);
            EXPECT_EQ(v->media_duration, 37u * 88200 / 24)
                << media::to_string(timing) << " " << preset;
            ASSERT_FALSE(v->edits.empty());
            EXPECT_EQ(v->edits.back().segment_duration, 37u * movie.timescale / 24)
                << media::to_string(timing) << " " << preset;
        }
    }
}

// The last frame shown must last, as libavformat demuxes it, until the video ends. With B-frames
// (ctts) libavformat 5.1 gives no packet the stts's duration but guesses one frame period from
// the frame rate, so a final slide held 1 s as one sample was read as lasting 1/30 s: `ffmpeg
// -i vfr.mp4 -vf fps=30` made 13 frames of a 42-frame render, dropping the last slide's hold, and
// any player or editor timing frames by packet durations shows it that briefly. A render whose
// last sample lasts one period is read right whatever the reader assumes.
TEST_F(FrameTimingTest, VfrLastFrameLastsUntilTheEndAsLibavformatReadsIt) {
    for (const auto& holds :
         std::vector<std::vector<Hold>>{{{1, 10}, {2, 1}, {3, 1}, {4, 30}},
                                        {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 30}},
                                        {{1, 40}},
                                        kStory}) {
        std::int64_t total = 0;
        for (const auto& h : holds) total += h.frames;
        const auto frames = story(fmt::format("end{}", total), holds);
        for (const auto timing : {FrameTiming::Cfr, FrameTiming::Vfr}) {
            const auto result = render(
                request(frames, timing, fmt::format("{}{}", media::to_string(timing), total)));
            const auto video = stream_packets(result.path, "video");
            ASSERT_FALSE(video.empty());
            const auto last = *std::max_element(
                video.begin(), video.end(),
                [](const PacketRecord& a, const PacketRecord& b) { return a.pts < b.pts; });
            // pts + duration, in frames: pts * num / den * fps.
            EXPECT_EQ((last.pts + last.duration) * last.time_base_num * kFps,
                      total * last.time_base_den)
                << media::to_string(timing) << ", " << total
                << " frames: the last frame shows from " << last.pts << " for " << last.duration
                << " (1/" << last.time_base_den << " s)";
        }
    }
}

// Keyframe gaps (and the gap from the last keyframe to the end) in seconds of presentation time.
std::vector<double> keyframe_gaps(const fs::path& mp4, double duration_sec) {
    std::vector<double> keys;
    for (const auto& p : stream_packets(mp4, "video")) {
        if (p.key) keys.push_back(static_cast<double>(p.pts) * p.time_base_num / p.time_base_den);
    }
    std::sort(keys.begin(), keys.end());
    keys.push_back(duration_sec);
    std::vector<double> gaps;
    for (std::size_t k = 1; k < keys.size(); ++k) gaps.push_back(keys[k] - keys[k - 1]);
    return gaps;
}

TEST_F(FrameTimingTest, KeyframesAtMostKeyintSecApartInBothModes) {
    // 3.6 s of slides, held 0.9 s, 1.5 s and 1.2 s, music padded: x264's own default (250
    // frames) would put one keyframe in it; KEYINT_SEC=1 asks for one every second at least.
    const auto frames = story("long", {{1, 27}, {2, 45}, {3, 36}});
    for (const auto timing : {FrameTiming::Cfr, FrameTiming::Vfr}) {
        auto r = request(frames, timing, timing == FrameTiming::Vfr ? "vfr" : "cfr");
        r.settings.keyint_sec = 1;
        r.settings.vfr_max_hold_ms = 5000;  // longer than the keyint: the keyint splits holds
        r.settings.audio.fit = media::AudioFit::Pad;
        const auto result = render(r);
        const auto gaps = keyframe_gaps(result.path, media::probe_file(result.path).duration_sec);
        ASSERT_FALSE(gaps.empty());
        for (std::size_t k = 0; k < gaps.size(); ++k) {
            EXPECT_LE(gaps[k], 1.0 + 1e-9)
                << media::to_string(timing) << ": keyframe gap " << k << " is " << gaps[k] << " s";
        }
    }
}

// HEVC honours the keyframes vfr forces by time only as IDR frames (libx265's forced-idr);
// without it the forced frames were plain I frames and the file had one keyframe in 3.6 s.
TEST_F(FrameTimingTest, HevcKeyframesInVfrAreAtMostKeyintSecApart) {
    const auto frames = story("long", {{1, 27}, {2, 45}, {3, 36}});
    auto r = request(frames, FrameTiming::Vfr, "hevc");
    r.settings.codec = media::VideoCodec::Hevc;
    r.settings.keyint_sec = 1;
    r.settings.vfr_max_hold_ms = 5000;
    r.settings.audio.fit = media::AudioFit::Pad;
    const auto result = render(r);
    const auto gaps = keyframe_gaps(result.path, media::probe_file(result.path).duration_sec);
    ASSERT_FALSE(gaps.empty());
    for (std::size_t k = 0; k < gaps.size(); ++k)
        EXPECT_LE(gaps[k], 1.0 + 1e-9) << "keyframe gap " << k << " is " << gaps[k] << " s";
}

// probe's shortest and longest frame durations for a file whose last frame's duration
// libavformat guesses: with composition offsets (x265 stores them even without reordering)
// every packet is given 1 / r_frame_rate, and r_frame_rate, estimated from sparse vfr
// timestamps, was 10: the last frame (1/30 s, a run of its own) was reported as 0.1 s and the
// shortest frame as 0.1 s. The last frame shows until the stream ends, as the container states.
TEST_F(FrameTimingTest, ProbeTakesTheLastFramesDurationFromTheStreamsEnd) {
    const auto frames = story("long", {{1, 27}, {2, 45}, {3, 36}});
    auto r = request(frames, FrameTiming::Vfr, "hevc");
    r.settings.codec = media::VideoCodec::Hevc;
    r.settings.keyint_sec = 1;
    r.settings.vfr_max_hold_ms = 5000;
    r.settings.audio.fit = media::AudioFit::Pad;
    const auto result = render(r);
    const auto info = media::probe_file(result.path);
    const auto* v = first_stream(info, "video");
    ASSERT_NE(v, nullptr);
    // Runs of 27, 30, 15, 30, 5 and the last frame's 1 (the keyint splits the 45 and 36 holds).
    EXPECT_EQ(v->frames, 6);
    EXPECT_EQ(v->frame_timing, "vfr");
    EXPECT_NEAR(v->min_frame_duration_sec, 1.0 / kFps, 1e-9);
    EXPECT_NEAR(v->max_frame_duration_sec, 1.0, 1e-9);
    EXPECT_NEAR(v->duration_sec, 108.0 / kFps, 1e-9);
}

// probe's frame_timing on a file we did not render: five frames of 1/30 s, then one of 1 s (an
// MP4 written directly, without B-frames, so libavformat reads every stored duration). probe
// set the last frame aside because shorter music may cut it short, and so called this file
// "cfr" while reporting its longest frame as 30 times its shortest. A last frame shorter than
// the others may be a cut; a longer one is variable timing.
TEST_F(FrameTimingTest, ProbeCallsALongerLastFrameVfr) {
    const fs::path out = tmp_ / "long_last.mp4";
    {
        media::RenderSettings s;
        s.fps = kFps;
        s.preset = "ultrafast";  // no B-frames
        media::LibavLogCapture capture;
        media::Mp4Writer mux(out, capture);
        const auto encoder =
            media::open_video_encoder(s, media::Canvas{64, 64}, mux.needs_global_header());
        AVStream* stream = mux.add_stream(encoder.get());
        mux.write_header(kFps);
        media::FrameDurations durations;
        for (int k = 0; k < 6; ++k) {
            media::FramePtr frame(av_frame_alloc());
            frame->format = AV_PIX_FMT_YUV420P;
            frame->width = frame->height = 64;
            ASSERT_GE(av_frame_get_buffer(frame.get(), 0), 0);
            for (int p = 0; p < 3; ++p) {
                std::fill_n(frame->data[p], frame->linesize[p] * (p == 0 ? 64 : 32),
                            static_cast<std::uint8_t>(40 * k + 16));
            }
            frame->pts = k;
            durations[k] = k == 5 ? kFps : 1;
            media::encode_and_write(encoder.get(), frame.get(), stream, mux, nullptr, &durations);
        }
        media::encode_and_write(encoder.get(), nullptr, stream, mux, nullptr, &durations);
        mux.finish();
    }
    const auto info = media::probe_file(out);
    const auto* v = first_stream(info, "video");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->frames, 6);
    EXPECT_NEAR(v->min_frame_duration_sec, 1.0 / kFps, 1e-9);
    EXPECT_NEAR(v->max_frame_duration_sec, 1.0, 1e-9);
    EXPECT_EQ(v->frame_timing, "vfr");
}

// SVT-AV1 places no keyframe where it is asked (a forced key picture is ignored), so vfr, whose
// keyframes must come by time, cannot keep KEYINT_SEC with it: refused, naming both settings.
TEST(FrameTimingSettings, VfrWithAv1IsAConfigErrorNamingBoth) {
    media::RenderSettings s;
    s.codec = media::VideoCodec::Av1;
    s.frame_timing = FrameTiming::Vfr;
    try {
        media::validate(s, nullptr);
        ADD_FAILURE() << "vfr with av1 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
        const std::string what = e.what();
        EXPECT_NE(what.find("vfr"), std::string::npos) << what;
        EXPECT_NE(what.find("av1"), std::string::npos) << what;
    }
    s.frame_timing = FrameTiming::Cfr;
    EXPECT_NO_THROW(media::validate(s, nullptr));
}

TEST_F(FrameTimingTest, OneFrameInVfrIsAValidFileOfOneFramePeriod) {
    const auto frames = story("one", {{1, 1}});
    const auto result = render(request(frames, FrameTiming::Vfr, "vfr"));
    const auto info = media::probe_file(result.path);
    const auto* v = first_stream(info, "video");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->frames, 1);
    EXPECT_NEAR(v->duration_sec, 1.0 / kFps, 1e-6);
    EXPECT_NEAR(info.duration_sec, 1.0 / kFps, 1e-3);
    ASSERT_EQ(decode_pictures(result.path).size(), 1u);
}

TEST_F(FrameTimingTest, VfrRendersAreByteIdenticalAndCachedByTheirOwnKey) {
    const auto frames = story("story", kStory);
    auto r = request(frames, FrameTiming::Vfr, "a");
    const auto a = render(r);
    r.output_dir = tmp_ / "b";
    fs::create_directories(r.output_dir);
    const auto b = render(r);
    EXPECT_EQ(read_text(a.path), read_text(b.path)) << "identical inputs, different bytes";

    // Rendered again with the cache on: the artifact is found whole (its packets are the runs,
    // not the frames) and its key is this render's.
    r.settings.use_cache = true;
    EXPECT_TRUE(render(r).cache_hit);
    // Each timing setting is in the key: none of these may take the vfr artifact.
    for (const auto change : {0, 1, 2}) {
        EXPECT_TRUE(render(r).cache_hit || change > 0);  // the vfr artifact (back) in place
        auto other = r;
        if (change == 0) other.settings.frame_timing = FrameTiming::Cfr;
        if (change == 1) other.settings.vfr_max_hold_ms = 500;
        if (change == 2) other.settings.keyint_sec = 2;
        EXPECT_FALSE(render(other).cache_hit) << "change " << change;
    }
}

// The cache checks a whole artifact's packet count against the runs these frames make; an
// artifact of other inputs (the other timing, a frame changed inside a held run) differs in that
// count too, and was logged as `cache_incomplete` (a damaged artifact, to an operator) before its
// key was compared. Those are plain misses; a truncated artifact is still incomplete.
TEST_F(FrameTimingTest, ArtifactsOfOtherInputsAreCacheMissesNotIncomplete) {
    const auto frames = story("story", kStory);
    auto vfr = request(frames, FrameTiming::Vfr, "out");
    vfr.settings.use_cache = true;
    auto cfr = vfr;
    cfr.settings.frame_timing = FrameTiming::Cfr;
    const auto first = render(vfr);
    EXPECT_FALSE(render(cfr).cache_hit);  // over the vfr artifact
    EXPECT_FALSE(render(vfr).cache_hit);  // over the cfr artifact
    // A frame inside the 45-frame hold shows another slide now.
    fs::copy_file(tmp_ / "pictures/frame_7.png", frames / "frame_30.png",
                  fs::copy_options::overwrite_existing);
    EXPECT_FALSE(render(vfr).cache_hit);
    EXPECT_TRUE(logs_->events("cache_incomplete").empty()) << logs_->joined();

    std::string artifact = read_text(first.path);
    artifact.resize(artifact.size() - 100);
    {
        std::ofstream out(first.path, std::ios::binary | std::ios::trunc);
        out << artifact;
    }
    EXPECT_FALSE(render(vfr).cache_hit);
    EXPECT_EQ(logs_->events("cache_incomplete").size(), 1u);
}

// The planner alone, over long stories no render test could afford: every run is one content,
// none longer than the hold or the keyint, the runs tile the frames, and keyframes (with the end
// of the video) are never more than the keyint apart.
TEST(HeldFramesTest, RunsTileTheFramesWithinTheHoldAndKeyframesWithinTheKeyint) {
    std::uint32_t state = 7;  // fixed seed: the same stories on every run
    const auto next = [&state](std::uint32_t n) {
        state = state * 1664525u + 1013904223u;
        return (state >> 8) % n;
    };
    for (const auto& [fps, keyint_sec, hold_ms] : std::vector<std::tuple<int, int, int>>{
             {30, 10, 1000}, {30, 1, 5000}, {25, 2, 333}, {1, 1, 1}, {120, 3, 60'000}}) {
        media::RenderSettings s;
        s.fps = fps;
        s.keyint_sec = keyint_sec;
        s.vfr_max_hold_ms = hold_ms;
        s.frame_timing = FrameTiming::Vfr;
        const std::int64_t keyint = std::int64_t{keyint_sec} * fps;
        const std::int64_t hold =
            std::clamp<std::int64_t>(std::int64_t{hold_ms} * fps / 1000, 1, keyint);
        std::vector<std::uint64_t> contents;
        while (contents.size() < 5000) {  // holds of 1 to 400 frames, 12 pictures
            const auto picture = next(12);
            contents.insert(contents.end(), 1 + next(400), picture);
        }
        media::HeldFrames held(s, static_cast<std::int64_t>(contents.size()));
        std::vector<media::HeldRun> runs;
        for (const auto c : contents) {
            if (auto run = held.add(c)) runs.push_back(*run);
        }
        if (auto run = held.finish()) runs.push_back(*run);
        ASSERT_FALSE(runs.empty());
        EXPECT_EQ(static_cast<std::int64_t>(runs.size()), media::encoded_frame_count(s, contents));
        std::int64_t expected_start = 0, last_key = -1;
        for (const auto& run : runs) {
            const std::string where = fmt::format("fps {} keyint {} s hold {} ms, run at {}", fps,
                                                  keyint_sec, hold_ms, run.start);
            EXPECT_EQ(run.start, expected_start) << where;
            EXPECT_GE(run.frames, 1) << where;
            EXPECT_LE(run.frames, hold) << where;
            for (std::int64_t k = run.start; k < run.start + run.frames; ++k) {
                ASSERT_EQ(contents[static_cast<std::size_t>(k)],
                          contents[static_cast<std::size_t>(run.start)])
                    << where;
            }
            if (run.keyframe) {
                EXPECT_LE(run.start - (last_key < 0 ? 0 : last_key), keyint) << where;
                last_key = run.start;
            }
            EXPECT_LE(run.start + run.frames - last_key, keyint) << where;
            expected_start = run.start + run.frames;
        }
        EXPECT_EQ(expected_start, static_cast<std::int64_t>(contents.size()));
        EXPECT_TRUE(runs.front().keyframe);
        EXPECT_EQ(runs.back().frames, 1) << "the last frame is a run of its own";
    }
}

TEST_F(FrameTimingTest, OutOfRangeTimingSettingsAreConfigErrorsNamingThem) {
    const auto names = [](media::Setting s) -> std::string_view {
        switch (s) {
            case media::Setting::KeyintSec:
                return "KEYINT_SEC";
            case media::Setting::VfrMaxHoldMs:
                return "VFR_MAX_HOLD_MS";
            default:
                return "OTHER";
        }
    };
    for (const auto& [keyint, hold, named] :
         std::vector<std::tuple<int, int, std::string>>{{0, 1000, "KEYINT_SEC"},
                                                        {301, 1000, "KEYINT_SEC"},
                                                        {10, 0, "VFR_MAX_HOLD_MS"},
                                                        {10, 60'001, "VFR_MAX_HOLD_MS"}}) {
        media::RenderSettings s;
        s.keyint_sec = keyint;
        s.vfr_max_hold_ms = hold;
        try {
            media::validate(s, names);
            ADD_FAILURE() << "keyint " << keyint << " hold " << hold << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
            EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(media::parse_frame_timing("FRAME_TIMING", "variable"), Error);
}

}  // namespace
}  // namespace renderer::testing

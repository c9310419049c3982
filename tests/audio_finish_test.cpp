// Audio finishing (DESIGN 3.1) through whole renders: fit (shortest, loop, pad), fades and
// EBU R128 loudness. Every track is a sine made in the test with libmp3lame; every result is
// decoded again and measured sample by sample, its durations read from the MP4's own boxes,
// its loudness measured with libavfilter's ebur128 (not the renderer's own meters).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>

#include "common/error.h"
#include "media/audio_finish.h"
#include "media/ffmpeg_cmd.h"
#include "media/loudness.h"
#include "media/preflight.h"
#include "media/probe.h"
#include "media/render_settings.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/lavfi_loudness.h"
#include "support/mp3_fixture.h"
#include "support/mp4_boxes.h"
#include "worker/render_config.h"

namespace renderer::testing {
namespace {

constexpr int kFps = 30;
constexpr int kRate = 44100;
// 441 Hz at 44.1 kHz: a period of exactly 100 samples, so a track of whole seconds holds whole
// periods and a gapless loop of it is the same sine without a break.
constexpr double kPitch = 441;
constexpr double kAmplitude = 0.5;

class AudioFinishTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        fs::create_directories(tmp_ / "music");
        fs::create_directories(tmp_ / "out");
    }

    fs::path track(const std::string& name, double seconds, double amplitude = kAmplitude,
                   double frequency = kPitch) {
        const fs::path path = tmp_ / "music" / name;
        write_mp3_sine(path, {.sample_rate = kRate,
                              .channels = 2,
                              .seconds = seconds,
                              .frequency = frequency,
                              .amplitude = amplitude});
        return path;
    }

    media::RenderRequest request(const std::string& track_name, int frames) {
        const fs::path dir = tmp_ / fmt::format("frames{}", frames);
        if (!fs::exists(dir)) write_frames(dir, frames, 32, 32);
        media::RenderRequest r;
        r.story_id = "S1";
        r.part_id = "P1";
        r.frames_dir = dir;
        r.music_dir = tmp_ / "music";
        r.music_select = "named:" + track_name;
        r.output_dir = tmp_ / "out";
        r.min_free_bytes = 1 << 20;
        r.settings.preset = "ultrafast";
        r.settings.threads = 2;
        r.settings.use_cache = false;
        return r;
    }

    media::RenderResult render(const media::RenderRequest& r) {
        media::CancelToken cancel;
        return media::render_slideshow(r, log::Context({{"story_id", r.story_id}}), cancel);
    }

    TempDir tmp_;
    std::shared_ptr<CaptureSink> logs_;
};

// The exact lengths the MP4 states (its edit lists), in samples and frames.
struct Lengths {
    std::uint64_t audio_samples = 0;
    double video_seconds = 0;
};
Lengths lengths(const fs::path& file) {
    const Mp4Movie movie = read_movie(read_bytes(file));
    const Mp4Track* audio = movie.track("soun");
    const Mp4Track* video = movie.track("vide");
    if (audio == nullptr || video == nullptr || audio->edits.empty() || video->edits.empty())
        return {};
    // segment_duration is in the movie timescale; samples = duration * rate / timescale.
    const std::uint64_t audio_ticks = audio->edits.back().segment_duration;
    return {.audio_samples = audio_ticks * kRate / movie.timescale,
            .video_seconds =
                static_cast<double>(video->edits.back().segment_duration) / movie.timescale};
}

// RMS of the left channel over [from, to) seconds.
double level(const DecodedPcm& pcm, double from, double to) {
    return rms(pcm.channels.at(0), static_cast<std::size_t>(from * pcm.sample_rate),
               static_cast<std::size_t>((to - from) * pcm.sample_rate));
}

constexpr double kSineRms = kAmplitude / std::numbers::sqrt2;

// ---- fit ---------------------------------------------------------------------------------------

struct FitCase {
    media::AudioFit fit;
    double track_sec;
    int frames;
    std::uint64_t audio_samples;  // exact
    double video_sec;
};

class FitDurations : public AudioFinishTest, public ::testing::WithParamInterface<FitCase> {};

TEST_P(FitDurations, AreExact) {
    const FitCase c = GetParam();
    track("t.mp3", c.track_sec);
    auto req = request("t.mp3", c.frames);
    req.settings.audio.fit = c.fit;
    const auto r = render(req);
    const Lengths l = lengths(r.path);
    EXPECT_EQ(l.audio_samples, c.audio_samples);
    EXPECT_DOUBLE_EQ(l.video_seconds, c.video_sec);
    EXPECT_EQ(r.frames, static_cast<std::int64_t>(std::llround(c.video_sec * kFps)));
}

INSTANTIATE_TEST_SUITE_P(
    AudioFit, FitDurations,
    ::testing::Values(
        // 1 s of music, 2 s of frames: shortest cuts the frames, loop and pad keep them all.
        FitCase{media::AudioFit::Shortest, 1.0, 60, 44100, 1.0},
        FitCase{media::AudioFit::Loop, 1.0, 60, 88200, 2.0},
        FitCase{media::AudioFit::Pad, 1.0, 60, 88200, 2.0},
        // 3 s of music, 2 s of frames: every mode cuts the music at the frames' end.
        FitCase{media::AudioFit::Shortest, 3.0, 60, 88200, 2.0},
        FitCase{media::AudioFit::Loop, 3.0, 60, 88200, 2.0},
        FitCase{media::AudioFit::Pad, 3.0, 60, 88200, 2.0},
        // 2.5 s of frames over 1 s of music: two seams and half a track.
        FitCase{media::AudioFit::Loop, 1.0, 75, 110250, 2.5}));

TEST_F(AudioFinishTest, TheFixtureDecodesToWholePeriods) {
    // The premise of the seam checks: the track is exactly 1 s, the encoder delay and padding
    // trimmed by the demuxer from the LAME header.
    EXPECT_EQ(decode_pcm(track("t.mp3", 1.0)).samples(), 44100u);
}

TEST_F(AudioFinishTest, LoopIsGaplessAndClickFreeAtEverySeam) {
    track("t.mp3", 1.0);
    auto req = request("t.mp3", 75);  // 2.5 s: seams at 1 s and 2 s
    req.settings.audio.fit = media::AudioFit::Loop;
    req.settings.audio.fade_out_ms = 0;
    const DecodedPcm out = decode_pcm(render(req).path);
    ASSERT_GE(out.samples(), 110250u);
    const auto& x = out.channels[0];
    const double steady = level(out, 0.3, 0.7);  // the sine as MP3 and AAC coding leave it
    // The sine's own largest step between samples, plus what MP3 and AAC coding add.
    const double sine_step = kAmplitude * 2 * std::numbers::pi * kPitch / kRate;
    for (const std::size_t seam : {44100u, 88200u}) {
        double step = 0;
        for (std::size_t i = seam - 200; i < seam + 200; ++i)
            step = std::max(step, std::abs(double{x[i + 1]} - x[i]));
        EXPECT_LT(step, sine_step * 1.25) << "a click at the seam at sample " << seam;
        // No gap: every period (100 samples) around the seam carries the whole sine.
        for (std::size_t from = seam - 300; from < seam + 300; from += 100) {
            EXPECT_NEAR(rms(x, from, 100), steady, steady * 0.03) << "a dip at sample " << from;
        }
    }
}

TEST_F(AudioFinishTest, LoopOfATrackShorterThanOneAacFrameFillsTheOutput) {
    // 10 ms (441 samples): shorter than one AAC frame (1024) and than one MP3 frame (1152).
    track("blip.mp3", 0.01);
    auto req = request("blip.mp3", 30);
    req.settings.audio.fit = media::AudioFit::Loop;
    req.settings.audio.fade_out_ms = 0;
    const auto r = render(req);
    EXPECT_EQ(lengths(r.path).audio_samples, 44100u);
    const DecodedPcm out = decode_pcm(r.path);
    for (double t = 0.05; t < 0.95; t += 0.1) {
        EXPECT_NEAR(level(out, t, t + 0.05), kSineRms, kSineRms * 0.15)
            << "the loop stops at " << t << " s";
    }
}

TEST_F(AudioFinishTest, LoopFromMemoryAndByDecodingAgainGiveTheSameSamples) {
    // The two ways a repeat is made (a short track from memory, a long one decoded again from its
    // start) against the track itself: sample-exact, before the encoder.
    const fs::path music = track("t.mp3", 0.5);
    media::LibavLogCapture capture(std::nullopt);
    const media::AudioPlan plan{.fit = media::AudioFit::Loop, .total = 3 * 22050 + 777};
    media::FinishedAudio from_memory(music, capture, plan);
    media::FinishedAudio decoded_again(music, capture, plan, /*memory_loop_samples=*/0);
    media::AudioSource once(music, capture);
    std::vector<float> track;
    while (auto f = once.read(1024)) {
        const auto* l = reinterpret_cast<const float*>(f->extended_data[0]);
        track.insert(track.end(), l, l + f->nb_samples);
    }
    ASSERT_EQ(track.size(), 22050u);
    std::int64_t at = 0;
    while (at < plan.total) {
        const auto a = from_memory.read(1000);
        const auto b = decoded_again.read(1000);
        ASSERT_EQ(a->nb_samples, b->nb_samples);
        for (int i = 0; i < a->nb_samples; ++i, ++at) {
            const float expected = track[static_cast<std::size_t>(at) % track.size()];
            ASSERT_EQ(reinterpret_cast<const float*>(a->extended_data[0])[i], expected)
                << "sample " << at;
            ASSERT_EQ(reinterpret_cast<const float*>(b->extended_data[0])[i], expected)
                << "sample " << at;
        }
    }
    EXPECT_EQ(at, plan.total);
    EXPECT_EQ(from_memory.repeats(), 3);
    EXPECT_EQ(decoded_again.repeats(), 3);
}

TEST_F(AudioFinishTest, PadAddsDigitalSilenceAfterTheTrack) {
    track("t.mp3", 1.0);
    auto req = request("t.mp3", 60);
    req.settings.audio.fit = media::AudioFit::Pad;
    const DecodedPcm out = decode_pcm(render(req).path);
    EXPECT_NEAR(level(out, 0.2, 0.9), kSineRms, kSineRms * 0.05);
    double peak = 0;
    for (std::size_t i = 46000; i < 88200; ++i)
        peak = std::max(peak, double{std::abs(out.channels[0][i])});
    EXPECT_LT(peak, 1e-4) << "after the track: silence";
}

// ---- fades -------------------------------------------------------------------------------------

TEST_F(AudioFinishTest, FadeOutWhereTheCutEndsInsideTheMusicFollowsAQuarterSine) {
    track("t.mp3", 4.0);
    const DecodedPcm out =
        decode_pcm(render(request("t.mp3", 60)).path);  // 2 s; default 1000 ms fade
    const double full = level(out, 0.2, 0.8);
    EXPECT_NEAR(full, kSineRms, kSineRms * 0.05);
    EXPECT_NEAR(level(out, 0.9, 0.99) / full, 1.0, 0.03) << "before the fade";
    // At its start (1.0 s), middle (1.5 s) and end (2.0 s): cos of a quarter turn's share.
    const auto expected = [](double t) { return std::sin(std::numbers::pi / 2 * (2.0 - t)); };
    for (const double t : {1.05, 1.5, 1.9}) {
        EXPECT_NEAR(level(out, t - 0.01, t + 0.01) / full, expected(t), 0.03) << "at " << t << " s";
    }
    EXPECT_LT(level(out, 1.99, 2.0) / full, 0.02) << "the end is silent";
}

TEST_F(AudioFinishTest, NoFadeWhereTheTrackEndsByItself) {
    track("t.mp3", 1.0);
    for (const auto fit : {media::AudioFit::Shortest, media::AudioFit::Pad}) {
        auto req = request("t.mp3", 60);  // the track (1 s) ends before the frames (2 s)
        req.settings.audio.fit = fit;
        const DecodedPcm out = decode_pcm(render(req).path);
        EXPECT_NEAR(level(out, 0.97, 0.995) / level(out, 0.2, 0.8), 1.0, 0.03)
            << media::to_string(fit);
    }
    auto req = request("t.mp3", 90);  // loop: 3 s is exactly three tracks
    req.settings.audio.fit = media::AudioFit::Loop;
    const DecodedPcm out = decode_pcm(render(req).path);
    EXPECT_NEAR(level(out, 2.97, 2.995) / level(out, 0.2, 0.8), 1.0, 0.03) << "loop";
}

TEST_F(AudioFinishTest, LoopEndingMidTrackFadesOut) {
    track("t.mp3", 1.0);
    auto req = request("t.mp3", 75);  // 2.5 s
    req.settings.audio.fit = media::AudioFit::Loop;
    const DecodedPcm out = decode_pcm(render(req).path);
    EXPECT_NEAR(level(out, 2.24, 2.26) / level(out, 0.2, 0.8),
                std::sin(std::numbers::pi / 2 * 0.25), 0.03);
}

TEST_F(AudioFinishTest, FadesAreAtMostHalfTheOutput) {
    track("t.mp3", 4.0);
    auto req = request("t.mp3", 60);  // 2 s
    req.settings.audio.fade_in_ms = 5000;
    req.settings.audio.fade_out_ms = 5000;
    const DecodedPcm out = decode_pcm(render(req).path);
    req.settings.audio.fade_in_ms = req.settings.audio.fade_out_ms = 0;
    const DecodedPcm flat = decode_pcm(render(req).path);
    const auto ratio = [&](double from, double to) {
        return level(out, from, to) / level(flat, from, to);
    };
    // Each fade is 1 s: in over [0, 1), out over [1, 2).
    EXPECT_NEAR(ratio(0.49, 0.51), std::sin(std::numbers::pi / 4), 0.03) << "fade-in middle";
    EXPECT_LT(ratio(0.0, 0.01), 0.03) << "fade-in start";
    EXPECT_NEAR(ratio(0.99, 1.01), 1.0, 0.03) << "between the fades";
    EXPECT_NEAR(ratio(1.49, 1.51), std::sin(std::numbers::pi / 4), 0.03) << "fade-out middle";
}

TEST(AudioPlan, FadesFollowTheFit) {
    using media::AudioFit;
    const media::AudioFinishSettings s{.fade_in_ms = 0, .fade_out_ms = 1000};
    EXPECT_EQ(media::plan_audio(s, 88200, 176400, 44100).fade_out, 44100) << "cut inside the music";
    EXPECT_EQ(media::plan_audio(s, 44100, 44100, 44100).fade_out, 0) << "the track ends at the cut";
    auto pad = s;
    pad.fit = AudioFit::Pad;
    EXPECT_EQ(media::plan_audio(pad, 88200, 44100, 44100).fade_out, 0);
    auto loop = s;
    loop.fit = AudioFit::Loop;
    EXPECT_EQ(media::plan_audio(loop, 132300, 44100, 44100).fade_out, 0) << "three whole repeats";
    EXPECT_EQ(media::plan_audio(loop, 110250, 44100, 44100).fade_out, 44100);
    EXPECT_EQ(media::plan_audio(loop, 30000, 44100, 44100).fade_out, 15000) << "at most half";
    EXPECT_EQ(media::fade_in_gain(0, 100), 0.0f);
}

// ---- loudness ----------------------------------------------------------------------------------

TEST_F(AudioFinishTest, LoudnessReachesTheTargetMeasuredIndependently) {
    // A quiet 1 kHz tone (about -29 LUFS) brought up to -16.
    track("quiet.mp3", 4.0, 0.05, 1000);
    auto req = request("quiet.mp3", 90);
    req.settings.audio.loudness_lufs = -16;
    const auto r = render(req);
    const LavfiLoudness m = lavfi_loudness(r.path);
    EXPECT_NEAR(m.integrated_lufs, -16, 0.5);
    EXPECT_LE(m.true_peak_dbtp, -1.0 + 0.1);
    ASSERT_TRUE(r.loudness.has_value());
    EXPECT_NEAR(r.loudness->lufs, -16, 0.1);
    EXPECT_NEAR(r.loudness->lufs, m.integrated_lufs, 0.1)
        << "the reported loudness is the delivered one";
    EXPECT_NEAR(r.loudness->true_peak_dbtp, m.true_peak_dbtp, 0.1);
    EXPECT_GT(r.loudness->gain_db, 10);
    // The same numbers are in the artifact's metadata and measured back by probe's meter.
    const auto info = media::probe_file(r.path);
    EXPECT_EQ(info.tags.count("loudness_lufs"), 1u);
    EXPECT_NEAR(std::strtod(info.tags.at("gain_db").c_str(), nullptr), r.loudness->gain_db, 0.01);
    EXPECT_NEAR(media::measure_file_loudness(r.path).integrated_lufs, m.integrated_lufs, 0.2);
}

TEST_F(AudioFinishTest, TheTruePeakCeilingLimitsTheGain) {
    // A tone (about -10.5 LUFS, its peak about -10.5 dBTP) asked to reach -5 LUFS under a -6 dBTP
    // ceiling: the ceiling stops the gain 1 dB short of the target.
    track("tone.mp3", 4.0, 0.3, 1000);
    auto req = request("tone.mp3", 90);
    req.settings.audio.loudness_lufs = -5;
    req.settings.audio.true_peak_dbtp = -6;
    const auto r = render(req);
    const LavfiLoudness m = lavfi_loudness(r.path);
    EXPECT_LE(m.true_peak_dbtp, -6.0 + 0.1);
    // AAC overshoots on the tone's attack by an amount that varies with the gain, so the gain
    // that meets the ceiling lands below it, but not far.
    EXPECT_GT(m.true_peak_dbtp, -6.0 - 1.0) << "the gain went up towards the ceiling";
    ASSERT_TRUE(r.loudness.has_value());
    EXPECT_LE(r.loudness->true_peak_dbtp, -6.0);
    EXPECT_LT(r.loudness->lufs, -5.5) << "the ceiling, not the target, set the gain";
    // What is reported is what was delivered.
    EXPECT_NEAR(r.loudness->true_peak_dbtp, m.true_peak_dbtp, 0.1);
    EXPECT_NEAR(r.loudness->lufs, m.integrated_lufs, 0.1);
}

TEST_F(AudioFinishTest, ASilentTrackWithATargetIsLeftSilentAndLogged) {
    track("silent.mp3", 2.0, 0.0);
    auto req = request("silent.mp3", 30);
    req.settings.audio.loudness_lufs = -16;
    const auto r = render(req);
    ASSERT_TRUE(r.loudness.has_value());
    EXPECT_EQ(r.loudness->gain_db, 0);
    EXPECT_FALSE(std::isfinite(r.loudness->lufs));
    const DecodedPcm out = decode_pcm(r.path);
    EXPECT_LT(rms(out.channels[0], 0, out.samples()), 1e-4);
    EXPECT_FALSE(logs_->events("loudness_silent").empty());
}

TEST_F(AudioFinishTest, OurMetersAgreeWithLibavfilterOnTheSameFile) {
    // The meters measured against each other (docs/DECISIONS.md): a tone and a mixed signal.
    track("a.mp3", 3.0, 0.3, 1000);
    track("b.mp3", 3.0, 0.2, 100);
    for (const char* name : {"a.mp3", "b.mp3"}) {
        const LavfiLoudness lavfi = lavfi_loudness(tmp_ / "music" / name);
        const media::LoudnessMeasure ours = media::measure_file_loudness(tmp_ / "music" / name);
        EXPECT_NEAR(ours.integrated_lufs, lavfi.integrated_lufs, 0.1) << name;
        EXPECT_NEAR(ours.true_peak_dbtp, lavfi.true_peak_dbtp, 0.1) << name;
    }
}

// ---- settings, cache key, determinism ----------------------------------------------------------

TEST(AudioSettings, OutOfRangeIsAConfigErrorNamingTheVariable) {
    const auto fails_naming = [](const media::RenderSettings& s, const std::string& name) {
        try {
            media::validate(s, worker::env_setting_names);  // the names the worker reads them by
            ADD_FAILURE() << "accepted, expected an error naming " << name;
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
            EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        }
    };
    media::RenderSettings s;
    s.audio.fade_in_ms = -1;
    fails_naming(s, "AUDIO_FADE_IN_MS");
    s = {};
    s.audio.fade_out_ms = 600001;
    fails_naming(s, "AUDIO_FADE_OUT_MS");
    s = {};
    s.audio.loudness_lufs = -80;
    fails_naming(s, "AUDIO_LOUDNESS");
    s = {};
    s.audio.true_peak_dbtp = 0.5;
    fails_naming(s, "AUDIO_TRUE_PEAK");
    EXPECT_THROW(media::parse_audio_fit_setting("AUDIO_FIT", "repeat"), Error);
    EXPECT_THROW(media::parse_audio_loudness("AUDIO_LOUDNESS", "loud"), Error);
    EXPECT_EQ(media::parse_audio_loudness("AUDIO_LOUDNESS", "off"), std::nullopt);
    EXPECT_EQ(media::parse_audio_loudness("AUDIO_LOUDNESS", "-16"), -16.0);
}

TEST_F(AudioFinishTest, FinishedRendersAreByteIdenticalAndKeyedByTheirSettings) {
    track("t.mp3", 1.0);
    auto req = request("t.mp3", 75);
    req.settings.audio = {.fit = media::AudioFit::Loop, .fade_in_ms = 200, .loudness_lufs = -18};
    const std::string first = read_bytes(render(req).path);
    const std::string second = read_bytes(render(req).path);
    EXPECT_TRUE(first == second) << "identical inputs and settings, identical bytes";

    // With the cache on, a change of any audio setting is a miss, the same settings a hit.
    req.settings.use_cache = true;
    EXPECT_TRUE(render(req).cache_hit) << "the uncached render stored its key";
    for (int change = 0; change < 5; ++change) {
        auto other = req;
        switch (change) {
            case 0:
                other.settings.audio.fit = media::AudioFit::Pad;
                break;
            case 1:
                other.settings.audio.fade_in_ms = 300;
                break;
            case 2:
                other.settings.audio.fade_out_ms = 500;
                break;
            case 3:
                other.settings.audio.loudness_lufs = -20;
                break;
            case 4:
                other.settings.audio.true_peak_dbtp = -2;
                break;
        }
        EXPECT_FALSE(render(other).cache_hit) << "change " << change;
        EXPECT_FALSE(render(req).cache_hit) << "back to the first settings after change " << change;
    }
}

TEST_F(AudioFinishTest, TheFfmpegCmdReproducesTheFitAndFades) {
    track("t.mp3", 1.0);
    auto req = request("t.mp3", 75);  // 2.5 s of a 1 s track
    req.settings.audio = {.fit = media::AudioFit::Loop, .fade_in_ms = 200, .fade_out_ms = 1000};
    const auto pf = media::preflight(req);
    auto argv = media::ffmpeg_argv(req, pf, tmp_ / "list.ffconcat", 2.5);
    const auto at = [&](const std::string& word) {
        return std::find(argv.begin(), argv.end(), word);
    };
    ASSERT_NE(at("-stream_loop"), argv.end());
    EXPECT_EQ(*(at("-stream_loop") + 1), "-1");
    EXPECT_EQ(*(at("-stream_loop") + 3), pf.music_path.string()) << "before the music's -i";
    ASSERT_NE(at("-af"), argv.end());
    EXPECT_EQ(*(at("-af") + 1),
              "afade=t=in:ss=0:ns=8820:curve=qsin,afade=t=out:ss=66150:ns=44100:curve=qsin");

    req.settings.audio = {.fit = media::AudioFit::Pad, .fade_out_ms = 1000};
    argv = media::ffmpeg_argv(req, pf, tmp_ / "list.ffconcat", 2.5);
    EXPECT_EQ(at("-stream_loop"), argv.end());
    ASSERT_NE(at("-af"), argv.end());
    EXPECT_EQ(*(at("-af") + 1), "apad") << "the track ends by itself: no fade";
}

TEST_F(AudioFinishTest, ALoudnessMeasureStopsWhenTheRenderIsCancelled) {
    // The measuring passes run before the first video frame and last as long as the audio: a
    // timeout or a lost lease must not wait for them. Cancelled before the render starts, no
    // measure completes (no `loudness` event) and nothing is left in the output directory.
    track("t.mp3", 4.0);
    auto req = request("t.mp3", 90);
    req.settings.audio.loudness_lufs = -16;
    media::CancelToken cancel;
    cancel.cancel(ErrorClass::Timeout);
    try {
        media::render_slideshow(req, log::Context({{"story_id", req.story_id}}), cancel);
        ADD_FAILURE() << "a cancelled render completed";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::Timeout);
    }
    EXPECT_TRUE(logs_->events("loudness").empty())
        << "the measure ran to its end although cancelled";
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
}

}  // namespace
}  // namespace renderer::testing

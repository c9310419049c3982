// The renderer's own BS.1770 meters (media/gated_loudness, media/true_peak) against libebur128,
// the reference implementation they replace for speed, on signals made here: the integrated
// loudness must agree within 0.01 LU, the true peak within 0.01 dB, on every sample rate and
// layout the renderer meets, through the gates, and where the true peak lies between samples.
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include <ebur128.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "media/gated_loudness.h"
#include "media/loudness.h"
#include "media/true_peak.h"
#include "support/bad_media.h"
#include "support/fixtures.h"
#include "support/mp3_fixture.h"

namespace renderer {
namespace {

using Planes = std::vector<std::vector<float>>;

struct Reference {
    double lufs;
    double peak;  // linear
};

// `map`, when given, places each channel (libebur128's default is by position, as for 5.1).
Reference libebur128(const Planes& planes, int rate, const std::vector<int>& map = {}) {
    const auto channels = static_cast<unsigned>(planes.size());
    ebur128_state* st = ebur128_init(channels, static_cast<unsigned long>(rate),
                                     EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
    for (unsigned c = 0; c < map.size(); ++c) ebur128_set_channel(st, c, map[c]);
    const std::size_t frames = planes[0].size();
    std::vector<float> interleaved(frames * channels);
    for (std::size_t i = 0; i < frames; ++i)
        for (unsigned c = 0; c < channels; ++c) interleaved[i * channels + c] = planes[c][i];
    ebur128_add_frames_float(st, interleaved.data(), frames);
    Reference r{};
    ebur128_loudness_global(st, &r.lufs);
    r.peak = 0;
    for (unsigned c = 0; c < channels; ++c) {
        double p = 0;
        ebur128_true_peak(st, c, &p);
        r.peak = std::max(r.peak, p);
    }
    ebur128_destroy(&st);
    return r;
}

// Ours, fed in pieces of `chunk` samples (the renderer feeds decoder frames of any size).
media::LoudnessMeasure ours(const Planes& planes, int rate, std::size_t chunk = 4096) {
    media::LoudnessMeter meter(static_cast<int>(planes.size()), rate);
    const std::size_t frames = planes[0].size();
    std::vector<const float*> at(planes.size());
    for (std::size_t done = 0; done < frames;) {
        const std::size_t n = std::min(chunk, frames - done);
        for (std::size_t c = 0; c < planes.size(); ++c) at[c] = planes[c].data() + done;
        meter.add_planar(at.data(), n);
        done += n;
    }
    return meter.result();
}

double db(double linear) { return 20 * std::log10(linear); }

void expect_agree(const Planes& planes, int rate, const char* what, std::size_t chunk = 4096) {
    const Reference ref = libebur128(planes, rate);
    const media::LoudnessMeasure m = ours(planes, rate, chunk);
    if (std::isfinite(ref.lufs)) {
        EXPECT_NEAR(m.integrated_lufs, ref.lufs, 0.01) << what;
    } else {
        EXPECT_FALSE(std::isfinite(m.integrated_lufs)) << what << ": " << m.integrated_lufs;
    }
    if (ref.peak > 0) {
        EXPECT_NEAR(m.true_peak_dbtp, db(ref.peak), 0.01) << what;
    } else {
        EXPECT_FALSE(std::isfinite(m.true_peak_dbtp)) << what;
    }
}

Planes sine(int channels, int rate, double seconds, double hz, double amplitude, double phase = 0) {
    const auto n = static_cast<std::size_t>(seconds * rate);
    Planes p(static_cast<std::size_t>(channels), std::vector<float>(n));
    for (std::size_t i = 0; i < n; ++i) {
        const auto v = static_cast<float>(
            amplitude *
            std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate + phase));
        for (auto& ch : p) ch[i] = v;
    }
    return p;
}

// Noise whose level steps between loud, quiet and silent passages: the gates decide the answer.
Planes dynamic_noise(int channels, int rate, double seconds, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    const auto n = static_cast<std::size_t>(seconds * rate);
    Planes p(static_cast<std::size_t>(channels), std::vector<float>(n));
    const double levels[] = {0.3, 0.02, 0.0, 0.1, 0.001, 0.25};
    for (std::size_t i = 0; i < n; ++i) {
        const double level = levels[(i / static_cast<std::size_t>(rate / 2)) % 6];
        for (std::size_t c = 0; c < p.size(); ++c)
            p[c][i] = static_cast<float>(level * (c + 1) * 0.5) * noise(gen);
    }
    return p;
}

TEST(LoudnessMeterTest, AgreesWithLibebur128OnTonesAtEveryRate) {
    for (int rate : {22050, 32000, 44100, 48000, 96000}) {
        expect_agree(sine(2, rate, 3.0, 997, 0.1), rate, "997 Hz stereo");
        expect_agree(sine(2, rate, 2.0, 60, 0.5), rate, "60 Hz (the high pass)");
        expect_agree(sine(2, rate, 2.0, 5000, 0.3), rate, "5 kHz (the shelf)");
    }
}

TEST(LoudnessMeterTest, AgreesWithLibebur128ThroughTheGatesAndOnEveryLayout) {
    for (int channels : {1, 2, 4, 5, 6, 8}) {
        expect_agree(dynamic_noise(channels, 48000, 7.3, 7), 48000, "dynamic noise");
        expect_agree(dynamic_noise(channels, 44100, 4.05, 11), 44100, "dynamic noise, 44.1 kHz");
    }
}

TEST(LoudnessMeterTest, TheChunkSizeFedChangesNothing) {
    const Planes p = dynamic_noise(2, 44100, 3.0, 3);
    const media::LoudnessMeasure whole = ours(p, 44100, p[0].size());
    for (std::size_t chunk : {1u, 7u, 63u, 64u, 65u, 1024u, 4410u}) {
        const media::LoudnessMeasure m = ours(p, 44100, chunk);
        EXPECT_NEAR(m.integrated_lufs, whole.integrated_lufs, 1e-9) << chunk;
        EXPECT_EQ(m.true_peak_dbtp, whole.true_peak_dbtp) << chunk;
    }
}

TEST(LoudnessMeterTest, SilenceAndShortAudioHaveNoLoudness) {
    expect_agree(Planes(2, std::vector<float>(48000, 0.0f)), 48000, "digital silence");
    expect_agree(sine(2, 48000, 0.35, 1000, 0.5), 48000, "shorter than one 400 ms block");
    expect_agree(sine(2, 48000, 2.0, 1000, 0.0002), 48000, "below the absolute gate");
}

TEST(LoudnessMeterTest, TruePeakFindsWhatLiesBetweenSamples) {
    // A quarter-rate tone sampled 45 degrees off its crests: every sample is at 0.707 of the
    // amplitude, the waveform between them reaches it: +3 dB over the sample peak.
    const Planes p = sine(2, 48000, 1.0, 12000, 0.9, std::numbers::pi / 4);
    const media::LoudnessMeasure m = ours(p, 48000);
    EXPECT_NEAR(m.true_peak_dbtp, db(0.9), 0.2) << "the crest between the samples";
    EXPECT_GT(m.true_peak_dbtp, db(0.9 * 0.7072) + 2.5) << "more than the sample peak";
    expect_agree(p, 48000, "quarter-rate tone");
    // A full-scale square wave overshoots between samples (Gibbs): the classic clipped master.
    Planes square(2, std::vector<float>(48000));
    for (std::size_t i = 0; i < 48000; ++i)
        square[0][i] = square[1][i] = ((i / 20) % 2 == 0) ? 1.0f : -1.0f;
    expect_agree(square, 48000, "full-scale square wave");
    EXPECT_GT(ours(square, 48000).true_peak_dbtp, 0.5);
}

TEST(LoudnessMeterTest, TheSkippedStretchesNeverHoldTheTruePeak) {
    // The meter skips stretches that cannot beat the peak found so far. A signal whose loudest
    // inter-sample peak comes late, after louder samples, in a quiet stretch between quieter
    // ones, and one whose peak is in its very last samples: the skipping must not lose them.
    for (std::uint32_t seed = 1; seed <= 5; ++seed) {
        Planes p = dynamic_noise(2, 44100, 2.0, seed);
        const std::size_t at = 44100 + seed * 977;
        for (std::size_t i = 0; i < 64; ++i)
            p[1][at + i] = ((i / 2) % 2 == 0) ? 0.95f : -0.95f;  // fs/4 square burst: overshoots
        expect_agree(p, 44100, "late inter-sample peak", 1000 + seed);
    }
    Planes tail(2, std::vector<float>(48000, 0.0f));
    tail[0][47998] = 0.9f;
    tail[0][47999] = -0.9f;
    const media::LoudnessMeasure m = ours(tail, 48000);
    EXPECT_GT(m.true_peak_dbtp, db(0.9)) << "the ringing after the last sample counts";
}

// A 32-bit float WAV (WAVE_FORMAT_EXTENSIBLE) whose channel mask names the speakers, as a
// multichannel master delivered for `renderer probe --loudness` would.
void write_float_wav(const std::filesystem::path& path, const Planes& planes, int rate,
                     std::uint32_t channel_mask) {
    std::string w;
    const auto put = [&w](std::uint32_t v, int bytes) {
        for (int i = 0; i < bytes; ++i) w += static_cast<char>((v >> (8 * i)) & 0xff);
    };
    const auto channels = static_cast<std::uint32_t>(planes.size());
    const auto frames = static_cast<std::uint32_t>(planes[0].size());
    const std::uint32_t block = 4 * channels;
    w += "RIFF";
    put(4 + 8 + 40 + 8 + block * frames, 4);
    w += "WAVEfmt ";
    put(40, 4);
    put(0xfffe, 2);  // WAVE_FORMAT_EXTENSIBLE
    put(channels, 2);
    put(static_cast<std::uint32_t>(rate), 4);
    put(static_cast<std::uint32_t>(rate) * block, 4);
    put(block, 2);
    put(32, 2);
    put(22, 2);
    put(32, 2);
    put(channel_mask, 4);
    // KSDATAFORMAT_SUBTYPE_IEEE_FLOAT
    const unsigned char guid[16] = {0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                    0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};
    w.append(reinterpret_cast<const char*>(guid), sizeof guid);
    w += "data";
    put(block * frames, 4);
    for (std::uint32_t i = 0; i < frames; ++i)
        for (const auto& ch : planes) put(std::bit_cast<std::uint32_t>(ch[i]), 4);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << w;
}

TEST(LoudnessMeterTest, ProbeWeighsEachChannelByItsSpeakerNotItsPosition) {
    // BS.1770 weighs a channel by where its speaker is: the LFE is left out, the surrounds count
    // +1.5 dB. A file that names its speakers (here by the WAV channel mask) is weighed by them,
    // as libavfilter's ebur128 does (its rule: LFE 0; back, side and top-back 1.41; others 1).
    // The reference is libebur128 with each channel placed at a speaker of that weight.
    constexpr int L = EBUR128_LEFT, Z = EBUR128_UNUSED, S = EBUR128_LEFT_SURROUND;
    struct Layout {
        const char* name;
        std::uint32_t mask;
        std::vector<int> map;
    };
    const Layout layouts[] = {
        // FL FR FC LFE BL BR SL SR: the sides (channels 7 and 8) are surrounds, not unused.
        {"7.1", 0x63f, {L, L, L, Z, S, S, S, S}},
        // FL FR LFE: the third channel is the LFE, not a centre.
        {"2.1", 0x00b, {L, L, Z}},
        // FL FR FC BC: the third is the centre, the fourth the back surround.
        {"4.0", 0x107, {L, L, L, S}},
    };
    testing::TempDir tmp;
    for (const Layout& layout : layouts) {
        const auto channels = static_cast<int>(layout.map.size());
        Planes p = dynamic_noise(channels, 48000, 4.1, 17);
        for (auto& ch : p)
            for (float& v : ch) v *= 0.2f;  // peaks below full scale, as a master's are
        const std::filesystem::path file = tmp / (std::string(layout.name) + ".wav");
        write_float_wav(file, p, 48000, layout.mask);
        const Reference ref = libebur128(p, 48000, layout.map);
        const media::LoudnessMeasure m = media::measure_file_loudness(file);
        EXPECT_NEAR(m.integrated_lufs, ref.lufs, 0.01) << layout.name;
        EXPECT_NEAR(m.true_peak_dbtp, db(ref.peak), 0.01) << layout.name;
    }
}

TEST(LoudnessMeterTest, ProbeRefusesAudioWithNonFiniteSamples) {
    // A float WAV can hold NaN or infinity (a broken mixer, a bad conversion). The filters'
    // state never recovers from one, so every block after it would silently drop out of the
    // gates: the file's loudness would be that of its first seconds. A non-finite sample is
    // bad input: a DecodeError naming the file, not a number.
    testing::TempDir tmp;
    for (float bad :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        Planes p = sine(2, 48000, 3.0, 997, 0.01);  // quiet
        const Planes loud = sine(2, 48000, 3.0, 997, 0.5);
        for (std::size_t c = 0; c < 2; ++c) p[c].insert(p[c].end(), loud[c].begin(), loud[c].end());
        p[0][48000 * 2] = bad;
        const std::filesystem::path file = tmp / "bad.wav";
        write_float_wav(file, p, 48000, 0x3);
        try {
            const media::LoudnessMeasure m = media::measure_file_loudness(file);
            ADD_FAILURE() << bad << ": measured " << m.integrated_lufs << " LUFS, "
                          << m.true_peak_dbtp << " dBTP";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::DecodeError) << e.what();
            EXPECT_NE(std::string(e.what()).find("bad.wav"), std::string::npos) << e.what();
        }
    }
}

TEST(LoudnessMeterTest, AgreesWithLibebur128AtTheOddRatesAndOnDcAndFullScaleNoise) {
    // Rates a probed file can have beyond the common ones (telephone 8 kHz, 11.025 kHz, 88.2 kHz),
    // a DC offset (the high pass removes it), full-scale noise (no stretch is skipped).
    for (int rate : {8000, 11025, 16000, 88200}) {
        const std::string r = std::to_string(rate);
        expect_agree(sine(2, rate, 3.0, 997, 0.1), rate, ("997 Hz at " + r).c_str());
        expect_agree(sine(1, rate, 3.0, 60, 0.5), rate, ("60 Hz mono at " + r).c_str());
        expect_agree(dynamic_noise(2, rate, 3.3, 5), rate, ("dynamic noise at " + r).c_str());
    }
    std::mt19937 gen(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    Planes noise(2, std::vector<float>(48000 * 3));
    Planes offset(2, std::vector<float>(48000 * 3));
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t i = 0; i < noise[c].size(); ++i) {
            noise[c][i] = uniform(gen);
            offset[c][i] = 0.4f + 0.5f * uniform(gen);
        }
    }
    expect_agree(noise, 48000, "full-scale white noise");
    expect_agree(offset, 48000, "noise on a DC offset of 0.4");
}

TEST(LoudnessMeterTest, TheTruePeakIsOversampledAtEveryRate) {
    // libebur128 oversamples 2x from 96 kHz and not at all from 192 kHz, so it is no reference
    // there (docs/DECISIONS.md): at 192 kHz it reads a quarter-rate tone's samples, 3 dB under
    // its crest. Ours runs the same 4x interpolator at every rate and finds the crest.
    for (int rate : {96000, 192000}) {
        Planes p = sine(1, rate, 1.0, rate / 4.0, 0.9, std::numbers::pi / 4);
        p[0].resize(p[0].size() + 100, 0.0f);
        const media::LoudnessMeasure m = ours(p, rate);
        EXPECT_NEAR(m.true_peak_dbtp, db(0.9), 0.2) << rate;
        EXPECT_GT(m.true_peak_dbtp, db(0.9 * 0.7072) + 2.5) << rate;
    }
}

TEST(LoudnessMeterTest, ProbeMeasuresEachPartOfATrackThatChangesChannelsAtItsOwnChannels) {
    // Joined MP3s (`cat a.mp3 b.mp3`) change channel count mid-file. Each part is measured with
    // its own channels: a mono part is one channel, not spread over a stereo mix, and a stereo
    // part is two, not folded into mono (either way 3 dB of peak appears or vanishes). A quiet
    // part (20 dB down) comes first, then the loud one: the true peak must be the loud part's
    // own, measured alone, and the loudness that of the same join made without the change (the
    // quiet part with the loud part's channels: the blocks across the join count either way).
    testing::TempDir tmp;
    const auto join = [&](const testing::Sine& a, const testing::Sine& b, const std::string& name) {
        testing::write_mp3_sine(tmp / "a.mp3", a);
        testing::write_mp3_sine(tmp / "b.mp3", b);
        testing::write_bytes(
            tmp / name, testing::read_bytes(tmp / "a.mp3") + testing::read_bytes(tmp / "b.mp3"));
        return media::measure_file_loudness(tmp / name);
    };
    for (const int loud_channels : {1, 2}) {
        const testing::Sine loud{.sample_rate = 44100,
                                 .channels = loud_channels,
                                 .seconds = 4.0,
                                 .frequency = 440,
                                 .amplitude = 0.5};
        testing::Sine quiet = loud;
        quiet.seconds = 1.0;
        quiet.amplitude = 0.05;
        const media::LoudnessMeasure unchanged = join(quiet, loud, "unchanged.mp3");
        quiet.channels = 3 - loud_channels;
        const media::LoudnessMeasure changed = join(quiet, loud, "changed.mp3");
        testing::write_mp3_sine(tmp / "loud.mp3", loud);
        const media::LoudnessMeasure alone = media::measure_file_loudness(tmp / "loud.mp3");
        EXPECT_NEAR(changed.integrated_lufs, unchanged.integrated_lufs, 0.05) << loud_channels;
        EXPECT_NEAR(changed.true_peak_dbtp, alone.true_peak_dbtp, 0.05) << loud_channels;
    }
}

TEST(LoudnessMeterTest, ProbeRefusesARateTooLowToMeasure) {
    // A WAV header can claim any rate. Below 8 kHz the K-weighting's 1.68 kHz shelf nears or
    // passes the Nyquist frequency (its filter turns unstable below 3.4 kHz: "silent"), and
    // below 5 Hz a 100 ms sub-block holds no sample at all (the meter looped for ever). Such a
    // file is bad input: a PreflightError naming it and the rate.
    testing::TempDir tmp;
    for (int rate : {2000, 4}) {
        const std::filesystem::path file = tmp / "low.wav";
        testing::write_bytes(file, testing::wav_file(2, rate, 20000));
        try {
            const media::LoudnessMeasure m = media::measure_file_loudness(file);
            ADD_FAILURE() << rate << " Hz: measured " << m.integrated_lufs << " LUFS";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::PreflightError) << e.what();
            EXPECT_NE(std::string(e.what()).find("low.wav"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(std::to_string(rate) + " Hz"), std::string::npos)
                << e.what();
        }
    }
}

TEST(LoudnessMeterTest, TheHighestRateAHeaderCanClaimDoesNotOverflow) {
    // A WAV header may claim up to INT_MAX Hz, and libavformat passes it on. The 100 ms sub-block
    // length must not overflow on the way (signed overflow: undefined, caught by UBSan in
    // scripts/sanitize.sh): a second of samples there is far shorter than one block.
    const int rate = std::numeric_limits<int>::max();
    const Planes p = sine(2, 48000, 1.0, 997, 0.5);
    const media::LoudnessMeasure m = ours(p, rate);
    EXPECT_FALSE(std::isfinite(m.integrated_lufs)) << m.integrated_lufs;
    EXPECT_NEAR(m.true_peak_dbtp, db(0.5), 0.01);
}

TEST(LoudnessMeterTest, TheSkipNeverLosesThePeakOnRandomSignals) {
    // Random signals built to put inter-sample peaks where the skip looks: levels that jump
    // every few hundred samples, alternating runs (the interpolator's largest gains) mixed with
    // noise, both channels different, fed in random chunk sizes. Each ends in silence, so the
    // ringing after the last sample (which libebur128 does not count) is in both measures.
    std::mt19937 gen(99);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int trial = 0; trial < 60; ++trial) {
        const std::size_t n = 5000 + gen() % 20000;
        Planes p(2, std::vector<float>(n + 200, 0.0f));
        for (auto& ch : p) {
            float level = 0.1f;
            for (std::size_t i = 0; i < n; ++i) {
                if (gen() % 500 == 0) level = std::abs(uniform(gen));
                const bool noise = gen() % 7 == 0;
                const bool up = (i / (1 + gen() % 3)) % 2 == 0;
                ch[i] = level * (noise ? uniform(gen) : up ? 1.0f : -1.0f);
            }
        }
        const Reference ref = libebur128(p, 48000);
        const media::LoudnessMeasure m = ours(p, 48000, 1 + gen() % 3000);
        EXPECT_NEAR(m.true_peak_dbtp, db(ref.peak), 0.01) << "trial " << trial;
    }
}

}  // namespace
}  // namespace renderer

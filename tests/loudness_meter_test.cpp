// The renderer's own BS.1770 meters (media/gated_loudness, media/true_peak) against libebur128,
// the reference implementation they replace for speed, on signals made here: the integrated
// loudness must agree within 0.01 LU, the true peak within 0.01 dB, on every sample rate and
// layout the renderer meets, through the gates, and where the true peak lies between samples.
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include <ebur128.h>
#include <gtest/gtest.h>

#include "media/gated_loudness.h"
#include "media/loudness.h"
#include "media/true_peak.h"

namespace renderer {
namespace {

using Planes = std::vector<std::vector<float>>;

struct Reference {
    double lufs;
    double peak;  // linear
};

Reference libebur128(const Planes& planes, int rate) {
    const auto channels = static_cast<unsigned>(planes.size());
    ebur128_state* st = ebur128_init(channels, static_cast<unsigned long>(rate),
                                     EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
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

}  // namespace
}  // namespace renderer

#include "media/true_peak.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace renderer::media {
namespace {

// The interpolator: output p/4 of the way from sample n to n+1 (p = 1..3) is the sum over
// k = -5..6 of x[n+k] times a Hann-windowed sinc at p/4 - k, the window spanning ±6 input
// samples (49 taps at the 4x rate). Phase 0 falls on the samples themselves: it is the sample.
constexpr int kPhases = 4;
constexpr int kTaps = 12;   // per phase
constexpr int kPast = 5;    // taps before the output's sample
constexpr int kFuture = 6;  // taps after it
constexpr int kKeep = kPast + kFuture;
constexpr std::size_t kBlock = 64;  // outputs computed (or skipped) together
// Stretches whose every input is below 2^-100 (-602 dBFS) are not interpolated: their sample
// peak stands. Nothing that quiet matters to a loudness measure, and interpolating it would run
// on subnormal floats, which x86 computes in microcode: 20 times the cost of the whole meter.
constexpr float kNegligible = 0x1p-100f;

struct Interpolator {
    std::array<std::array<float, kTaps>, kPhases> taps{};
    float max_gain = 1;  // the most any output can be, as a multiple of its inputs' magnitude
};

Interpolator make_interpolator() {
    Interpolator f;
    constexpr double half_width = kFuture;
    for (int p = 1; p < kPhases; ++p) {
        double gain = 0;
        for (int i = 0; i < kTaps; ++i) {
            const int k = i - kPast;
            const double tau = static_cast<double>(p) / kPhases - k;
            const double sinc =
                std::sin(std::numbers::pi * tau) / (std::numbers::pi * tau);  // tau never 0
            const double window = 0.5 * (1 + std::cos(std::numbers::pi * tau / half_width));
            f.taps[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)] =
                static_cast<float>(sinc * window);
            gain += std::abs(static_cast<float>(sinc * window));
        }
        f.max_gain = std::max(f.max_gain, static_cast<float>(gain));
    }
    // A margin over float rounding in the sums, so the skip test never skips a true maximum.
    f.max_gain *= 1.0001f;
    return f;
}

const Interpolator& interpolator() {
    static const Interpolator f = make_interpolator();
    return f;
}

// The bit pattern of |v|: for non-negative floats the integer order is the float order, and an
// integer maximum vectorises where a float one (NaN and signed-zero rules) does not.
inline std::uint32_t magnitude_bits(float v) {
    return std::bit_cast<std::uint32_t>(v) & 0x7fffffffu;
}

// The largest |output| of phases 1..3 for the `count` (<= kBlock) outputs whose own samples are
// x[0..count): x[-kPast] to x[kBlock - 1 + kFuture] must be readable. Vectorised across outputs
// (the tap loop unrolls); each output sums its taps in one order, so the result does not depend
// on the vector width the CPU offers.
// Not under ThreadSanitizer: GCC instruments the clones' ifunc resolver, which the dynamic
// loader runs before the TSan runtime is up (the binary crashed at load).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
float block_peak(const Interpolator& f, const float* x, std::size_t count) {
    std::array<std::uint32_t, kBlock> best{};
    const float* from = x - kPast;
    const auto& t1 = f.taps[1];
    const auto& t2 = f.taps[2];
    const auto& t3 = f.taps[3];
    for (std::size_t n = 0; n < kBlock; ++n) {
        float a1 = 0, a2 = 0, a3 = 0;
        for (std::size_t i = 0; i < kTaps; ++i) {
            const float v = from[n + i];
            a1 += t1[i] * v;
            a2 += t2[i] * v;
            a3 += t3[i] * v;
        }
        best[n] = std::max({magnitude_bits(a1), magnitude_bits(a2), magnitude_bits(a3)});
    }
    std::uint32_t top = 0;
    for (std::size_t n = 0; n < count; ++n) top = std::max(top, best[n]);
    return std::bit_cast<float>(top);
}

float magnitude_peak(const float* x, std::size_t count) {
    std::uint32_t top = 0;
    for (std::size_t i = 0; i < count; ++i) top = std::max(top, magnitude_bits(x[i]));
    return std::bit_cast<float>(top);
}

}  // namespace

TruePeakMeter::TruePeakMeter(int channels)
    : buffers_(static_cast<std::size_t>(channels), std::vector<float>(kKeep, 0.0f)) {}

void TruePeakMeter::set_channels(int channels) {
    peak_ = static_cast<float>(peak());  // a float widened to double: exact both ways
    buffers_.assign(static_cast<std::size_t>(channels), std::vector<float>(kKeep, 0.0f));
}

void TruePeakMeter::add_planar(const float* const* planes, std::size_t frames) {
    // Phase 0 first, over every channel: the higher the peak found early, the more of the
    // interpolation the bound lets us skip.
    // NaN and infinity have the largest magnitude bits, so this scan finds them too.
    for (std::size_t c = 0; c < buffers_.size(); ++c) {
        const float m = magnitude_peak(planes[c], frames);
        if (!std::isfinite(m)) finite_ = false;
        peak_ = std::max(peak_, m);
    }
    for (std::size_t c = 0; c < buffers_.size(); ++c) add_channel(c, planes[c], frames);
}

void TruePeakMeter::add_channel(std::size_t channel, const float* samples, std::size_t frames) {
    const Interpolator& f = interpolator();
    std::vector<float>& buf = buffers_[channel];
    // buf: the kKeep samples kept from before, the new ones, and kBlock of zeros so the last
    // block can read a whole vector's width.
    buf.resize(kKeep);
    buf.insert(buf.end(), samples, samples + frames);
    const std::size_t outputs = frames;  // outputs whose own sample is buf[kPast .. kPast+frames)
    buf.resize(buf.size() + kBlock, 0.0f);
    for (std::size_t first = 0; first < outputs; first += kBlock) {
        const std::size_t count = std::min(kBlock, outputs - first);
        const float* x = buf.data() + kPast + first;
        // Every input these outputs read, times the interpolator's largest gain, bounds them.
        const float reach = magnitude_peak(x - kPast, count + kPast + kFuture);
        if (reach * f.max_gain <= peak_ || reach < kNegligible) continue;
        peak_ = std::max(peak_, block_peak(f, x, count));
    }
    // Keep the last kKeep samples (the outputs of the final kFuture of them still need their
    // future: they are computed with the next call, or at the end with silence).
    const std::size_t end = kKeep + frames;
    std::copy(buf.begin() + static_cast<std::ptrdiff_t>(end - kKeep),
              buf.begin() + static_cast<std::ptrdiff_t>(end), buf.begin());
    buf.resize(kKeep);
}

double TruePeakMeter::peak() const {
    // The outputs still owed: those of the last kFuture samples, and the ringing into the
    // silence after them, read against zeros.
    const Interpolator& f = interpolator();
    float best = peak_;
    for (const std::vector<float>& kept : buffers_) {
        std::vector<float> buf(kept);
        buf.resize(kKeep + kKeep + kBlock, 0.0f);
        best = std::max(best, block_peak(f, buf.data() + kPast, kKeep));
    }
    return best;
}

}  // namespace renderer::media

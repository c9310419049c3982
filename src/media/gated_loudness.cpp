#include "media/gated_loudness.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace renderer::media {
namespace {

// The K-weighting's analogue prototypes (BS.1770-4's 48 kHz coefficients come from these), made
// digital for any rate by the bilinear transform.
constexpr double kShelfHz = 1681.974450955533;
constexpr double kShelfGainDb = 3.999843853973347;
constexpr double kShelfQ = 0.7071752369554196;
constexpr double kHighPassHz = 38.13547087602444;
constexpr double kHighPassQ = 0.5003270373238773;

// Gate thresholds in block energy (LUFS = -0.691 + 10 log10(energy)).
double energy_of(double lufs) { return std::pow(10.0, (lufs + 0.691) / 10.0); }
double lufs_of(double energy) { return -0.691 + 10.0 * std::log10(energy); }

}  // namespace

// BS.1770's channel weights by position in the default layouts: left, right and centre 1.0,
// surrounds 1.41 (+1.5 dB), the LFE (4th of 6) left out.
std::vector<double> GatedLoudness::positional_weights(int channels) {
    std::vector<double> weights;
    for (int c = 0; c < channels; ++c) {
        if (channels == 4) {
            weights.push_back(c < 2 ? 1.0 : 1.41);
        } else if (channels == 5) {
            weights.push_back(c < 3 ? 1.0 : 1.41);
        } else {
            weights.push_back(c < 3 ? 1.0 : (c == 3 || c >= 6) ? 0.0 : 1.41);
        }
    }
    return weights;
}

GatedLoudness::GatedLoudness(int channels, int sample_rate)
    : GatedLoudness(positional_weights(channels), sample_rate) {}

GatedLoudness::GatedLoudness(const std::vector<double>& weights, int sample_rate)
    // 100 ms rounded as libebur128 rounds it, in 64 bits: a header may claim INT_MAX Hz.
    : subblock_length_(static_cast<std::size_t>((std::int64_t{sample_rate} + 5) / 10)) {
    if (sample_rate < kMinSampleRate)
        throw std::invalid_argument("GatedLoudness: sample rate below kMinSampleRate");
    const double rate = sample_rate;
    {
        const double k = std::tan(std::numbers::pi * kShelfHz / rate);
        const double vh = std::pow(10.0, kShelfGainDb / 20.0);
        const double vb = std::pow(vh, 0.4996667741545416);
        const double a0 = 1.0 + k / kShelfQ + k * k;
        shelf_ = {.b0 = (vh + vb * k / kShelfQ + k * k) / a0,
                  .b1 = 2.0 * (k * k - vh) / a0,
                  .b2 = (vh - vb * k / kShelfQ + k * k) / a0,
                  .a1 = 2.0 * (k * k - 1.0) / a0,
                  .a2 = (1.0 - k / kShelfQ + k * k) / a0};
    }
    {
        const double k = std::tan(std::numbers::pi * kHighPassHz / rate);
        const double a0 = 1.0 + k / kHighPassQ + k * k;
        high_pass_ = {.b0 = 1.0,
                      .b1 = -2.0,
                      .b2 = 1.0,
                      .a1 = 2.0 * (k * k - 1.0) / a0,
                      .a2 = (1.0 - k / kHighPassQ + k * k) / a0};
    }
    set_channels(weights);
}

void GatedLoudness::set_channels(const std::vector<double>& weights) {
    channels_.clear();
    for (double w : weights) channels_.push_back({.weight = w});
}

void GatedLoudness::add_planar(const float* const* planes, std::size_t frames) {
    std::size_t done = 0;
    while (done < frames) {
        const std::size_t n = std::min(frames - done, subblock_length_ - subblock_filled_);
        std::vector<const float*> at(channels_.size());
        for (std::size_t c = 0; c < channels_.size(); ++c) at[c] = planes[c] + done;
        filter_into_subblocks(at.data(), n);
        done += n;
        subblock_filled_ += n;
        if (subblock_filled_ == subblock_length_) {
            subblocks_.push_back(subblock_energy_);
            subblock_energy_ = 0;
            subblock_filled_ = 0;
            // A state that has decayed below anything audible is set to zero, so a long silence
            // does not run on denormals (at most once per 100 ms: the same points on any CPU).
            for (ChannelState& ch : channels_) {
                for (double* s : {&ch.shelf[0], &ch.shelf[1], &ch.high_pass[0], &ch.high_pass[1]})
                    if (std::abs(*s) < 1e-30) *s = 0;
            }
        }
    }
}

// Runs `n` samples of each channel through the two filters and adds their weighted squares to
// the current sub-block. The filters are recursive, so one channel's samples are a chain of
// dependent operations; two channels side by side give the CPU two chains to overlap.
void GatedLoudness::filter_into_subblocks(const float* const* planes, std::size_t n) {
    const Biquad f = shelf_;
    const Biquad g = high_pass_;
    const auto step = [&](ChannelState& st, double x) {
        const double y1 = f.b0 * x + st.shelf[0];
        st.shelf[0] = f.b1 * x - f.a1 * y1 + st.shelf[1];
        st.shelf[1] = f.b2 * x - f.a2 * y1;
        const double y2 = g.b0 * y1 + st.high_pass[0];
        st.high_pass[0] = g.b1 * y1 - g.a1 * y2 + st.high_pass[1];
        st.high_pass[1] = g.b2 * y1 - g.a2 * y2;
        return y2 * y2;
    };
    std::size_t c = 0;
    for (; c + 1 < channels_.size(); c += 2) {
        ChannelState a = channels_[c];
        ChannelState b = channels_[c + 1];
        double sum_a = 0, sum_b = 0;
        for (std::size_t i = 0; i < n; ++i) {
            sum_a += step(a, planes[c][i]);
            sum_b += step(b, planes[c + 1][i]);
        }
        channels_[c] = a;
        channels_[c + 1] = b;
        subblock_energy_ += a.weight * sum_a + b.weight * sum_b;
    }
    if (c < channels_.size()) {
        ChannelState a = channels_[c];
        double sum_a = 0;
        for (std::size_t i = 0; i < n; ++i) sum_a += step(a, planes[c][i]);
        channels_[c] = a;
        subblock_energy_ += a.weight * sum_a;
    }
}

double GatedLoudness::integrated_lufs() const {
    // Blocks of four sub-blocks (400 ms), one starting at every sub-block (75 % overlap).
    std::vector<double> blocks;
    const double block_samples = 4.0 * static_cast<double>(subblock_length_);
    for (std::size_t i = 0; i + 4 <= subblocks_.size(); ++i) {
        const double energy =
            (subblocks_[i] + subblocks_[i + 1] + subblocks_[i + 2] + subblocks_[i + 3]) /
            block_samples;
        if (energy >= energy_of(-70.0)) blocks.push_back(energy);
    }
    const auto mean_above = [&](double threshold, double& mean) {
        double sum = 0;
        std::size_t count = 0;
        for (double e : blocks) {
            if (e >= threshold) {
                sum += e;
                ++count;
            }
        }
        if (count == 0) return false;
        mean = sum / static_cast<double>(count);
        return true;
    };
    double absolute_mean = 0;
    if (!mean_above(0.0, absolute_mean)) return -std::numeric_limits<double>::infinity();
    const double relative_gate = absolute_mean * std::pow(10.0, -10.0 / 10.0);
    double gated_mean = 0;
    if (!mean_above(relative_gate, gated_mean)) return -std::numeric_limits<double>::infinity();
    return lufs_of(gated_mean);
}

}  // namespace renderer::media

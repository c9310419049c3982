// Integrated loudness as ITU-R BS.1770-4 defines it: each channel K-weighted (a high shelf and a
// high pass), mean squares over 400 ms blocks every 100 ms, channel weights, the absolute gate at
// -70 LUFS and the relative gate 10 LU below the absolute-gated mean.
//
// Why our own and not libebur128's: libebur128 took 0.78 s of CPU for a 15-minute stereo track
// (a fourth-order filter per sample with per-sample bookkeeping), most of the one-second budget
// the loudness measure has (issue 13). This meter runs the same filters (coefficients derived for
// the sample rate from the same analogue prototypes) two channels at a time, and agrees with
// libebur128 within 0.01 LU on the tests' signals (tests/loudness_meter_test.cpp, which uses
// libebur128 as its reference). Built with -ffp-contract=off, like TruePeakMeter: the same
// rounding on every CPU.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace renderer::media {

class GatedLoudness {
  public:
    // The lowest rate measured (MP3's lowest, and the lowest the tests hold to libebur128):
    // the K-weighting's 1.68 kHz shelf needs the Nyquist frequency well above it (its filter is
    // unstable below 3.4 kHz), and a 100 ms sub-block needs samples. Lower: std::invalid_argument.
    static constexpr int kMinSampleRate = 8000;

    // Channels weighed by their position, as libebur128 does by default: L, R, C, LFE (left
    // out), Ls, Rs; 4 channels L R Ls Rs, 5 channels L R C Ls Rs; any further ones left out.
    GatedLoudness(int channels, int sample_rate);
    // Each channel's BS.1770 weight given: 1.0, 1.41 for a surround, 0 to leave it out (LFE).
    GatedLoudness(const std::vector<double>& weights, int sample_rate);

    static std::vector<double> positional_weights(int channels);

    // From here on the audio has these channels, weighed so: their filters start from silence,
    // the 100 ms sub-blocks run on across the change, so the gates see one programme.
    void set_channels(const std::vector<double>& weights);

    // `frames` samples of each of the `channels` planes.
    void add_planar(const float* const* planes, std::size_t frames);

    // LUFS; -infinity when no block passes the gates (silence, or less than 400 ms of audio).
    double integrated_lufs() const;

  private:
    struct Biquad {
        double b0, b1, b2, a1, a2;
    };
    struct ChannelState {
        double weight;
        std::array<double, 2> shelf{};  // transposed direct form II states
        std::array<double, 2> high_pass{};
    };

    void filter_into_subblocks(const float* const* planes, std::size_t frames);

    Biquad shelf_{};
    Biquad high_pass_{};
    std::vector<ChannelState> channels_;
    std::size_t subblock_length_;      // samples in 100 ms
    std::size_t subblock_filled_ = 0;  // samples in the sub-block being summed
    double subblock_energy_ = 0;       // its weighted sum of squares so far
    std::vector<double> subblocks_;    // every finished sub-block's weighted sum of squares
};

}  // namespace renderer::media

// EBU R128 / ITU-R BS.1770-4 measurement: integrated loudness (gated, LUFS) and true peak (4x
// oversampled, dBTP), by our own meters (media/gated_loudness.h and media/true_peak.h say why:
// libebur128 took 3.6 s of CPU for a 15-minute track; the tests hold these to it). The meter of
// the finished audio (AUDIO_LOUDNESS) and of `renderer probe --loudness FILE`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "media/av_ptr.h"
#include "media/cancel_token.h"
#include "media/gated_loudness.h"
#include "media/true_peak.h"

extern "C" {
struct AVFrame;
}

namespace renderer::media {

struct LoudnessMeasure {
    double integrated_lufs = 0;  // -inf when nothing passes the -70 LUFS gate (silence)
    double true_peak_dbtp = 0;   // -inf for digital silence
};

class LoudnessMeter {
  public:
    // Channels weighed by position (GatedLoudness), as for the render's stereo.
    LoudnessMeter(int channels, int sample_rate);
    // Each channel's BS.1770 weight given (speaker_weights).
    LoudnessMeter(const std::vector<double>& weights, int sample_rate);

    // From here on the audio has these channels (a joined file's next part): see
    // GatedLoudness::set_channels and TruePeakMeter::set_channels.
    void set_channels(const std::vector<double>& weights);

    // A frame of `channels` float planar channels at `sample_rate`.
    void add_planar(const AVFrame& frame);
    // `frames` samples of each channel's plane.
    void add_planar(const float* const* planes, std::size_t frames);
    LoudnessMeasure result() const;
    // False once a NaN or infinite sample has been added: the K-weighting filters never recover
    // from one (every later block would fall out of the gates), so there is no result to give.
    bool finite() const { return true_peak_.finite(); }

  private:
    GatedLoudness loudness_;
    TruePeakMeter true_peak_;
    int channels_;
};

// The gain that brings `measure` to `target_lufs` without its true peak passing
// `ceiling_dbtp` (one static gain: never a limiter). Silence (no integrated loudness) gets 0 dB:
// there is nothing to bring to a level, and no gain could.
struct LoudnessGain {
    double gain_db = 0;
    bool silent = false;        // nothing above the gate: left as it is
    bool peak_limited = false;  // the ceiling, not the target, set the gain
};
LoudnessGain loudness_gain(const LoudnessMeasure& measure, double target_lufs, double ceiling_dbtp);

// The loudness of the finished audio (`plan`, over the track at `path`) as the listener gets it:
// encoded to AAC at `bit_rate` as the render encodes it, decoded again, and measured. The codec
// moves the true peak (up to about half a dB on a sharp attack), so a gain computed before it
// would break the ceiling; AAC at these rates scales with its input, so the gain computed from
// this measure moves the delivered loudness and peak by itself.
class LibavLogCapture;
struct AudioPlan;
// The finished audio as it goes into the encoder: fast (no AAC), but the codec's overshoot
// is not in it, so it only gives a first estimate of the gain.
// Both measures check `cancel` (when given) between frames and throw Error(its reason), and
// throw Error(DecodeError) on a NaN or infinite sample.
LoudnessMeasure measure_finished(const std::filesystem::path& path, LibavLogCapture& log,
                                 const AudioPlan& plan, const CancelToken* cancel = nullptr);
// The AAC packets of a measured encode, kept so the render writes them instead of encoding the
// same audio again: `after_frame[i]` packets came out of the encoder after its i-th frame, the
// last entry after the flush.
struct EncodedAudio {
    std::vector<PacketPtr> packets;
    std::vector<int> after_frame;
};
LoudnessMeasure measure_delivered(const std::filesystem::path& path, LibavLogCapture& log,
                                  const AudioPlan& plan, std::int64_t bit_rate,
                                  EncodedAudio* keep = nullptr,
                                  const CancelToken* cancel = nullptr);

// Measures the best audio stream of any media file (`renderer probe --loudness`) at its own rate
// and channel count. Throws Error(PreflightError) when the file has no decodable audio or its
// rate is below GatedLoudness::kMinSampleRate,
// Error(DecodeError) when it holds a NaN or infinite sample.
LoudnessMeasure measure_file_loudness(const std::filesystem::path& path);

}  // namespace renderer::media

// The background track: demux the MP3's audio stream only (cover art is a video stream and is
// ignored), decode, resample to stereo float planar at an AAC rate, and hand out frames of the
// encoder's size through a FIFO. Every decoded frame is checked against the resampler's input:
// a track whose rate, channel count or sample format changes mid-file (concatenated MP3s) is
// resampled correctly across the change.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "media/av_ptr.h"
#include "media/decoding_loop.h"
#include "media/libav_log.h"

namespace renderer::media {

// The rate a track whose first frame is at `decoded_rate` is encoded at: the same when AAC has
// it (every MPEG audio rate), else 48 kHz.
int output_sample_rate(int decoded_rate);

// An empty stereo planar-float frame of `samples` at `rate`: the AAC encoder's input. An
// allocation failure throws Error(`cls`).
FramePtr make_stereo_frame(int rate, int samples, ErrorClass cls);

class AudioSource {
  public:
    // Opens the track and decodes its first frame, whose rate sets the output rate. Throws
    // Error(DecodeError).
    AudioSource(const std::filesystem::path& path, LibavLogCapture& log);
    ~AudioSource();
    AudioSource(const AudioSource&) = delete;
    AudioSource& operator=(const AudioSource&) = delete;

    // The rate we resample to: the first decoded frame's when AAC supports it, else 48 kHz.
    int sample_rate() const { return out_rate_; }

    // Up to `max_samples` samples (fewer only at the end of the track), or nullptr at the end.
    FramePtr read(int max_samples);

    // Packets read so far and how many of them the decoder refused (they are skipped).
    const DecodeErrors& decode_errors() const { return loop_->errors(); }

    // Resamplers configured so far: one, plus one per change of format. Each rounds the samples
    // it converts to whole output samples, so each may give one sample fewer than exact.
    int resampler_configs() const { return resampler_configs_; }

  private:
    bool next_frame();                      // into frame_; false at the end
    bool fill(int wanted);                  // false once nothing more can be produced
    void resample(const AVFrame* decoded);  // nullptr: flush what the resampler holds back
    void configure_resampler(const AVFrame& decoded);

    LibavLogCapture& log_;
    InputFormatPtr fmt_;
    CodecContextPtr dec_;
    // Routes are declared after what they route, so they detach before it is freed.
    LibavLogRoute fmt_route_;
    LibavLogRoute dec_route_;
    std::optional<DecodingLoop> loop_;
    SwrContextPtr swr_;
    LibavLogRoute swr_route_;
    AudioFifoPtr fifo_;
    FramePtr frame_;
    bool frame_pending_ = false;  // frame_ holds a decoded frame not yet resampled
    // The input format swr_ was configured for.
    int in_rate_ = 0;
    int in_format_ = -1;
    AVChannelLayout in_layout_{};
    int out_rate_ = 48000;
    int resampler_configs_ = 0;
    bool drained_ = false;
};

}  // namespace renderer::media

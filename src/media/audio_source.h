// The background track: demux the MP3's audio stream only (cover art is a video stream and is
// ignored), decode, resample to stereo float planar at an AAC rate, and hand out frames of the
// encoder's size through a FIFO.
#pragma once

#include <cstdint>
#include <filesystem>

#include "media/av_ptr.h"

namespace renderer::media {

class LibavLogCapture;

class AudioSource {
public:
    AudioSource(const std::filesystem::path& path, LibavLogCapture& log);
    ~AudioSource();
    AudioSource(const AudioSource&) = delete;
    AudioSource& operator=(const AudioSource&) = delete;

    // The rate we resample to: the source's when AAC supports it, else 48 kHz.
    int sample_rate() const { return out_rate_; }

    // Up to `max_samples` samples (fewer only at the end of the track), or nullptr at the end.
    FramePtr read(int max_samples);

private:
    bool fill(int wanted);  // false once nothing more can be produced
    void push(const AVFrame* decoded);

    LibavLogCapture& log_;
    InputFormatPtr fmt_;
    CodecContextPtr dec_;
    SwrContextPtr swr_;
    AudioFifoPtr fifo_;
    int stream_index_ = -1;
    int out_rate_ = 48000;
    bool demux_done_ = false;
    bool drained_ = false;
    std::int64_t decode_errors_ = 0;
};

// Exact duration in seconds by demuxing every packet of the best audio stream (never the
// bitrate estimate), plus its rate and channel count. Throws PreflightError.
struct AudioProbe {
    double duration_sec = 0;
    int sample_rate = 0;
    int channels = 0;
    std::string codec;
};
AudioProbe probe_audio(const std::filesystem::path& path);

}  // namespace renderer::media

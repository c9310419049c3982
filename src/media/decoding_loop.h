// Demux + decode of one stream, the send/receive/EAGAIN/EOF loop written once (as Chromium's
// FFmpegDecodingLoop) for the music and for read-backs of rendered video: packets of other
// streams are dropped, the decoder is flushed once the input ends, and a packet the decoder
// refuses is either fatal or counted and skipped, as the caller chooses.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "media/av_ptr.h"

namespace renderer::media {

struct DecodeErrors {
    std::int64_t packets = 0;       // packets of the stream sent to the decoder
    std::int64_t refused = 0;       // of those, packets the decoder could not decode
    double first_refused_sec = -1;  // position of the first refused packet (stream time)
    double refused_sec = 0;         // what the refused packets would have lasted
};

class DecodingLoop {
  public:
    struct Options {
        ErrorClass error_class = ErrorClass::DecodeError;
        std::string what;               // "music 'x.mp3'": names the input in error messages
        bool skip_bad_packets = false;  // count a refused packet instead of failing
    };
    // Borrows `input` and `decoder`, which must outlive the loop.
    DecodingLoop(AVFormatContext* input, int stream_index, AVCodecContext* decoder,
                 Options options);

    // The next decoded frame into `frame` (unreferenced first); false once the decoder is
    // drained. Throws Error(error_class) on a demux error, and on a decode error unless
    // skip_bad_packets.
    bool next(AVFrame* frame);

    const DecodeErrors& errors() const { return errors_; }

  private:
    void refused(int rc, std::int64_t pts, std::int64_t duration);

    AVFormatContext* input_;
    AVCodecContext* decoder_;
    int stream_index_;
    Options options_;
    PacketPtr packet_;
    bool demux_done_ = false;
    bool flushed_ = false;
    bool drained_ = false;
    DecodeErrors errors_;
};

}  // namespace renderer::media

#include "media/decoding_loop.h"

#include <algorithm>

#include <fmt/format.h>

#include "media/av_error.h"

namespace renderer::media {

DecodingLoop::DecodingLoop(AVFormatContext* input, int stream_index, AVCodecContext* decoder,
                           Options options)
    : input_(input),
      decoder_(decoder),
      stream_index_(stream_index),
      options_(std::move(options)),
      packet_(make_packet()) {
    if (!packet_) av_fail(options_.error_class, "cannot allocate a packet");
}

void DecodingLoop::refused(int rc, std::int64_t pts, std::int64_t duration) {
    if (!options_.skip_bad_packets)
        av_check(rc, options_.error_class, fmt::format("cannot decode {}", options_.what));
    ++errors_.refused;
    const AVStream* st = input_->streams[stream_index_];
    if (duration > 0) errors_.refused_sec += static_cast<double>(duration) * av_q2d(st->time_base);
    if (errors_.first_refused_sec < 0 && pts != AV_NOPTS_VALUE) {
        // Measured from the stream's start, where what is heard starts (after an MP3's encoder
        // delay).
        const std::int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
        errors_.first_refused_sec =
            std::max(0.0, static_cast<double>(pts - start) * av_q2d(st->time_base));
    }
}

bool DecodingLoop::next(AVFrame* frame) {
    av_frame_unref(frame);
    while (!drained_) {
        const int rc = avcodec_receive_frame(decoder_, frame);
        if (rc == 0) return true;
        if (rc == AVERROR_EOF) break;
        if (rc != AVERROR(EAGAIN)) {
            // A frame that failed inside the decoder: the packet behind it is not known any more.
            refused(rc, AV_NOPTS_VALUE, 0);
            continue;
        }
        // The decoder wants input: the next packet of our stream, or the flush once demuxing ends.
        if (flushed_) break;  // a flushed decoder never asks for more; do not loop on it
        if (demux_done_) {
            av_check(avcodec_send_packet(decoder_, nullptr), options_.error_class,
                     "cannot flush the decoder");
            flushed_ = true;
            continue;
        }
        const int rd = av_read_frame(input_, packet_.get());
        if (rd == AVERROR_EOF) {
            demux_done_ = true;
            continue;
        }
        // A read the disk failed (EIO on a bad sector, a network mount gone) is not the end of
        // the track: taken as one, the render would publish music that stops early. Transient:
        // IoError, retried.
        if (rd < 0 && is_io_error(rd)) {
            av_fail(ErrorClass::IoError,
                    fmt::format("cannot read {}: {}", options_.what, av_error_text(rd)));
        }
        if (rd < 0 && options_.skip_bad_packets) {
            // Data the demuxer gives up on ends the input, as it ends playback in a player;
            // the caller compares what was decoded with what it expected.
            demux_done_ = true;
            continue;
        }
        av_check(rd, options_.error_class, fmt::format("cannot demux {}", options_.what));
        if (packet_->stream_index != stream_index_) {
            av_packet_unref(packet_.get());
            continue;
        }
        ++errors_.packets;
        const std::int64_t pts = packet_->pts, duration = packet_->duration;
        const int sp = avcodec_send_packet(decoder_, packet_.get());
        av_packet_unref(packet_.get());
        if (sp < 0 && sp != AVERROR(EAGAIN)) refused(sp, pts, duration);
    }
    drained_ = true;
    return false;
}

}  // namespace renderer::media

#include "media/video_decoder.h"

#include <fmt/format.h>

#include "media/av_error.h"

namespace renderer::media {

VideoDecoder::VideoDecoder(const std::filesystem::path& path) : path_(path) {
    const auto what = [&](std::string_view step) {
        return fmt::format("{} '{}'", step, path.string());
    };
    AVFormatContext* raw = nullptr;
    av_check(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), ErrorClass::DecodeError,
             what("cannot open"));
    fmt_.reset(raw);
    av_check(avformat_find_stream_info(fmt_.get(), nullptr), ErrorClass::DecodeError,
             what("cannot read"));
    const AVCodec* codec = nullptr;
    stream_index_ = av_check(av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0),
                             ErrorClass::DecodeError, what("no decodable video stream in"));
    dec_.reset(avcodec_alloc_context3(codec));
    if (!dec_) av_fail(ErrorClass::DecodeError, what("cannot allocate a decoder for"));
    av_check(avcodec_parameters_to_context(dec_.get(), fmt_->streams[stream_index_]->codecpar),
             ErrorClass::DecodeError, what("cannot configure the decoder for"));
    dec_->thread_count = 0;  // the decoder picks; decoding speed is not what is being measured
    av_check(avcodec_open2(dec_.get(), codec, nullptr), ErrorClass::DecodeError,
             what("cannot open the decoder for"));
}

FramePtr VideoDecoder::next() {
    FramePtr frame = make_frame();
    PacketPtr pkt = make_packet();
    while (!drained_) {
        const int rc = avcodec_receive_frame(dec_.get(), frame.get());
        if (rc == 0) return frame;
        if (rc == AVERROR_EOF) {
            drained_ = true;
            break;
        }
        if (rc != AVERROR(EAGAIN)) {
            av_check(rc, ErrorClass::DecodeError,
                     fmt::format("cannot decode '{}'", path_.string()));
        }
        // The decoder wants input: the next packet of our stream, or the flush once demuxing ends.
        if (demux_done_) {
            if (flushed_) break;  // a drained decoder never asks for more; do not loop on it
            av_check(avcodec_send_packet(dec_.get(), nullptr), ErrorClass::DecodeError,
                     "cannot flush the decoder");
            flushed_ = true;
            continue;
        }
        const int rd = av_read_frame(fmt_.get(), pkt.get());
        if (rd == AVERROR_EOF) {
            demux_done_ = true;
            continue;
        }
        av_check(rd, ErrorClass::DecodeError, fmt::format("cannot demux '{}'", path_.string()));
        if (pkt->stream_index == stream_index_) {
            const int sp = avcodec_send_packet(dec_.get(), pkt.get());
            av_packet_unref(pkt.get());
            av_check(sp, ErrorClass::DecodeError,
                     fmt::format("cannot decode '{}'", path_.string()));
        } else {
            av_packet_unref(pkt.get());
        }
    }
    return nullptr;
}

}  // namespace renderer::media

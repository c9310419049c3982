// Ownership of libav objects: one deleter per type and a unique_ptr alias, for every type held
// beyond one call. Elsewhere only option dictionaries are freed by hand (av_dict_free right
// after the call that consumes them), and render_key keeps its one-file AVMurMur3 deleter.
#pragma once

#include <memory>

#include "renderer_version.h"  // RENDERER_WITH_BENCH

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
// Filter graphs serve `renderer bench` only; the production build (-Dbench=false) may be against
// an FFmpeg without libavfilter.
#if RENDERER_WITH_BENCH
#include <libavfilter/avfilter.h>
#endif
}

namespace renderer::media {

struct AvDeleter {
    void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
    void operator()(AVFrame* p) const { av_frame_free(&p); }
    void operator()(AVPacket* p) const { av_packet_free(&p); }
    void operator()(SwsContext* p) const { sws_freeContext(p); }
    void operator()(SwrContext* p) const { swr_free(&p); }
    void operator()(AVAudioFifo* p) const { av_audio_fifo_free(p); }
    // Frees once every buffer handed out has come back.
    void operator()(AVBufferPool* p) const { av_buffer_pool_uninit(&p); }
#if RENDERER_WITH_BENCH
    // Frees every filter context the graph holds too.
    void operator()(AVFilterGraph* p) const { avfilter_graph_free(&p); }
#endif
};

// An input context is closed (not just freed): avformat_close_input also closes its AVIOContext.
struct InputFormatDeleter {
    void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};

// An output context owns the AVIOContext we opened: close it first, then free the context
// (FFmpeg's doc/examples/mux.c order).
struct OutputFormatDeleter {
    void operator()(AVFormatContext* p) const {
        if (p->pb != nullptr && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
        avformat_free_context(p);
    }
};

using CodecContextPtr = std::unique_ptr<AVCodecContext, AvDeleter>;
using FramePtr = std::unique_ptr<AVFrame, AvDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, AvDeleter>;
using SwsContextPtr = std::unique_ptr<SwsContext, AvDeleter>;
using SwrContextPtr = std::unique_ptr<SwrContext, AvDeleter>;
using AudioFifoPtr = std::unique_ptr<AVAudioFifo, AvDeleter>;
using BufferPoolPtr = std::unique_ptr<AVBufferPool, AvDeleter>;
#if RENDERER_WITH_BENCH
using FilterGraphPtr = std::unique_ptr<AVFilterGraph, AvDeleter>;
#endif
using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatDeleter>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatDeleter>;

inline FramePtr make_frame() { return FramePtr(av_frame_alloc()); }
inline PacketPtr make_packet() { return PacketPtr(av_packet_alloc()); }

}  // namespace renderer::media

#include "media/encoders.h"

#include <algorithm>

#include <fmt/format.h>

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

#include "media/av_error.h"
#include "media/mp4_writer.h"

namespace renderer::media {

std::string x264_params(const RenderSettings& s) {
    // cpu-independent: x264's switch for output that does not depend on the CPU. It runs the
    // macroblock-tree propagation in C instead of the SIMD kernel for the CPU (and drops the
    // combined 9-mode intra searches). The AVX-512 propagate_list kernel (x264 0.164, r3095 to at
    // least r3108) handles 8 macroblocks a step with no mask for those past the row's end: when
    // the width in macroblocks is not a multiple of 8 (frames not 128-pixel multiples wide) it
    // adds the next row's costs, and on the last row bytes x264 never wrote, to the reference's
    // propagate costs. The output then depends on what earlier renders left in the heap.
    // With it, SSE2, AVX2 and AVX-512 machines and asm=0 give the same bytes too.
    std::string params = "cpu-independent=1";
    if (!s.x264_params.empty()) params += ":" + s.x264_params;
    return params;
}

std::string codec_params(const RenderSettings& s, Canvas canvas) {
    switch (s.codec) {
        case VideoCodec::H264:
            return x264_params(s);
        case VideoCodec::Hevc: {
            // x265 sizes its worker pool and its frame threads from the machine's cores by
            // default, and the frame threads change the output (a frame's motion search is
            // bounded by how far its references have been encoded): both are fixed from the
            // configured thread count instead (codecs_test compares the bytes of two renders).
            // chromaloc: the VUI states the converter's chroma siting as x264's does
            // (libavcodec does not pass it to x265). Its info log would go to stderr on every
            // render.
            const int frame_threads = std::clamp((s.threads + 1) / 2, 1, 16);
            // asm=0 below 4 lookahead blocks across (8x8 blocks of the half-size picture, so
            // canvases up to 48 wide): x265 3.5's SIMD cu-tree propagation writes 4 blocks a
            // step past the end of a narrower row's buffer (valgrind: an invalid write in
            // Lookahead::cuTree; glibc aborts a 40x30 render), corrupting the heap. The C code
            // costs nothing at that size, and wider canvases keep their bytes.
            const bool narrow = (canvas.width + 15) / 16 < 4;
            return fmt::format("pools={}:frame-threads={}:chromaloc={}:log-level=error{}",
                               s.threads, frame_threads, static_cast<int>(kChromaLocation) - 1,
                               narrow ? ":asm=0" : "");
        }
        case VideoCodec::Av1:
            // lp: SVT-AV1's level of parallelism, by default the machine's cores.
            return fmt::format("lp={}", s.threads);
    }
    return {};
}

const char* codec_params_option(VideoCodec codec) {
    switch (codec) {
        case VideoCodec::H264:
            return "x264-params";
        case VideoCodec::Hevc:
            return "x265-params";
        case VideoCodec::Av1:
            return "svtav1-params";
    }
    return "";
}

const AVCodec* find_video_encoder(VideoCodec codec) {
    const AVCodec* found = avcodec_find_encoder_by_name(encoder_name(codec));
    if (found == nullptr) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("codec {} needs the {} encoder, which the linked libavcodec ({}) "
                                "was built without; choose another codec or link an FFmpeg "
                                "built with --enable-{}",
                                codec_name(codec), encoder_name(codec), av_version_info(),
                                encoder_name(codec)));
    }
    return found;
}

CodecContextPtr open_video_encoder(const RenderSettings& s, Canvas canvas, bool global_header) {
    const AVCodec* codec = find_video_encoder(s.codec);
    CodecContextPtr ctx(avcodec_alloc_context3(codec));
    ctx->width = canvas.width;
    ctx->height = canvas.height;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = AVRational{1, s.fps};
    ctx->framerate = AVRational{s.fps, 1};
    ctx->sample_aspect_ratio = AVRational{1, 1};
    // Tag what the converter produced: BT.709, limited range, chroma sited as it sited it
    // (libx264 writes it to the VUI's chroma_loc_info).
    ctx->color_range = AVCOL_RANGE_MPEG;
    ctx->colorspace = AVCOL_SPC_BT709;
    ctx->color_primaries = AVCOL_PRI_BT709;
    ctx->color_trc = AVCOL_TRC_BT709;
    ctx->chroma_sample_location = kChromaLocation;
    // x264 reads it; x265 and SVT-AV1 take theirs from codec_params().
    ctx->thread_count = s.threads;
    // KEYINT_SEC in frames: x264 counts frames. In vfr a frame lasts a period or more, so this
    // never comes sooner than by time; the render forces the keyframes time asks for
    // (media/held_frames.h).
    ctx->gop_size = keyint_frames(s);
    ctx->flags |= AV_CODEC_FLAG_BITEXACT;
    if (global_header) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (s.codec == VideoCodec::Hevc) {
        ctx->codec_tag = MKTAG('h', 'v', 'c', '1');
        // A keyframe vfr forces by time (media/held_frames.h) must be one a player can seek to:
        // libx265 makes a forced frame a plain I frame unless told to make it an IDR.
        av_check(av_opt_set(ctx->priv_data, "forced-idr", "1", 0), ErrorClass::EncodeError,
                 "libx265 refused forced-idr");
    }
    const std::string preset = effective_preset(s);
    av_check(av_opt_set(ctx->priv_data, "preset", preset.c_str(), 0), ErrorClass::EncodeError,
             fmt::format("{} refused preset {}", codec->name, preset));
    if (s.video_bitrate > 0) {
        ctx->bit_rate = s.video_bitrate;
    } else {
        av_check(av_opt_set(ctx->priv_data, "crf", std::to_string(effective_crf(s)).c_str(), 0),
                 ErrorClass::EncodeError, fmt::format("{} refused crf", codec->name));
    }
    av_check(av_opt_set(ctx->priv_data, codec_params_option(s.codec),
                        codec_params(s, canvas).c_str(), 0),
             ErrorClass::EncodeError, fmt::format("invalid {}", codec_params_option(s.codec)));
    av_check(avcodec_open2(ctx.get(), codec, nullptr), ErrorClass::EncodeError,
             fmt::format("cannot open {} (preset {}, {}x{})", codec->name, preset, canvas.width,
                         canvas.height));
    return ctx;
}

CodecContextPtr open_aac_encoder(int sample_rate, std::int64_t bit_rate, bool global_header) {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (codec == nullptr)
        av_fail(ErrorClass::EncodeError, "AAC encoder not available in this libavcodec build");
    CodecContextPtr ctx(avcodec_alloc_context3(codec));
    ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
    ctx->sample_rate = sample_rate;
    av_channel_layout_default(&ctx->ch_layout, 2);
    ctx->bit_rate = bit_rate;
    ctx->time_base = AVRational{1, sample_rate};
    ctx->flags |= AV_CODEC_FLAG_BITEXACT;
    if (global_header) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_check(avcodec_open2(ctx.get(), codec, nullptr), ErrorClass::EncodeError,
             "cannot open the AAC encoder");
    return ctx;
}

void encode_and_write(AVCodecContext* encoder, const AVFrame* frame, AVStream* stream,
                      Mp4Writer& writer, const CancelToken* cancel, FrameDurations* durations) {
    int rc = avcodec_send_frame(encoder, frame);
    if (rc == AVERROR_EOF) return;  // already flushed
    av_check(rc, ErrorClass::EncodeError,
             fmt::format("{} encoder rejected a frame", encoder->codec->name));
    PacketPtr packet = make_packet();
    for (;;) {
        if (cancel != nullptr && cancel->cancelled())
            throw Error(*cancel->reason(), "render cancelled");
        rc = avcodec_receive_packet(encoder, packet.get());
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
        av_check(rc, ErrorClass::EncodeError,
                 fmt::format("{} encoder failed", encoder->codec->name));
        if (durations != nullptr) {
            if (const auto it = durations->find(packet->pts); it != durations->end()) {
                packet->duration = it->second;
                durations->erase(it);
            }
        }
        writer.write(packet.get(), stream,
                     encoder->time_base);  // the muxer takes the packet's reference
    }
}

}  // namespace renderer::media

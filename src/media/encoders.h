// The encoders (libx264 H.264, libx265 HEVC or libsvtav1 AV1 video; FFmpeg's native AAC) and
// the one send/receive loop they all use.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "media/av_ptr.h"
#include "media/cancel_token.h"
#include "media/frame_converter.h"
#include "media/render_settings.h"

namespace renderer::media {

class Mp4Writer;

// The x264 options a render passes (as -x264-params): ours first, then the operator's
// X264_PARAMS, which may override them.
std::string x264_params(const RenderSettings& settings);

// The codec's own options a render passes for settings.codec, as the encoder's -x264-params,
// -x265-params or -svtav1-params text (what fixes its threads, hence its output bytes) for a
// canvas of that size.
std::string codec_params(const RenderSettings& settings, Canvas canvas);
// "x264-params", "x265-params" or "svtav1-params": the libavcodec option codec_params() is for.
const char* codec_params_option(VideoCodec codec);

// The encoder settings.codec names, or a ConfigError naming it when the linked libavcodec lacks
// it (checked by preflight before any output exists).
const AVCodec* find_video_encoder(VideoCodec codec);

// The video encoder for settings.codec: preset, crf (or bit rate), fixed threads, BT.709 tags;
// HEVC tagged hvc1 (the tag Apple's players require; the mp4 muxer's default is hev1).
CodecContextPtr open_video_encoder(const RenderSettings& settings, Canvas canvas,
                                   bool global_header);
CodecContextPtr open_aac_encoder(int sample_rate, std::int64_t bit_rate, bool global_header);

// How long each frame sent lasts, by its pts, in the encoder's time base (vfr: libx264 in FFmpeg
// 5.1 gives its packets no duration, and the muxer ends the track at the last one's end).
using FrameDurations = std::map<std::int64_t, std::int64_t>;

// Sends `frame` to `encoder` (nullptr = flush) and writes every packet it yields to `stream`.
// `cancel` is checked between packets: a flush of x264's lookahead can take seconds. With
// `durations`, each packet takes (and the map forgets) the duration of the frame at its pts.
void encode_and_write(AVCodecContext* encoder, const AVFrame* frame, AVStream* stream,
                      Mp4Writer& writer, const CancelToken* cancel = nullptr,
                      FrameDurations* durations = nullptr);

}  // namespace renderer::media

// The one way a file reaches libavformat and libavcodec. A policy names the kind of file, and
// with it the demuxer, protocols and decoders that file may reach: a hostile file (a playlist
// named track.mp3, an HLS file at the artifact's path) is read by nothing else, and no input may
// open another file or URL (an HLS segment, a concat entry, an MP4 data reference).
#pragma once

#include <filesystem>

#include "common/error.h"
#include "media/av_ptr.h"

namespace renderer::media {

enum class InputPolicy {
    // A job's music track: first a bounded sniff of the first bytes, and a file that reads as
    // anything but MP3 is refused naming what it is; then the mp3 demuxer, forced, and only the
    // MPEG audio decoders.
    Music,
    // An MP4 the renderer wrote (the render cache's check, read-backs): the mov demuxer, forced.
    Artifact,
    // `renderer probe FILE`, an operator's file: any format libavformat knows.
    Probe,
};

// Opens `path` under `policy`: file protocol only, no nested opens. Failures throw
// Error(error_class) naming the file. Stream parameters are what the demuxer's header gives:
// callers that need more (probe, a decoder of the whole stream) run avformat_find_stream_info.
InputFormatPtr open_input(const std::filesystem::path& path, ErrorClass error_class,
                          InputPolicy policy);

// The index of the first stream of `type` (attached pictures are not video), or -1. Unlike
// av_find_best_stream it needs no avformat_find_stream_info: the mp3 demuxer's header leaves the
// rate and channels unset until frames are decoded.
int first_stream(const AVFormatContext* input, AVMediaType type);

// An open decoder for stream `index` of `input`, restricted to the decoders `policy` allows,
// with `threads` threads (0: the decoder picks).
CodecContextPtr open_decoder(const AVFormatContext* input, int index, ErrorClass error_class,
                             InputPolicy policy, int threads = 1);

}  // namespace renderer::media

// The MP4 muxer: streams from encoder contexts, +faststart, bit-exact (no creation_time, no
// library version tags), packets interleaved by timestamp, trailer checked.
#pragma once

#include <filesystem>
#include <string>

#include "media/av_ptr.h"

namespace renderer::media {

class LibavLogCapture;

class Mp4Writer {
public:
    Mp4Writer(const std::filesystem::path& path, LibavLogCapture& log);
    ~Mp4Writer();
    Mp4Writer(const Mp4Writer&) = delete;
    Mp4Writer& operator=(const Mp4Writer&) = delete;

    // MP4 keeps codec headers in the container: encoders must be opened with GLOBAL_HEADER.
    bool needs_global_header() const;

    // Adds a stream carrying `encoder`'s output; call before write_header().
    AVStream* add_stream(const AVCodecContext* encoder);
    void set_metadata(const std::string& key, const std::string& value);

    void write_header();
    // Rescales `packet` from `encoder_time_base` to the stream's and hands it to the interleaver.
    void write(AVPacket* packet, AVStream* stream, AVRational encoder_time_base);
    // Flushes the interleaver, writes the trailer (moving the moov atom up front) and closes.
    void finish();

private:
    OutputFormatPtr ctx_;
    LibavLogCapture& log_;
    bool header_written_ = false;
};

}  // namespace renderer::media

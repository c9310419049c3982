// What a file is, from a bounded look at its first bytes: libavformat's probe functions scored
// over at most 1 MiB (the same look avformat_open_input takes before it picks a demuxer), without
// running any demuxer's header or packet reader, so nothing the file names is ever opened. For a
// WAV the format chunk is read too, to say what it holds. Text that names other files or URLs
// (playlists, concat scripts, session descriptions, manifests) is recognised by its first bytes
// when libavformat's probe names nothing: its hls probe, for one, depends on the FFmpeg version.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.h"

namespace renderer::media {

struct SniffedFormat {
    // libavformat's demuxer name ("mp3", "hls", "wav"...), or "m3u" for a playlist no demuxer
    // reads; empty: none fits.
    std::string name;
    // "pcm_s16le audio, 2 channels, 44100 Hz" for a WAV, "an HLS playlist" for a text format;
    // else empty.
    std::string detail;
    // Bytes of the ID3v2 tags the file opens with (one after another), read from their headers
    // only: where an MP3's audio starts.
    std::int64_t id3v2_bytes = 0;
    std::int64_t file_bytes = 0;
};

// Throws Error(error_class) when the file cannot be opened, Error(IoError) when a read fails.
SniffedFormat sniff_format(const std::filesystem::path& path, ErrorClass error_class);

}  // namespace renderer::media

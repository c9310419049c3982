// What an artifact already at a render's output path holds, for the render cache: its stored
// key, and whether it is whole. With +faststart the key sits in the moov box at the front, so a
// file cut short (a crashed copy, a full disk elsewhere) keeps it: the cache must also see that
// the top-level boxes add up to the file's size and count the packets the moov promises; and a
// file altered in place keeps sizes and counts: the mdat payload must hash to what was written.
// Read with the mov demuxer only; nothing the file names is opened.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace renderer::media {

struct ArtifactContents {
    std::string render_key;         // empty when the file has none
    bool boxes_cover_file = false;  // top-level box sizes add up to exactly the file size
    bool payload_matches =
        false;  // the mdat payload hashes to what the moov says it was written as
    std::int64_t video_packets = 0;  // packets demuxed (read in full) per stream type
    std::int64_t audio_packets = 0;
};

// nullopt when the file does not open as an MP4.
std::optional<ArtifactContents> read_artifact(const std::filesystem::path& path);

}  // namespace renderer::media

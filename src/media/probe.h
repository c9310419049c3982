// `renderer probe`: what ffprobe would tell about a media file, in process, as JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "media/libav_input.h"

namespace renderer::media {

struct StreamInfo {
    int index = 0;
    std::string type;  // video | audio | subtitle | data | attachment
    std::string codec;
    std::string profile;
    std::string codec_tag;  // the container's four-character code: "avc1", "hvc1", "av01"
    double duration_sec = 0;
    std::int64_t frames = 0;  // packets demuxed (each is one frame for video and AAC/MP3)
    std::int64_t bit_rate = 0;
    int width = 0;
    int height = 0;
    std::string pix_fmt;
    std::string color_space;
    std::string color_range;
    std::string color_primaries;
    std::string color_transfer;
    double fps = 0;
    // Video, from the presentation times of its frames (DESIGN 3.2): each frame shows until the
    // next one's time (the last until the stream's end). "cfr" when every frame shows equally
    // long (the last may be shorter: shorter music cuts it), else "vfr"; a held slide in a vfr
    // file is one frame.
    std::string frame_timing;
    double min_frame_duration_sec = 0;
    double max_frame_duration_sec = 0;
    int sample_rate = 0;
    int channels = 0;
    bool attached_pic = false;
};

struct MediaInfo {
    std::string path;
    std::string format;
    double duration_sec = 0;
    std::uint64_t size_bytes = 0;
    std::int64_t bit_rate = 0;
    std::map<std::string, std::string> tags;
    std::vector<StreamInfo> streams;
};

// Opens `path` with libavformat under `policy` (any format for an operator's file; the mov
// demuxer only for an artifact the renderer wrote) and demuxes every packet to count frames and
// durations. Nothing the file names is opened. Throws Error(PreflightError) when the file
// cannot be opened as media.
MediaInfo probe_file(const std::filesystem::path& path, InputPolicy policy = InputPolicy::Probe);

std::string to_json(const MediaInfo& info, bool pretty);

}  // namespace renderer::media

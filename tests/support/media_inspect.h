// Reopens rendered media with libavformat/libavcodec and reports what is really in it: the
// probe, decodable audio samples, and the mean Y/U/V of decoded video frames.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "media/probe.h"

namespace renderer::testing {

struct DecodedAudio {
    std::int64_t samples = 0;  // per channel
    int sample_rate = 0;
    int channels = 0;
    double peak = 0;  // largest absolute sample value (float), proves it is not silence
};
DecodedAudio decode_audio(const std::filesystem::path& path);

struct PlaneMeans {
    double y = 0, u = 0, v = 0;
};
// Decodes every video frame and returns each frame's mean Y, U, V (8-bit scale).
std::vector<PlaneMeans> decode_video_means(const std::filesystem::path& path);

// The chroma siting a video declares, by name ("left", "center", "unspecified"...): as the
// stream's parameters give it after libavformat has read the headers, and as the decoder tags
// its first decoded frame (both come from the H.264 VUI).
struct ChromaSiting {
    std::string stream;
    std::string frame;
};
ChromaSiting video_chroma_location(const std::filesystem::path& path);

// A SHA-256 (hex) of what the encoders and the muxer decided, and of nothing else: each stream's
// codec parameters (codec, size, formats, colour tags, profile, extradata) and time base, then
// every packet in file order (stream, pts, dts, duration, flags, data). The MP4's metadata (the
// render key names the executable's build) and box layout do not enter it, so two builds that
// encode the same bytes give the same digest.
std::string packet_digest(const std::filesystem::path& path);

// One decoded video frame: its presentation time (best effort, in `time_base`, the stream's) and
// its luma plane, packed (width x height bytes).
struct DecodedPicture {
    std::int64_t pts = 0;
    int time_base_num = 0, time_base_den = 1;
    int width = 0, height = 0;
    std::vector<std::uint8_t> luma;
};
// Decodes every video frame, in presentation order.
std::vector<DecodedPicture> decode_pictures(const std::filesystem::path& path);
// PSNR of two same-sized luma planes, in dB (+inf when identical).
double luma_psnr(const DecodedPicture& a, const DecodedPicture& b);

// One packet as libavformat demuxes it, in file order, times in the stream's time base.
struct PacketRecord {
    std::int64_t pts = 0, dts = 0, duration = 0;
    bool key = false;
    std::string data_sha256;
    int time_base_num = 0, time_base_den = 1;
};
// The packets of the file's first stream of `type` ("video", "audio").
std::vector<PacketRecord> stream_packets(const std::filesystem::path& path,
                                         const std::string& type);

// Convenience: the probe's streams of one type.
int count_streams(const media::MediaInfo& info, const std::string& type);
const media::StreamInfo* first_stream(const media::MediaInfo& info, const std::string& type);
// The pointer points into `info`: a temporary's would dangle at the end of the statement.
const media::StreamInfo* first_stream(const media::MediaInfo&& info,
                                      const std::string& type) = delete;

}  // namespace renderer::testing

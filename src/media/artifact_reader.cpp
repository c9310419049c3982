#include "media/artifact_reader.h"

#include <array>
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "media/av_ptr.h"
#include "media/libav_input.h"
#include "media/render_key.h"

namespace renderer::media {
namespace {

struct TopLevelBoxes {
    bool cover_file = false;
    std::uint64_t mdat_payload = 0, mdat_size = 0;  // the (last) mdat box's payload
    bool has_mdat = false;
};

// Walks the top-level boxes by their headers (32-bit size, 64-bit "largesize" when it is 1,
// 0 for "to the end of the file"), checks they tile the file exactly and finds mdat.
TopLevelBoxes walk_boxes(const std::filesystem::path& path) {
    TopLevelBoxes out;
    std::error_code ec;
    const std::uint64_t file_size = std::filesystem::file_size(path, ec);
    if (ec) return out;
    std::ifstream in(path, std::ios::binary);
    std::uint64_t at = 0;
    while (at < file_size) {
        std::array<unsigned char, 16> h{};
        if (file_size - at < 8 || !in.seekg(static_cast<std::streamoff>(at)) ||
            !in.read(reinterpret_cast<char*>(h.data()), 8)) {
            return out;
        }
        std::uint64_t size = (std::uint64_t{h[0]} << 24) | (std::uint64_t{h[1]} << 16) |
                             (std::uint64_t{h[2]} << 8) | h[3];
        std::uint64_t header = 8;
        if (size == 1) {
            if (file_size - at < 16 || !in.read(reinterpret_cast<char*>(h.data() + 8), 8))
                return out;
            size = 0;
            for (int i = 8; i < 16; ++i) size = (size << 8) | h[static_cast<std::size_t>(i)];
            header = 16;
        } else if (size == 0) {
            size = file_size - at;
        }
        if (size < header || size > file_size - at) return out;
        if (std::memcmp(h.data() + 4, "mdat", 4) == 0) {
            out.has_mdat = true;
            out.mdat_payload = at + header;
            out.mdat_size = size - header;
        }
        at += size;
    }
    out.cover_file = at == file_size;
    return out;
}

}  // namespace

std::optional<ArtifactContents> read_artifact(const std::filesystem::path& path) {
    InputFormatPtr fmt;
    try {
        fmt = open_input(path, ErrorClass::IoError, InputPolicy::Artifact);
    } catch (const Error&) {
        return std::nullopt;  // not an MP4 (or unreadable): no cache hit, the render replaces it
    }
    ArtifactContents a;
    if (const AVDictionaryEntry* e = av_dict_get(fmt->metadata, kRenderKeyTag, nullptr, 0))
        a.render_key = e->value;
    const TopLevelBoxes boxes = walk_boxes(path);
    a.boxes_cover_file = boxes.cover_file;
    if (const AVDictionaryEntry* e = av_dict_get(fmt->metadata, kPayloadHashTag, nullptr, 0);
        e != nullptr && boxes.has_mdat) {
        a.payload_matches = file_range_hash(path, boxes.mdat_payload, boxes.mdat_size) ==
                            std::optional<std::string>(e->value);
    }
    PacketPtr pkt = make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        const AVStream* st = fmt->streams[pkt->stream_index];
        // A packet cut short by the end of the file is returned with the bytes there are: flagged
        // corrupt.
        if (!(pkt->flags & AV_PKT_FLAG_CORRUPT)) {
            if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) ++a.video_packets;
            if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) ++a.audio_packets;
        }
        av_packet_unref(pkt.get());
    }
    return a;
}

}  // namespace renderer::media

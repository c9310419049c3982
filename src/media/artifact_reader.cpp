#include "media/artifact_reader.h"

#include <array>
#include <fstream>

#include "common/error.h"
#include "media/av_ptr.h"
#include "media/libav_input.h"
#include "media/render_key.h"

namespace renderer::media {
namespace {

// Walks the top-level boxes by their headers (32-bit size, 64-bit "largesize" when it is 1,
// 0 for "to the end of the file") and checks they tile the file exactly.
bool boxes_cover_file(const std::filesystem::path& path) {
    std::error_code ec;
    const std::uint64_t file_size = std::filesystem::file_size(path, ec);
    if (ec) return false;
    std::ifstream in(path, std::ios::binary);
    std::uint64_t at = 0;
    while (at < file_size) {
        std::array<unsigned char, 16> h{};
        if (file_size - at < 8 || !in.seekg(static_cast<std::streamoff>(at)) || !in.read(reinterpret_cast<char*>(h.data()), 8)) {
            return false;
        }
        std::uint64_t size = (std::uint64_t{h[0]} << 24) | (std::uint64_t{h[1]} << 16) | (std::uint64_t{h[2]} << 8) | h[3];
        if (size == 1) {
            if (file_size - at < 16 || !in.read(reinterpret_cast<char*>(h.data() + 8), 8)) return false;
            size = 0;
            for (int i = 8; i < 16; ++i) size = (size << 8) | h[static_cast<std::size_t>(i)];
        } else if (size == 0) {
            size = file_size - at;
        }
        if (size < 8 || size > file_size - at) return false;
        at += size;
    }
    return at == file_size;
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
    if (const AVDictionaryEntry* e = av_dict_get(fmt->metadata, kRenderKeyTag, nullptr, 0)) a.render_key = e->value;
    a.boxes_cover_file = boxes_cover_file(path);
    PacketPtr pkt = make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        const AVStream* st = fmt->streams[pkt->stream_index];
        // A packet cut short by the end of the file is returned with the bytes there are: flagged corrupt.
        if (!(pkt->flags & AV_PKT_FLAG_CORRUPT)) {
            if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) ++a.video_packets;
            if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) ++a.audio_packets;
        }
        av_packet_unref(pkt.get());
    }
    return a;
}

}  // namespace renderer::media

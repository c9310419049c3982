#include "media/format_sniff.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include <fmt/format.h>

extern "C" {
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/avstring.h>
#include <libavutil/dict.h>
#include <libavutil/intreadwrite.h>
}

#include "media/av_error.h"

namespace renderer::media {
namespace {

struct AvioCloser {
    void operator()(AVIOContext* pb) const { avio_closep(&pb); }
};

// The codec a RIFF WAVE format chunk names, as the wav demuxer would report it: PCM by its bit
// depth, anything else from libavformat's RIFF tag table.
AVCodecID wav_codec(unsigned tag, unsigned bits) {
    if (tag == 1) {
        switch (bits) {
            case 8:
                return AV_CODEC_ID_PCM_U8;
            case 16:
                return AV_CODEC_ID_PCM_S16LE;
            case 24:
                return AV_CODEC_ID_PCM_S24LE;
            case 32:
                return AV_CODEC_ID_PCM_S32LE;
            default:
                return AV_CODEC_ID_NONE;
        }
    }
    if (tag == 3) return bits == 64 ? AV_CODEC_ID_PCM_F64LE : AV_CODEC_ID_PCM_F32LE;
    const AVCodecTag* const tables[] = {avformat_get_riff_audio_tags(), nullptr};
    return av_codec_get_id(tables, tag);
}

// "pcm_s16le audio, 2 channels, 44100 Hz" from the first format chunk within `head`, or empty.
std::string wav_detail(const std::uint8_t* head, std::size_t size) {
    if (size < 12 || std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "WAVE", 4) != 0)
        return {};
    for (std::size_t at = 12; at + 8 <= size;) {
        const std::uint32_t len = AV_RL32(head + at + 4);
        if (std::memcmp(head + at, "fmt ", 4) == 0) {
            if (len < 16 || at + 8 + 16 > size) return {};
            const std::uint8_t* f = head + at + 8;
            unsigned tag = AV_RL16(f);
            const unsigned channels = AV_RL16(f + 2), rate = AV_RL32(f + 4), bits = AV_RL16(f + 14);
            // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID.
            if (tag == 0xfffe && len >= 40 && at + 8 + 26 <= size) tag = AV_RL16(f + 24);
            return fmt::format("{} audio, {} channel{}, {} Hz",
                               avcodec_get_name(wav_codec(tag, bits)), channels,
                               channels == 1 ? "" : "s", rate);
        }
        // Chunks are padded to an even size. In 64 bits: a length near 2^32 wrapped the 32-bit
        // sum to 0 and the walk never moved (the preflight fuzzer's timeout).
        at += std::size_t{8} + len + (len & 1U);
    }
    return {};
}

// The ID3v2 tags at the start of `pb`, by their 10-byte headers (ID3v2.4 section 3.1: "ID3",
// version, flags, a syncsafe size that excludes the header and the optional footer). Nothing
// inside them is read.
std::int64_t id3v2_bytes(AVIOContext* pb) {
    std::int64_t at = 0;
    for (;;) {
        std::array<std::uint8_t, 10> h{};
        if (avio_seek(pb, at, SEEK_SET) != at || avio_read(pb, h.data(), 10) != 10) return at;
        if (std::memcmp(h.data(), "ID3", 3) != 0 || h[3] == 0xff || h[4] == 0xff ||
            (h[6] | h[7] | h[8] | h[9]) & 0x80) {
            return at;
        }
        const std::int64_t size = (std::int64_t{h[6]} << 21) | (h[7] << 14) | (h[8] << 7) | h[9];
        at += 10 + size + ((h[5] & 0x10) != 0 ? 10 : 0);
    }
}

// Text formats whose readers open the files or URLs the text names, by libavformat's demuxer
// name, with what the user is told the file is. m3u, a plain playlist, has no demuxer: its
// entries are still other files, and the message should say so rather than "Invalid data".
struct TextFormat {
    std::string_view name;
    std::string_view detail;
};
constexpr TextFormat kTextFormats[] = {
    {.name = "hls", .detail = "an HLS playlist"},
    {.name = "m3u", .detail = "an M3U playlist"},
    {.name = "concat", .detail = "an ffconcat script"},
    {.name = "sdp", .detail = "an SDP session description"},
    {.name = "dash", .detail = "a DASH manifest"},
};

// The text format of `head` (the file's first bytes after its ID3v2 tags, as libavformat's
// probes see them), by the marks those probes look for, or nullopt.
std::optional<std::string_view> text_format(std::string_view head) {
    if (head.starts_with("\xEF\xBB\xBF")) head.remove_prefix(3);  // a UTF-8 byte order mark
    if (head.starts_with("#EXTM3U")) {
        // The tags libavformat's hls probe requires besides #EXTM3U; without them, a plain
        // playlist.
        for (const std::string_view tag :
             {"#EXT-X-STREAM-INF:", "#EXT-X-TARGETDURATION:", "#EXT-X-MEDIA-SEQUENCE:"}) {
            if (head.find(tag) != std::string_view::npos) return "hls";
        }
        return "m3u";
    }
    if (head.starts_with("ffconcat version ")) return "concat";
    if (head.starts_with("v=0\n") || head.starts_with("v=0\r\n"))
        return "sdp";  // SDP's first line (RFC 4566, 5)
    const auto first = head.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && head[first] == '<') {
        const std::string text(head);  // av_stristr wants a terminated string
        if (av_stristr(text.c_str(), "<MPD") != nullptr)
            return "dash";  // the dash probe's mark, any case
    }
    return std::nullopt;
}

// Reads at most 64 KiB from `at`: a playlist's tags come within its first lines.
std::string read_head(AVIOContext* pb, std::int64_t at) {
    std::string head(64 * 1024, '\0');
    if (avio_seek(pb, at, SEEK_SET) != at) return {};
    const int n =
        avio_read(pb, reinterpret_cast<unsigned char*>(head.data()), static_cast<int>(head.size()));
    head.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return head;
}

}  // namespace

SniffedFormat sniff_format(const std::filesystem::path& path, ErrorClass cls) {
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    AVIOContext* raw = nullptr;
    const std::string url = "file:" + path.string();
    const int rc = avio_open2(&raw, url.c_str(), AVIO_FLAG_READ, nullptr, &opts);
    av_dict_free(&opts);
    if (rc < 0)
        av_fail(cls,
                fmt::format("cannot open '{}': {}", path.filename().string(), av_error_text(rc)));
    std::unique_ptr<AVIOContext, AvioCloser> pb(raw);

    SniffedFormat out;
    // Text that names other files first, by our own look: libavformat's probes for it differ
    // between versions (FFmpeg 7's hls probe wants a .m3u8 name; 5.1's names other text formats
    // as something else), and such a file is never audio whatever a probe scores it as.
    if (const auto text = text_format(read_head(pb.get(), id3v2_bytes(pb.get())))) {
        out.name = *text;
    } else {
        if (avio_seek(pb.get(), 0, SEEK_SET) != 0) {
            av_fail(ErrorClass::IoError,
                    fmt::format("cannot read '{}': seek failed", path.filename().string()));
        }
        const AVInputFormat* format = nullptr;
        // Only the probe functions run; the file name's extension counts, as it does when
        // libavformat picks a demuxer itself. 0 as the limit: libavformat's default (1 MiB).
        const int probed = av_probe_input_buffer2(pb.get(), &format, url.c_str(), nullptr, 0, 0);
        // A read the disk failed says nothing of what the file is: IoError, transient.
        if (is_io_error(probed)) {
            av_fail(ErrorClass::IoError,
                    fmt::format("cannot read '{}': {}", path.filename().string(),
                                av_error_text(probed)));
        }
        if (probed < 0 || format == nullptr) return out;
        out.name = format->name;
    }
    // The same words whichever look named a text format, so the message is the same on every
    // FFmpeg version.
    for (const auto& t : kTextFormats) {
        if (out.name == t.name) out.detail = t.detail;
    }
    if (out.name == "mp3") out.id3v2_bytes = id3v2_bytes(pb.get());
    out.file_bytes = avio_size(pb.get());
    if (out.name == "wav") {
        std::array<std::uint8_t, 4096> head{};
        if (avio_seek(pb.get(), 0, SEEK_SET) == 0) {
            const int n = avio_read(pb.get(), head.data(), static_cast<int>(head.size()));
            if (n > 0) out.detail = wav_detail(head.data(), static_cast<std::size_t>(n));
        }
    }
    return out;
}

}  // namespace renderer::media

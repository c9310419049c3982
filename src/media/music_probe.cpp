#include "media/music_probe.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

extern "C" {
#include <libavutil/intreadwrite.h>
}

#include "common/error.h"
#include "media/av_error.h"
#include "media/av_ptr.h"
#include "media/libav_input.h"

namespace renderer::media {
namespace {

struct MpegAudioFrame {
    int sample_rate = 0;
    int channels = 0;
    int samples = 0;
};

// The 4-byte MPEG audio frame header (ISO 11172-3 / 13818-3) that opens every packet the mp3
// demuxer returns: the rate and frame length the decoder will use for this frame. libavcodec
// keeps its own parser of it private. Returns samples == 0 for anything else (an ID3 tag met
// mid-file, a damaged header), which the decoder does not turn into sound either.
MpegAudioFrame parse_header(const std::uint8_t* p, int size) {
    if (size < 4) return {};
    const std::uint32_t h = AV_RB32(p);
    const unsigned version = (h >> 19) & 3, layer = (h >> 17) & 3, bitrate = (h >> 12) & 15,
                   rate = (h >> 10) & 3;
    if ((h & 0xffe00000u) != 0xffe00000u || version == 1 || layer == 0 || bitrate == 15 ||
        rate == 3)
        return {};
    static constexpr int kRates[3] = {44100, 48000, 32000};
    const int shift = version == 3 ? 0 : version == 2 ? 1 : 2;  // MPEG-1, MPEG-2, MPEG-2.5
    MpegAudioFrame f;
    f.sample_rate = kRates[rate] >> shift;
    f.channels = ((h >> 6) & 3) == 3 ? 1 : 2;
    f.samples = layer == 3     ? 384
                : layer == 2   ? 1152
                : version == 3 ? 1152
                               : 576;  // layer I, II, III
    return f;
}

}  // namespace

AudioProbe probe_audio(const std::filesystem::path& path) {
    const InputFormatPtr fmt = open_input(path, ErrorClass::PreflightError, InputPolicy::Music);
    return probe_audio(fmt.get(), path.filename().string());
}

AudioProbe probe_audio(AVFormatContext* input, const std::string& name) {
    constexpr ErrorClass kClass = ErrorClass::PreflightError;
    AVFormatContext* const fmt = input;
    const int idx = first_stream(fmt, AVMEDIA_TYPE_AUDIO);
    if (idx < 0)
        av_fail(kClass, fmt::format("music '{}' has no audio stream; use an MP3 with audio", name));
    AudioProbe p;
    p.codec = avcodec_get_name(fmt->streams[idx]->codecpar->codec_id);
    if (avcodec_find_decoder(fmt->streams[idx]->codecpar->codec_id) == nullptr) {
        av_fail(kClass, fmt::format("music '{}': no decoder for codec {}", name, p.codec));
    }
    // Sum what each frame holds at its own rate: exact for VBR files and across a change of rate.
    // The encoder delay and end padding the demuxer signals (gapless info) are not heard, so they
    // are not counted, the way libavcodec drops them: the delay is skipped from the first frames
    // on, running over into the next frame when it is longer than one (1105 samples against the
    // 576 of an MPEG-2/2.5 Layer III frame: 8-24 kHz tracks), and the end padding is cut from a
    // frame only when that frame holds it. The result equals what the decoder produces.
    PacketPtr pkt = make_packet();
    std::int64_t skip = 0;  // delay still to skip, carried across frames
    double seconds = 0;
    int rd = 0;
    while ((rd = av_read_frame(fmt, pkt.get())) >= 0) {
        const MpegAudioFrame f =
            pkt->stream_index == idx ? parse_header(pkt->data, pkt->size) : MpegAudioFrame{};
        if (f.samples > 0) {
            if (p.sample_rate == 0) {
                p.sample_rate = f.sample_rate;
                p.channels = f.channels;
            }
            std::int64_t padding = 0;
            std::size_t size = 0;
            if (const std::uint8_t* sd =
                    av_packet_get_side_data(pkt.get(), AV_PKT_DATA_SKIP_SAMPLES, &size);
                sd != nullptr && size >= 8) {
                skip = AV_RL32(sd);
                padding = AV_RL32(sd + 4);
            }
            std::int64_t heard = f.samples;
            const std::int64_t skipped = std::min(skip, heard);
            heard -= skipped;
            skip -= skipped;
            if (padding > 0 && padding <= heard) heard -= padding;
            seconds += static_cast<double>(heard) / f.sample_rate;
        }
        av_packet_unref(pkt.get());
    }
    // A read the disk failed is not the end of the track: the cut would be short, and a retry
    // that reads it whole would render another video.
    if (is_io_error(rd))
        av_fail(ErrorClass::IoError,
                fmt::format("cannot read music '{}': {}", name, av_error_text(rd)));
    if (p.sample_rate == 0) av_fail(kClass, fmt::format("music '{}' holds no audio packets", name));
    p.duration_sec = seconds;
    if (p.duration_sec <= 0) av_fail(kClass, fmt::format("music '{}' has zero duration", name));
    return p;
}

}  // namespace renderer::media

#include "support/media_inspect.h"

#include <cmath>
#include <stdexcept>

#include "media/av_ptr.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace renderer::testing {
namespace {

using namespace renderer::media;

struct Opened {
    InputFormatPtr fmt;
    CodecContextPtr dec;
    int index = -1;
};

Opened open_decoder(const std::filesystem::path& path, AVMediaType type) {
    Opened o;
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0) throw std::runtime_error("open failed");
    o.fmt.reset(raw);
    if (avformat_find_stream_info(o.fmt.get(), nullptr) < 0) throw std::runtime_error("stream info failed");
    const AVCodec* codec = nullptr;
    o.index = av_find_best_stream(o.fmt.get(), type, -1, -1, &codec, 0);
    if (o.index < 0) throw std::runtime_error("no stream of that type");
    o.dec.reset(avcodec_alloc_context3(codec));
    avcodec_parameters_to_context(o.dec.get(), o.fmt->streams[o.index]->codecpar);
    if (avcodec_open2(o.dec.get(), codec, nullptr) < 0) throw std::runtime_error("decoder open failed");
    return o;
}

template <typename F>
void decode_all(Opened& o, F&& on_frame) {
    PacketPtr pkt = make_packet();
    FramePtr frame = make_frame();
    const auto drain = [&] {
        while (avcodec_receive_frame(o.dec.get(), frame.get()) == 0) {
            on_frame(frame.get());
            av_frame_unref(frame.get());
        }
    };
    while (av_read_frame(o.fmt.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == o.index) {
            if (avcodec_send_packet(o.dec.get(), pkt.get()) < 0) throw std::runtime_error("undecodable packet");
            drain();
        }
        av_packet_unref(pkt.get());
    }
    avcodec_send_packet(o.dec.get(), nullptr);
    drain();
}

}  // namespace

DecodedAudio decode_audio(const std::filesystem::path& path) {
    Opened o = open_decoder(path, AVMEDIA_TYPE_AUDIO);
    DecodedAudio a;
    a.sample_rate = o.dec->sample_rate;
    a.channels = o.dec->ch_layout.nb_channels;
    decode_all(o, [&](const AVFrame* f) {
        a.samples += f->nb_samples;
        if (f->format == AV_SAMPLE_FMT_FLTP) {
            for (int c = 0; c < f->ch_layout.nb_channels; ++c) {
                const auto* s = reinterpret_cast<const float*>(f->extended_data[c]);
                for (int i = 0; i < f->nb_samples; ++i) a.peak = std::max(a.peak, static_cast<double>(std::fabs(s[i])));
            }
        }
    });
    return a;
}

std::vector<PlaneMeans> decode_video_means(const std::filesystem::path& path) {
    Opened o = open_decoder(path, AVMEDIA_TYPE_VIDEO);
    std::vector<PlaneMeans> out;
    decode_all(o, [&](const AVFrame* f) {
        const auto mean = [](const std::uint8_t* data, int stride, int w, int h) {
            double sum = 0;
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) sum += data[y * stride + x];
            return sum / (static_cast<double>(w) * h);
        };
        const int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
        out.push_back({mean(f->data[0], f->linesize[0], f->width, f->height), mean(f->data[1], f->linesize[1], cw, ch),
                       mean(f->data[2], f->linesize[2], cw, ch)});
    });
    return out;
}

ChromaSiting video_chroma_location(const std::filesystem::path& path) {
    Opened o = open_decoder(path, AVMEDIA_TYPE_VIDEO);
    const auto name = [](AVChromaLocation loc) {
        const char* n = av_chroma_location_name(loc);
        return std::string(n != nullptr ? n : "invalid");
    };
    ChromaSiting s{.stream = name(o.fmt->streams[o.index]->codecpar->chroma_location)};
    decode_all(o, [&](const AVFrame* f) {
        if (s.frame.empty()) s.frame = name(f->chroma_location);
    });
    return s;
}

int count_streams(const media::MediaInfo& info, const std::string& type) {
    int n = 0;
    for (const auto& s : info.streams) n += s.type == type ? 1 : 0;
    return n;
}

const media::StreamInfo* first_stream(const media::MediaInfo& info, const std::string& type) {
    for (const auto& s : info.streams) {
        if (s.type == type) return &s;
    }
    return nullptr;
}

}  // namespace renderer::testing

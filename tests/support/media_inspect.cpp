#include "support/media_inspect.h"

#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "media/av_ptr.h"

extern "C" {
#include <libavutil/hash.h>
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
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0)
        throw std::runtime_error("open failed");
    o.fmt.reset(raw);
    if (avformat_find_stream_info(o.fmt.get(), nullptr) < 0)
        throw std::runtime_error("stream info failed");
    const AVCodec* codec = nullptr;
    o.index = av_find_best_stream(o.fmt.get(), type, -1, -1, &codec, 0);
    if (o.index < 0) throw std::runtime_error("no stream of that type");
    o.dec.reset(avcodec_alloc_context3(codec));
    avcodec_parameters_to_context(o.dec.get(), o.fmt->streams[o.index]->codecpar);
    if (avcodec_open2(o.dec.get(), codec, nullptr) < 0)
        throw std::runtime_error("decoder open failed");
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
            if (avcodec_send_packet(o.dec.get(), pkt.get()) < 0)
                throw std::runtime_error("undecodable packet");
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
                for (int i = 0; i < f->nb_samples; ++i)
                    a.peak = std::max(a.peak, static_cast<double>(std::fabs(s[i])));
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
        out.push_back({mean(f->data[0], f->linesize[0], f->width, f->height),
                       mean(f->data[1], f->linesize[1], cw, ch),
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

std::string packet_digest(const std::filesystem::path& path) {
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0)
        throw std::runtime_error("open failed");
    const InputFormatPtr fmt(raw);
    AVHashContext* hash_raw = nullptr;
    if (av_hash_alloc(&hash_raw, "SHA256") < 0) throw std::runtime_error("no SHA-256 in libavutil");
    const auto free_hash = [](AVHashContext* h) { av_hash_freep(&h); };
    const std::unique_ptr<AVHashContext, decltype(free_hash)> hash(hash_raw, free_hash);
    av_hash_init(hash.get());
    const auto add_text = [&](const std::string& text) {
        av_hash_update(hash.get(), reinterpret_cast<const std::uint8_t*>(text.data()),
                       text.size() + 1);
    };
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        const AVStream* st = fmt->streams[i];
        const AVCodecParameters* p = st->codecpar;
        add_text(fmt::format(
            "stream {} type {} codec {} tb {}/{} size {}x{} sar {}/{} format {} rate {} "
            "channels {} frame_size {} padding {} profile {} level {} range {} space {} "
            "primaries {} trc {} chroma {} field {} extradata {}",
            i, static_cast<int>(p->codec_type), static_cast<int>(p->codec_id), st->time_base.num,
            st->time_base.den, p->width, p->height, p->sample_aspect_ratio.num,
            p->sample_aspect_ratio.den, p->format, p->sample_rate, p->ch_layout.nb_channels,
            p->frame_size, p->initial_padding, p->profile, p->level,
            static_cast<int>(p->color_range), static_cast<int>(p->color_space),
            static_cast<int>(p->color_primaries), static_cast<int>(p->color_trc),
            static_cast<int>(p->chroma_location), static_cast<int>(p->field_order),
            p->extradata_size));
        if (p->extradata_size > 0)
            av_hash_update(hash.get(), p->extradata, static_cast<std::size_t>(p->extradata_size));
    }
    PacketPtr pkt = make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        add_text(fmt::format("packet {} pts {} dts {} duration {} flags {} size {}",
                             pkt->stream_index, pkt->pts, pkt->dts, pkt->duration, pkt->flags,
                             pkt->size));
        if (pkt->size > 0)
            av_hash_update(hash.get(), pkt->data, static_cast<std::size_t>(pkt->size));
        av_packet_unref(pkt.get());
    }
    char hex[2 * AV_HASH_MAX_SIZE + 1] = {0};
    av_hash_final_hex(hash.get(), reinterpret_cast<std::uint8_t*>(hex), sizeof hex);
    return hex;
}

std::vector<DecodedPicture> decode_pictures(const std::filesystem::path& path) {
    Opened o = open_decoder(path, AVMEDIA_TYPE_VIDEO);
    const AVRational tb = o.fmt->streams[o.index]->time_base;
    std::vector<DecodedPicture> out;
    decode_all(o, [&](const AVFrame* f) {
        DecodedPicture p{.pts = f->best_effort_timestamp,
                         .time_base_num = tb.num,
                         .time_base_den = tb.den,
                         .width = f->width,
                         .height = f->height};
        p.luma.reserve(static_cast<std::size_t>(f->width) * f->height);
        for (int y = 0; y < f->height; ++y) {
            const std::uint8_t* row = f->data[0] + static_cast<std::ptrdiff_t>(y) * f->linesize[0];
            p.luma.insert(p.luma.end(), row, row + f->width);
        }
        out.push_back(std::move(p));
    });
    return out;
}

double luma_psnr(const DecodedPicture& a, const DecodedPicture& b) {
    if (a.width != b.width || a.height != b.height || a.luma.size() != b.luma.size())
        throw std::runtime_error("luma_psnr: pictures of different sizes");
    double sum = 0;
    for (std::size_t i = 0; i < a.luma.size(); ++i) {
        const double d = static_cast<double>(a.luma[i]) - static_cast<double>(b.luma[i]);
        sum += d * d;
    }
    const double mse = sum / static_cast<double>(a.luma.size());
    if (mse == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(255.0 * 255.0 / mse);
}

std::vector<PacketRecord> stream_packets(const std::filesystem::path& path,
                                         const std::string& type) {
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0)
        throw std::runtime_error("open failed");
    const InputFormatPtr fmt(raw);
    if (avformat_find_stream_info(fmt.get(), nullptr) < 0)
        throw std::runtime_error("stream info failed");
    const AVMediaType want = type == "video" ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO;
    const int index = av_find_best_stream(fmt.get(), want, -1, -1, nullptr, 0);
    if (index < 0) throw std::runtime_error("no stream of that type");
    const AVRational tb = fmt->streams[index]->time_base;
    std::vector<PacketRecord> out;
    PacketPtr pkt = make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == index) {
            AVHashContext* h = nullptr;
            if (av_hash_alloc(&h, "SHA256") < 0) throw std::runtime_error("no SHA-256");
            av_hash_init(h);
            av_hash_update(h, pkt->data, static_cast<std::size_t>(pkt->size));
            char hex[2 * AV_HASH_MAX_SIZE + 1] = {0};
            av_hash_final_hex(h, reinterpret_cast<std::uint8_t*>(hex), sizeof hex);
            av_hash_freep(&h);
            out.push_back({.pts = pkt->pts,
                           .dts = pkt->dts,
                           .duration = pkt->duration,
                           .key = (pkt->flags & AV_PKT_FLAG_KEY) != 0,
                           .data_sha256 = hex,
                           .time_base_num = tb.num,
                           .time_base_den = tb.den});
        }
        av_packet_unref(pkt.get());
    }
    return out;
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

#include "support/mp3_fixture.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

#include "media/av_ptr.h"

namespace renderer::testing {
namespace {

using namespace renderer::media;

void check(int rc, const char* what) {
    if (rc < 0) throw std::runtime_error(std::string("mp3 fixture: ") + what);
}

}  // namespace

void write_mp3_sine(const std::filesystem::path& path, const Sine& sine) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libmp3lame");
    if (codec == nullptr) throw std::runtime_error("libavcodec has no libmp3lame encoder");
    CodecContextPtr enc(avcodec_alloc_context3(codec));
    enc->sample_rate = sine.sample_rate;
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&enc->ch_layout, sine.channels);
    enc->bit_rate = 128000;
    enc->time_base = AVRational{1, sine.sample_rate};
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    check(avcodec_open2(enc.get(), codec, nullptr), "cannot open libmp3lame");

    AVFormatContext* raw = nullptr;
    check(avformat_alloc_output_context2(&raw, nullptr, "mp3", path.c_str()), "no mp3 muxer");
    OutputFormatPtr mux(raw);
    mux->flags |= AVFMT_FLAG_BITEXACT;
    // A real, seekable file: the muxer goes back to fill in the Xing/LAME header (frame count,
    // encoder delay and padding), as the files in a music library have it.
    check(avio_open(&mux->pb, path.c_str(), AVIO_FLAG_WRITE), "cannot create the mp3 file");
    AVStream* st = avformat_new_stream(mux.get(), nullptr);
    check(avcodec_parameters_from_context(st->codecpar, enc.get()), "stream parameters");
    st->time_base = enc->time_base;
    check(avformat_write_header(mux.get(), nullptr), "mp3 header");

    PacketPtr pkt = make_packet();
    const auto drain = [&] {
        while (avcodec_receive_packet(enc.get(), pkt.get()) == 0) {
            av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
            pkt->stream_index = 0;
            check(av_interleaved_write_frame(mux.get(), pkt.get()), "mp3 packet");
        }
    };
    const auto total = static_cast<std::int64_t>(std::llround(sine.seconds * sine.sample_rate));
    const double step = 2 * std::numbers::pi * sine.frequency / sine.sample_rate;
    for (std::int64_t done = 0; done < total;) {
        FramePtr f = make_frame();
        f->format = AV_SAMPLE_FMT_FLTP;
        f->sample_rate = sine.sample_rate;
        av_channel_layout_default(&f->ch_layout, sine.channels);
        f->nb_samples = static_cast<int>(std::min<std::int64_t>(enc->frame_size, total - done));
        check(av_frame_get_buffer(f.get(), 0), "frame buffer");
        for (int c = 0; c < sine.channels; ++c) {
            auto* s = reinterpret_cast<float*>(f->extended_data[c]);
            for (int i = 0; i < f->nb_samples; ++i)
                s[i] = static_cast<float>(sine.amplitude * std::sin(step * (done + i)));
        }
        f->pts = done;
        done += f->nb_samples;
        check(avcodec_send_frame(enc.get(), f.get()), "encode");
        drain();
    }
    check(avcodec_send_frame(enc.get(), nullptr), "flush");
    drain();
    check(av_write_trailer(mux.get()), "mp3 trailer");
}

DecodedPcm decode_pcm(const std::filesystem::path& path) {
    AVFormatContext* raw = nullptr;
    check(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), "open");
    InputFormatPtr fmt(raw);
    check(avformat_find_stream_info(fmt.get(), nullptr), "stream info");
    const AVCodec* codec = nullptr;
    const int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    check(index, "no audio stream");
    CodecContextPtr dec(avcodec_alloc_context3(codec));
    check(avcodec_parameters_to_context(dec.get(), fmt->streams[index]->codecpar), "parameters");
    dec->pkt_timebase = fmt->streams[index]->time_base;
    check(avcodec_open2(dec.get(), codec, nullptr), "decoder");
    DecodedPcm pcm;
    PacketPtr pkt = make_packet();
    FramePtr frame = make_frame();
    const auto drain = [&] {
        while (avcodec_receive_frame(dec.get(), frame.get()) == 0) {
            if (frame->format != AV_SAMPLE_FMT_FLTP)
                throw std::runtime_error("decode_pcm: expected float planar");
            // The first frame after a change of rate is tagged with the old rate by FFmpeg's
            // MPEG audio decoder; the context holds the frame's real one.
            frame->sample_rate = dec->sample_rate;
            if (pcm.sample_rate == 0) pcm.sample_rate = frame->sample_rate;
            pcm.seconds += static_cast<double>(frame->nb_samples) / frame->sample_rate;
            const auto n = static_cast<std::size_t>(frame->ch_layout.nb_channels);
            if (pcm.channels.size() < n) pcm.channels.resize(n);
            for (int c = 0; c < frame->ch_layout.nb_channels; ++c) {
                const auto* s = reinterpret_cast<const float*>(frame->extended_data[c]);
                pcm.channels[static_cast<std::size_t>(c)].insert(
                    pcm.channels[static_cast<std::size_t>(c)].end(), s, s + frame->nb_samples);
            }
            av_frame_unref(frame.get());
        }
    };
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == index) {
            // A packet the decoder refuses (the second file's ID3 tag in `cat a.mp3 b.mp3`) is
            // skipped, as players do.
            avcodec_send_packet(dec.get(), pkt.get());
            drain();
        }
        av_packet_unref(pkt.get());
    }
    avcodec_send_packet(dec.get(), nullptr);
    drain();
    return pcm;
}

double zero_crossing_pitch(const std::vector<float>& s, std::size_t from, std::size_t count,
                           int sample_rate) {
    // Between the first and the last rising crossing lie (crossings - 1) whole periods.
    std::size_t first = 0, last = 0, crossings = 0;
    for (std::size_t i = from + 1; i < from + count && i < s.size(); ++i) {
        if (s[i - 1] < 0 && s[i] >= 0) {
            if (crossings == 0) first = i;
            last = i;
            ++crossings;
        }
    }
    if (crossings < 2) return 0;
    return static_cast<double>(crossings - 1) * sample_rate / static_cast<double>(last - first);
}

double rms(const std::vector<float>& s, std::size_t from, std::size_t count) {
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t i = from; i < from + count && i < s.size(); ++i, ++n)
        sum += static_cast<double>(s[i]) * s[i];
    return n > 0 ? std::sqrt(sum / static_cast<double>(n)) : 0;
}

}  // namespace renderer::testing

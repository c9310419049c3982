#include "media/audio_source.h"

#include <array>

#include <fmt/format.h>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/intreadwrite.h>
}

#include "media/av_error.h"
#include "media/libav_log.h"

namespace renderer::media {
namespace {

constexpr std::array<int, 13> kAacRates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                           22050, 16000, 12000, 11025, 8000,  7350};

InputFormatPtr open_input(const std::filesystem::path& path, ErrorClass cls) {
    AVFormatContext* raw = nullptr;
    const int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    if (rc < 0) {
        av_fail(cls, fmt::format("cannot open music '{}': {}", path.filename().string(), av_error_text(rc)));
    }
    InputFormatPtr ctx(raw);
    const int info = avformat_find_stream_info(ctx.get(), nullptr);
    if (info < 0) {
        av_fail(cls, fmt::format("cannot read music '{}': {}", path.filename().string(), av_error_text(info)));
    }
    return ctx;
}

int find_audio_stream(AVFormatContext* ctx, const std::filesystem::path& path, ErrorClass cls) {
    const int idx = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (idx < 0) {
        av_fail(cls, fmt::format("music '{}' has no audio stream; use an MP3 with audio", path.filename().string()));
    }
    return idx;
}

// The music library holds MP3s (the spec). libavformat opens almost anything, so a WAV, an AAC
// or a text file named .mp3 would otherwise be rendered or fail later with a vaguer message:
// name what the file really is. The mp3 demuxer only ever yields MPEG audio (layers I-III).
void check_is_mp3(const AVFormatContext* ctx, const std::filesystem::path& path) {
    const std::string format = ctx->iformat->name;
    if (format == "mp3") return;
    std::string found = "no audio stream";
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
        const AVCodecParameters* par = ctx->streams[i]->codecpar;
        if (par->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        found = fmt::format("{} audio, {} channel{}, {} Hz", avcodec_get_name(par->codec_id),
                            par->ch_layout.nb_channels, par->ch_layout.nb_channels == 1 ? "" : "s",
                            par->sample_rate);
        break;
    }
    av_fail(ErrorClass::PreflightError,
            fmt::format("music '{}' is not an MP3 file: it reads as {} ({}); convert it to MP3 or "
                        "remove it from the music dir",
                        path.filename().string(), format, found));
}

}  // namespace

AudioProbe probe_audio(const std::filesystem::path& path) {
    const auto fmt = open_input(path, ErrorClass::PreflightError);
    check_is_mp3(fmt.get(), path);
    const int idx = find_audio_stream(fmt.get(), path, ErrorClass::PreflightError);
    const AVStream* st = fmt->streams[idx];
    AudioProbe p;
    p.sample_rate = st->codecpar->sample_rate;
    p.channels = st->codecpar->ch_layout.nb_channels;
    p.codec = avcodec_get_name(st->codecpar->codec_id);
    if (avcodec_find_decoder(st->codecpar->codec_id) == nullptr) {
        av_fail(ErrorClass::PreflightError, fmt::format("music '{}': no decoder for codec {}", path.filename().string(), p.codec));
    }
    if (p.sample_rate <= 0 || p.channels <= 0) {
        av_fail(ErrorClass::PreflightError, fmt::format("music '{}': audio stream has no sample rate or channels", path.filename().string()));
    }
    // Sum what the packets cover: exact for VBR files, unlike the bitrate-based estimate. The
    // encoder delay and end padding the demuxer signals (gapless info) are not heard, so they
    // are not counted: the result equals the number of samples the decoder will produce.
    PacketPtr pkt = make_packet();
    std::int64_t first = AV_NOPTS_VALUE, end = AV_NOPTS_VALUE, skipped = 0;
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == idx && pkt->pts != AV_NOPTS_VALUE) {
            if (first == AV_NOPTS_VALUE || pkt->pts < first) first = pkt->pts;
            const std::int64_t e = pkt->pts + pkt->duration;
            if (end == AV_NOPTS_VALUE || e > end) end = e;
            std::size_t size = 0;
            if (const std::uint8_t* sd = av_packet_get_side_data(pkt.get(), AV_PKT_DATA_SKIP_SAMPLES, &size);
                sd != nullptr && size >= 8) {
                skipped += static_cast<std::int64_t>(AV_RL32(sd)) + static_cast<std::int64_t>(AV_RL32(sd + 4));
            }
        }
        av_packet_unref(pkt.get());
    }
    if (first == AV_NOPTS_VALUE || end <= first) {
        av_fail(ErrorClass::PreflightError, fmt::format("music '{}' holds no audio packets", path.filename().string()));
    }
    p.duration_sec = static_cast<double>(end - first) * av_q2d(st->time_base) -
                     static_cast<double>(skipped) / p.sample_rate;
    if (p.duration_sec <= 0) {
        av_fail(ErrorClass::PreflightError, fmt::format("music '{}' has zero duration", path.filename().string()));
    }
    return p;
}

AudioSource::AudioSource(const std::filesystem::path& path, LibavLogCapture& log) : log_(log) {
    fmt_ = open_input(path, ErrorClass::DecodeError);
    log_.attach(fmt_.get());
    stream_index_ = find_audio_stream(fmt_.get(), path, ErrorClass::DecodeError);
    // Everything but our audio stream is discarded at the demuxer (cover art, data streams).
    for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
        if (static_cast<int>(i) != stream_index_) fmt_->streams[i]->discard = AVDISCARD_ALL;
    }
    const AVCodecParameters* par = fmt_->streams[stream_index_]->codecpar;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    if (codec == nullptr) av_fail(ErrorClass::DecodeError, "no decoder for the music's codec");
    dec_.reset(avcodec_alloc_context3(codec));
    log_.attach(dec_.get());
    av_check(avcodec_parameters_to_context(dec_.get(), par), ErrorClass::DecodeError, "bad audio parameters");
    dec_->thread_count = 1;
    av_check(avcodec_open2(dec_.get(), codec, nullptr), ErrorClass::DecodeError, "cannot open the audio decoder");
    if (dec_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        const int n = dec_->ch_layout.nb_channels;
        av_channel_layout_uninit(&dec_->ch_layout);
        av_channel_layout_default(&dec_->ch_layout, n);
    }

    out_rate_ = 48000;
    for (const int r : kAacRates) {
        if (r == dec_->sample_rate) out_rate_ = r;
    }
    AVChannelLayout stereo;
    av_channel_layout_default(&stereo, 2);
    SwrContext* swr = nullptr;
    av_check(swr_alloc_set_opts2(&swr, &stereo, AV_SAMPLE_FMT_FLTP, out_rate_, &dec_->ch_layout, dec_->sample_fmt,
                                 dec_->sample_rate, 0, nullptr),
             ErrorClass::DecodeError, "cannot configure the resampler");
    swr_.reset(swr);
    log_.attach(swr_.get());
    av_check(swr_init(swr_.get()), ErrorClass::DecodeError, "cannot initialise the resampler");
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 2, 4096));
    if (!fifo_) av_fail(ErrorClass::DecodeError, "cannot allocate the audio FIFO");
}

AudioSource::~AudioSource() {
    if (fmt_) log_.detach(fmt_.get());
    if (dec_) log_.detach(dec_.get());
    if (swr_) log_.detach(swr_.get());
}

void AudioSource::push(const AVFrame* decoded) {
    const int in_samples = decoded != nullptr ? decoded->nb_samples : 0;
    const int capacity = swr_get_out_samples(swr_.get(), in_samples);
    if (capacity <= 0) return;
    FramePtr out = make_frame();
    out->format = AV_SAMPLE_FMT_FLTP;
    out->sample_rate = out_rate_;
    av_channel_layout_default(&out->ch_layout, 2);
    out->nb_samples = capacity;
    av_check(av_frame_get_buffer(out.get(), 0), ErrorClass::DecodeError, "cannot allocate audio samples");
    const int n = swr_convert(swr_.get(), out->data, capacity,
                              decoded != nullptr ? const_cast<const std::uint8_t**>(decoded->extended_data) : nullptr,
                              in_samples);
    av_check(n, ErrorClass::DecodeError, "cannot resample the music");
    if (n > 0 && av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(out->data), n) < n) {
        av_fail(ErrorClass::DecodeError, "cannot buffer audio samples");
    }
}

bool AudioSource::fill(int wanted) {
    PacketPtr pkt = make_packet();
    FramePtr frame = make_frame();
    while (av_audio_fifo_size(fifo_.get()) < wanted && !drained_) {
        if (!demux_done_) {
            const int rc = av_read_frame(fmt_.get(), pkt.get());
            if (rc < 0) {
                demux_done_ = true;
                avcodec_send_packet(dec_.get(), nullptr);  // enter draining
            } else if (pkt->stream_index != stream_index_) {
                av_packet_unref(pkt.get());
                continue;
            } else {
                // A damaged MP3 frame is skipped, as players and the ffmpeg CLI do.
                if (avcodec_send_packet(dec_.get(), pkt.get()) < 0) ++decode_errors_;
                av_packet_unref(pkt.get());
            }
        }
        for (;;) {
            const int rc = avcodec_receive_frame(dec_.get(), frame.get());
            if (rc == AVERROR(EAGAIN)) break;
            if (rc == AVERROR_EOF) {
                push(nullptr);  // flush what the resampler holds back
                drained_ = true;
                break;
            }
            if (rc < 0) {
                ++decode_errors_;
                break;
            }
            push(frame.get());
            av_frame_unref(frame.get());
        }
    }
    return av_audio_fifo_size(fifo_.get()) > 0;
}

FramePtr AudioSource::read(int max_samples) {
    if (!fill(max_samples)) return nullptr;
    const int n = std::min(max_samples, av_audio_fifo_size(fifo_.get()));
    FramePtr out = make_frame();
    out->format = AV_SAMPLE_FMT_FLTP;
    out->sample_rate = out_rate_;
    av_channel_layout_default(&out->ch_layout, 2);
    out->nb_samples = n;
    av_check(av_frame_get_buffer(out.get(), 0), ErrorClass::DecodeError, "cannot allocate audio samples");
    if (av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(out->data), n) < n) {
        av_fail(ErrorClass::DecodeError, "cannot read buffered audio samples");
    }
    return out;
}

}  // namespace renderer::media

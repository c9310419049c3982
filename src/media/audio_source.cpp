#include "media/audio_source.h"

#include <array>

#include <fmt/format.h>

extern "C" {
#include <libavutil/channel_layout.h>
}

#include "media/av_error.h"
#include "media/libav_input.h"

namespace renderer::media {
namespace {

constexpr std::array<int, 13> kAacRates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                           22050, 16000, 12000, 11025, 8000,  7350};

AVChannelLayout stereo() {
    AVChannelLayout l;
    av_channel_layout_default(&l, 2);
    return l;
}

}  // namespace

int output_sample_rate(int decoded_rate) {
    for (const int r : kAacRates) {
        if (r == decoded_rate) return r;
    }
    return 48000;
}

FramePtr make_stereo_frame(int rate, int samples, ErrorClass cls) {
    FramePtr f = make_frame();
    if (!f) av_fail(cls, "cannot allocate audio samples");
    f->format = AV_SAMPLE_FMT_FLTP;
    f->sample_rate = rate;
    av_channel_layout_default(&f->ch_layout, 2);
    f->nb_samples = samples;
    av_check(av_frame_get_buffer(f.get(), 0), cls, "cannot allocate audio samples");
    return f;
}

AudioSource::AudioSource(const std::filesystem::path& path, LibavLogCapture& log) : log_(log) {
    const std::string what = fmt::format("music '{}'", path.filename().string());
    fmt_ = open_input(path, ErrorClass::DecodeError, InputPolicy::Music);
    fmt_route_ = LibavLogRoute(log_, fmt_.get());
    const int index = first_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO);
    if (index < 0)
        av_fail(ErrorClass::DecodeError,
                fmt::format("{} has no audio stream; use an MP3 with audio", what));
    // Everything but our audio stream is discarded at the demuxer (cover art, data streams).
    for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
        if (static_cast<int>(i) != index) fmt_->streams[i]->discard = AVDISCARD_ALL;
    }
    dec_ = open_decoder(fmt_.get(), index, ErrorClass::DecodeError, InputPolicy::Music);
    dec_route_ = LibavLogRoute(log_, dec_.get());
    // A damaged MP3 frame is skipped, as players and the ffmpeg CLI do; the render counts them.
    loop_.emplace(
        fmt_.get(), index, dec_.get(),
        DecodingLoop::Options{
            .error_class = ErrorClass::DecodeError, .what = what, .skip_bad_packets = true});

    // The output rate comes from what is decoded: the stream's parameters may describe another
    // part of a concatenated file.
    frame_ = make_frame();
    frame_pending_ = next_frame();
    if (!frame_pending_)
        av_fail(ErrorClass::DecodeError, fmt::format("{} holds no decodable audio", what));
    out_rate_ = output_sample_rate(frame_->sample_rate);
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 2, 4096));
    if (!fifo_) av_fail(ErrorClass::DecodeError, "cannot allocate the audio FIFO");
}

AudioSource::~AudioSource() { av_channel_layout_uninit(&in_layout_); }

void AudioSource::configure_resampler(const AVFrame& decoded) {
    AVChannelLayout layout{};
    if (decoded.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        av_channel_layout_default(&layout, decoded.ch_layout.nb_channels);
    } else {
        av_channel_layout_copy(&layout, &decoded.ch_layout);
    }
    AVChannelLayout out =
        stereo();  // not const: swr_alloc_set_opts2 of FFmpeg 5.1 takes it mutable
    SwrContext* swr = nullptr;
    const int rc = swr_alloc_set_opts2(&swr, &out, AV_SAMPLE_FMT_FLTP, out_rate_, &layout,
                                       static_cast<AVSampleFormat>(decoded.format),
                                       decoded.sample_rate, 0, nullptr);
    swr_route_ = LibavLogRoute();
    swr_.reset(swr);
    av_check(rc, ErrorClass::DecodeError, "cannot configure the resampler");
    swr_route_ = LibavLogRoute(log_, swr_.get());
    if (layout.nb_channels == 1) {
        // Mono goes to both channels at unity gain (DESIGN 3.1). swresample's own mono-to-stereo
        // matrix uses -3 dB per channel, which plays a mono track 3 dB quieter than it was mixed.
        const double to_both[2] = {1.0, 1.0};
        av_check(swr_set_matrix(swr_.get(), to_both, 1), ErrorClass::DecodeError,
                 "cannot set the mono matrix");
    }
    av_check(swr_init(swr_.get()), ErrorClass::DecodeError, "cannot initialise the resampler");
    ++resampler_configs_;
    in_rate_ = decoded.sample_rate;
    in_format_ = decoded.format;
    av_channel_layout_uninit(&in_layout_);
    in_layout_ = layout;
}

void AudioSource::resample(const AVFrame* decoded) {
    if (decoded != nullptr &&
        (!swr_ || decoded->sample_rate != in_rate_ || decoded->format != in_format_ ||
         decoded->ch_layout.nb_channels != in_layout_.nb_channels ||
         (decoded->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC &&
          av_channel_layout_compare(&decoded->ch_layout, &in_layout_) != 0))) {
        // The format changed (or this is the first frame): what the old configuration holds
        // back belongs before the change, then a resampler for the new input (as the ffmpeg
        // CLI reconfigures its filter graph).
        if (swr_) resample(nullptr);
        configure_resampler(*decoded);
    }
    if (!swr_) return;
    const int in_samples = decoded != nullptr ? decoded->nb_samples : 0;
    const int capacity = swr_get_out_samples(swr_.get(), in_samples);
    if (capacity <= 0) return;
    FramePtr out = make_stereo_frame(out_rate_, capacity, ErrorClass::DecodeError);
    const int n = swr_convert(
        swr_.get(), out->data, capacity,
        decoded != nullptr ? const_cast<const std::uint8_t**>(decoded->extended_data) : nullptr,
        in_samples);
    av_check(n, ErrorClass::DecodeError, "cannot resample the music");
    if (n > 0 && av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(out->data), n) < n) {
        av_fail(ErrorClass::DecodeError, "cannot buffer audio samples");
    }
}

bool AudioSource::next_frame() {
    if (!loop_->next(frame_.get())) return false;
    // FFmpeg's MPEG audio decoder allocates a frame before it takes the new header's rate, so
    // the first frame after a change of rate carries the old one (the context has the new).
    // One packet in, one frame out: the context's rate is this frame's.
    if (dec_->sample_rate > 0) frame_->sample_rate = dec_->sample_rate;
    return true;
}

bool AudioSource::fill(int wanted) {
    while (av_audio_fifo_size(fifo_.get()) < wanted && !drained_) {
        if (!frame_pending_) frame_pending_ = next_frame();
        if (!frame_pending_) {
            resample(nullptr);  // flush what the resampler holds back
            drained_ = true;
            break;
        }
        resample(frame_.get());
        frame_pending_ = false;
    }
    return av_audio_fifo_size(fifo_.get()) > 0;
}

FramePtr AudioSource::read(int max_samples) {
    if (!fill(max_samples)) return nullptr;
    const int n = std::min(max_samples, av_audio_fifo_size(fifo_.get()));
    FramePtr out = make_stereo_frame(out_rate_, n, ErrorClass::DecodeError);
    if (av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(out->data), n) < n) {
        av_fail(ErrorClass::DecodeError, "cannot read buffered audio samples");
    }
    return out;
}

}  // namespace renderer::media

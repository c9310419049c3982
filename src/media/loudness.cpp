#include "media/loudness.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
}

#include "common/error.h"
#include "media/audio_finish.h"
#include "media/av_error.h"
#include "media/decoding_loop.h"
#include "media/encoders.h"
#include "media/libav_input.h"

namespace renderer::media {
namespace {

double to_db(double linear) {
    return linear > 0 ? 20.0 * std::log10(linear) : -std::numeric_limits<double>::infinity();
}

// A measure lasts as long as the audio; a timeout or a lost lease stops it between frames.
void check_cancel(const CancelToken* cancel) {
    if (cancel != nullptr && cancel->cancelled())
        throw Error(*cancel->reason(), "render cancelled");
}

// A NaN or infinite sample (a float file can hold them) leaves no loudness to report: bad input.
void check_finite(const LoudnessMeter& meter, const std::string& what) {
    if (!meter.finite())
        throw Error(
            ErrorClass::DecodeError,
            fmt::format("{} holds NaN or infinite samples: its loudness cannot be measured; "
                        "replace it with a file of finite samples",
                        what));
}

// BS.1770's weight of each channel of a layout that names its speakers, by libavfilter's
// ebur128 rule: the LFE left out, back, side and top-back speakers +1.5 dB (1.41), the rest 1.0.
std::vector<double> speaker_weights(const AVChannelLayout& layout) {
    std::vector<double> weights;
    for (int i = 0; i < layout.nb_channels; ++i) {
        switch (av_channel_layout_channel_from_index(&layout, static_cast<unsigned>(i))) {
            case AV_CHAN_LOW_FREQUENCY:
            case AV_CHAN_LOW_FREQUENCY_2:
                weights.push_back(0.0);
                break;
            case AV_CHAN_BACK_LEFT:
            case AV_CHAN_BACK_CENTER:
            case AV_CHAN_BACK_RIGHT:
            case AV_CHAN_SIDE_LEFT:
            case AV_CHAN_SIDE_RIGHT:
            case AV_CHAN_TOP_BACK_LEFT:
            case AV_CHAN_TOP_BACK_CENTER:
            case AV_CHAN_TOP_BACK_RIGHT:
            case AV_CHAN_SURROUND_DIRECT_LEFT:
            case AV_CHAN_SURROUND_DIRECT_RIGHT:
                weights.push_back(1.41);
                break;
            default:
                weights.push_back(1.0);
        }
    }
    return weights;
}

}  // namespace

LoudnessMeter::LoudnessMeter(int channels, int sample_rate)
    : LoudnessMeter(GatedLoudness::positional_weights(channels), sample_rate) {}

LoudnessMeter::LoudnessMeter(const std::vector<double>& weights, int sample_rate)
    : loudness_(weights, sample_rate),
      true_peak_(static_cast<int>(weights.size())),
      channels_(static_cast<int>(weights.size())) {}

void LoudnessMeter::add_planar(const AVFrame& frame) {
    std::vector<const float*> planes(static_cast<std::size_t>(channels_));
    for (int c = 0; c < channels_; ++c)
        planes[static_cast<std::size_t>(c)] =
            reinterpret_cast<const float*>(frame.extended_data[c]);
    add_planar(planes.data(), static_cast<std::size_t>(frame.nb_samples));
}

void LoudnessMeter::set_channels(const std::vector<double>& weights) {
    loudness_.set_channels(weights);
    true_peak_.set_channels(static_cast<int>(weights.size()));
    channels_ = static_cast<int>(weights.size());
}

void LoudnessMeter::add_planar(const float* const* planes, std::size_t frames) {
    loudness_.add_planar(planes, frames);
    true_peak_.add_planar(planes, frames);
}

LoudnessMeasure LoudnessMeter::result() const {
    return {.integrated_lufs = loudness_.integrated_lufs(),
            .true_peak_dbtp = to_db(true_peak_.peak())};
}

LoudnessGain loudness_gain(const LoudnessMeasure& m, double target_lufs, double ceiling_dbtp) {
    if (!std::isfinite(m.integrated_lufs) || !std::isfinite(m.true_peak_dbtp))
        return {.silent = true};
    const double to_target = target_lufs - m.integrated_lufs;
    const double to_ceiling = ceiling_dbtp - m.true_peak_dbtp;
    if (to_ceiling < to_target) return {.gain_db = to_ceiling, .peak_limited = true};
    return {.gain_db = to_target};
}

LoudnessMeasure measure_finished(const std::filesystem::path& path, LibavLogCapture& log,
                                 const AudioPlan& plan, const CancelToken* cancel) {
    FinishedAudio audio(path, log, plan);
    LoudnessMeter meter(2, audio.sample_rate());
    for (std::int64_t done = 0; done < plan.total;) {
        check_cancel(cancel);
        const FramePtr f =
            audio.read(static_cast<int>(std::min<std::int64_t>(1 << 14, plan.total - done)));
        meter.add_planar(*f);
        check_finite(meter, "the music track");
        done += f->nb_samples;
    }
    return meter.result();
}

LoudnessMeasure measure_delivered(const std::filesystem::path& path, LibavLogCapture& log,
                                  const AudioPlan& plan, std::int64_t bit_rate, EncodedAudio* keep,
                                  const CancelToken* cancel) {
    FinishedAudio audio(path, log, plan);
    CodecContextPtr enc = open_aac_encoder(audio.sample_rate(), bit_rate, /*global_header=*/true);
    const LibavLogRoute enc_route(log, enc.get());
    const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    CodecContextPtr dec(codec != nullptr ? avcodec_alloc_context3(codec) : nullptr);
    if (!dec) throw Error(ErrorClass::EncodeError, "cannot allocate an AAC decoder");
    const LibavLogRoute dec_route(log, dec.get());
    dec->sample_rate = enc->sample_rate;
    av_channel_layout_copy(&dec->ch_layout, &enc->ch_layout);
    // The AudioSpecificConfig the encoder wrote, which the MP4 carries for the player's decoder.
    dec->extradata = static_cast<std::uint8_t*>(
        av_mallocz(static_cast<std::size_t>(enc->extradata_size) + AV_INPUT_BUFFER_PADDING_SIZE));
    if (dec->extradata == nullptr)
        throw Error(ErrorClass::EncodeError, "cannot allocate the AAC configuration");
    std::copy_n(enc->extradata, enc->extradata_size, dec->extradata);
    dec->extradata_size = enc->extradata_size;
    av_check(avcodec_open2(dec.get(), codec, nullptr), ErrorClass::EncodeError,
             "cannot open the AAC decoder");

    LoudnessMeter meter(2, audio.sample_rate());
    // The decoder's first output is the encoder's priming, which the MP4's edit list hides; the
    // meter takes the samples a player plays: from the priming's end, plan.total of them.
    std::int64_t skip = enc->initial_padding;
    std::int64_t left = plan.total;
    PacketPtr packet = make_packet();
    FramePtr decoded = make_frame();
    const auto drain_decoder = [&] {
        while (avcodec_receive_frame(dec.get(), decoded.get()) == 0) {
            const std::int64_t from = std::min<std::int64_t>(skip, decoded->nb_samples);
            const std::int64_t n = std::min<std::int64_t>(decoded->nb_samples - from, left);
            skip -= from;
            if (n > 0) {
                const float* planes[2] = {
                    reinterpret_cast<const float*>(decoded->extended_data[0]) + from,
                    reinterpret_cast<const float*>(decoded->extended_data[1]) + from};
                meter.add_planar(planes, static_cast<std::size_t>(n));
                check_finite(meter, "the music track");
                left -= n;
            }
            av_frame_unref(decoded.get());
        }
    };
    if (keep != nullptr) *keep = {};
    const auto encode = [&](const AVFrame* frame) {
        av_check(avcodec_send_frame(enc.get(), frame), ErrorClass::EncodeError,
                 "cannot encode audio for the loudness measure");
        int out = 0;
        while (avcodec_receive_packet(enc.get(), packet.get()) == 0) {
            av_check(avcodec_send_packet(dec.get(), packet.get()), ErrorClass::EncodeError,
                     "cannot decode audio for the loudness measure");
            if (keep != nullptr) {
                keep->packets.emplace_back(av_packet_clone(packet.get()));
                if (!keep->packets.back())
                    throw Error(ErrorClass::EncodeError, "cannot keep an AAC packet");
            }
            ++out;
            av_packet_unref(packet.get());
            drain_decoder();
        }
        if (keep != nullptr) keep->after_frame.push_back(out);
    };
    for (std::int64_t sent = 0; sent < plan.total;) {
        check_cancel(cancel);
        FramePtr f = audio.read(
            static_cast<int>(std::min<std::int64_t>(enc->frame_size, plan.total - sent)));
        f->pts = sent;
        sent += f->nb_samples;
        encode(f.get());
    }
    encode(nullptr);
    av_check(avcodec_send_packet(dec.get(), nullptr), ErrorClass::EncodeError,
             "cannot flush the AAC decoder");
    drain_decoder();
    return meter.result();
}

LoudnessMeasure measure_file_loudness(const std::filesystem::path& path) {
    const std::string what = fmt::format("'{}'", path.filename().string());
    InputFormatPtr fmt = open_input(path, ErrorClass::PreflightError, InputPolicy::Probe);
    av_check(avformat_find_stream_info(fmt.get(), nullptr), ErrorClass::PreflightError,
             fmt::format("cannot read the streams of {}", what));
    const int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (index < 0)
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} has no audio stream to measure", what));
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        if (static_cast<int>(i) != index) fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    CodecContextPtr dec =
        open_decoder(fmt.get(), index, ErrorClass::PreflightError, InputPolicy::Probe, 0);
    DecodingLoop loop(
        fmt.get(), index, dec.get(),
        DecodingLoop::Options{
            .error_class = ErrorClass::DecodeError, .what = what, .skip_bad_packets = true});
    FramePtr decoded = make_frame();
    FramePtr converted = make_frame();
    SwrContextPtr swr;
    std::unique_ptr<LoudnessMeter> meter;
    AVChannelLayout layout{};
    int rate = 0;
    while (loop.next(decoded.get())) {
        // Each channel weighs as its speaker (a 7.1's sides are surrounds, a 2.1's third channel
        // its LFE), by position where the file does not say.
        std::vector<double> weights;
        if (decoded->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
            const int n = decoded->ch_layout.nb_channels;
            weights = GatedLoudness::positional_weights(n);
            av_channel_layout_uninit(&decoded->ch_layout);
            av_channel_layout_default(&decoded->ch_layout, n);
        }
        // Measured at the first frame's rate (a later change is resampled to it) and at each
        // part's own channels: a joined file's mono part is one channel, its stereo part two.
        // Folding one into the other's layout would add or take 3 dB of true peak.
        if (!meter || av_channel_layout_compare(&layout, &decoded->ch_layout) != 0) {
            if (weights.empty()) weights = speaker_weights(decoded->ch_layout);
            av_channel_layout_copy(&layout, &decoded->ch_layout);
            if (meter) {
                meter->set_channels(weights);
            } else {
                rate = decoded->sample_rate;
                if (rate < GatedLoudness::kMinSampleRate) {
                    throw Error(ErrorClass::PreflightError,
                                fmt::format("{} has a sample rate of {} Hz: the loudness measure "
                                            "takes {} Hz or more",
                                            what, rate, GatedLoudness::kMinSampleRate));
                }
                meter = std::make_unique<LoudnessMeter>(weights, rate);
                swr.reset(swr_alloc());
            }
        }
        const auto convert = [&] {
            av_frame_unref(converted.get());
            converted->format = AV_SAMPLE_FMT_FLTP;
            converted->sample_rate = rate;
            av_channel_layout_copy(&converted->ch_layout, &layout);
            return swr_convert_frame(swr.get(), converted.get(), decoded.get());
        };
        int rc = convert();
        if (rc == AVERROR_INPUT_CHANGED || rc == AVERROR_OUTPUT_CHANGED ||
            rc == (AVERROR_INPUT_CHANGED | AVERROR_OUTPUT_CHANGED)) {
            swr_close(swr.get());
            rc = convert();
        }
        av_check(rc, ErrorClass::DecodeError, fmt::format("cannot convert the audio of {}", what));
        meter->add_planar(*converted);
        check_finite(*meter, what);
    }
    av_channel_layout_uninit(&layout);
    if (!meter)
        throw Error(ErrorClass::PreflightError, fmt::format("{} holds no decodable audio", what));
    return meter->result();
}

}  // namespace renderer::media

#include "media/audio_finish.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

#include "media/av_error.h"

namespace renderer::media {

std::optional<AudioFit> parse_audio_fit(std::string_view text) {
    if (text == "shortest") return AudioFit::Shortest;
    if (text == "loop") return AudioFit::Loop;
    if (text == "pad") return AudioFit::Pad;
    return std::nullopt;
}

std::string_view to_string(AudioFit fit) {
    switch (fit) {
        case AudioFit::Loop:
            return "loop";
        case AudioFit::Pad:
            return "pad";
        case AudioFit::Shortest:
            break;
    }
    return "shortest";
}

AudioPlan plan_audio(const AudioFinishSettings& s, std::int64_t total, std::int64_t track_samples,
                     int rate) {
    const auto fade = [&](int ms) {
        return std::min<std::int64_t>(std::int64_t{ms} * rate / 1000, total / 2);
    };
    // Where the track ends by itself at the output's end, a fade would only dim its own ending.
    const bool ends_inside_music = s.fit == AudioFit::Loop
                                       ? track_samples <= 0 || total % track_samples != 0
                                       : track_samples > total;
    return AudioPlan{.fit = s.fit,
                     .total = total,
                     .fade_in = fade(s.fade_in_ms),
                     .fade_out = ends_inside_music ? fade(s.fade_out_ms) : 0};
}

float fade_in_gain(std::int64_t i, std::int64_t length) {
    return static_cast<float>(
        std::sin(std::numbers::pi / 2 * static_cast<double>(i) / static_cast<double>(length)));
}

void apply_plan(const AudioPlan& plan, AVFrame& frame, std::int64_t position) {
    const std::int64_t fade_out_from = plan.total - plan.fade_out;
    const bool touches_fade =
        position < plan.fade_in || position + frame.nb_samples > fade_out_from;
    if (!touches_fade && plan.gain == 1.0f) return;
    for (int i = 0; i < frame.nb_samples; ++i) {
        const std::int64_t p = position + i;
        float g = plan.gain;
        if (p < plan.fade_in) g *= fade_in_gain(p, plan.fade_in);
        if (p >= fade_out_from) g *= fade_in_gain(plan.total - 1 - p, plan.fade_out);
        for (int c = 0; c < 2; ++c) reinterpret_cast<float*>(frame.extended_data[c])[i] *= g;
    }
}

FinishedAudio::FinishedAudio(const std::filesystem::path& path, LibavLogCapture& log,
                             const AudioPlan& plan, std::int64_t memory_loop_samples)
    : path_(path),
      log_(log),
      plan_(plan),
      source_(std::make_unique<AudioSource>(path, log)),
      memory_limit_(plan.fit == AudioFit::Loop ? memory_loop_samples : -1) {}

int FinishedAudio::read_track(AVFrame& out, int offset, int wanted) {
    if (first_pass_whole_) {
        const auto n = static_cast<int>(
            std::min<std::size_t>(wanted, first_pass_[0].size() - memory_position_));
        for (int c = 0; c < 2; ++c) {
            std::copy_n(first_pass_[c].begin() + static_cast<std::ptrdiff_t>(memory_position_), n,
                        reinterpret_cast<float*>(out.extended_data[c]) + offset);
        }
        memory_position_ += static_cast<std::size_t>(n);
        return n;
    }
    const FramePtr got = source_->read(wanted);
    if (!got) return 0;
    for (int c = 0; c < 2; ++c) {
        const auto* from = reinterpret_cast<const float*>(got->extended_data[c]);
        std::copy_n(from, got->nb_samples, reinterpret_cast<float*>(out.extended_data[c]) + offset);
        if (repeats_ == 0 && memory_limit_ >= 0)
            first_pass_[c].insert(first_pass_[c].end(), from, from + got->nb_samples);
    }
    if (repeats_ == 0 && memory_limit_ >= 0 &&
        static_cast<std::int64_t>(first_pass_[0].size()) > memory_limit_) {
        memory_limit_ = -1;  // too long to keep: each repeat decodes the file again
        for (auto& ch : first_pass_) std::vector<float>().swap(ch);
    }
    return got->nb_samples;
}

FramePtr FinishedAudio::read(int samples) {
    samples = static_cast<int>(std::min<std::int64_t>(samples, plan_.total - position_));
    FramePtr f = make_frame();
    if (!f) av_fail(ErrorClass::EncodeError, "cannot allocate audio samples");
    f->format = AV_SAMPLE_FMT_FLTP;
    f->sample_rate = sample_rate();
    av_channel_layout_default(&f->ch_layout, 2);
    f->nb_samples = samples;
    av_check(av_frame_get_buffer(f.get(), 0), ErrorClass::EncodeError,
             "cannot allocate audio samples");
    av_samples_set_silence(f->extended_data, 0, samples, 2, AV_SAMPLE_FMT_FLTP);

    int filled = 0;
    while (filled < samples && !silent_rest_) {
        const int got = read_track(*f, filled, samples - filled);
        filled += got;
        pass_samples_ += got;
        if (filled == samples) break;
        // The track ended inside this frame.
        if (!track_ended_at_) track_ended_at_ = position_ + filled;
        if (plan_.fit != AudioFit::Loop) {
            silent_rest_ = true;  // Shortest: a short decode; Pad: the silence after the track
            break;
        }
        if (repeats_ == 0 && memory_limit_ >= 0) first_pass_whole_ = true;
        if (pass_samples_ == 0) {
            av_fail(ErrorClass::DecodeError,
                    fmt::format("music '{}' decoded to no samples when looped; replace the file",
                                path_.filename().string()));
        }
        ++repeats_;
        pass_samples_ = 0;
        // Sample-exact and gapless: the next repeat starts at the decoder's first output sample
        // (the MP3's encoder delay already trimmed by the demuxer), right after the last one.
        if (first_pass_whole_) {
            memory_position_ = 0;
        } else {
            source_ = std::make_unique<AudioSource>(path_, log_);
        }
    }
    apply_plan(plan_, *f, position_);
    f->pts = position_;
    position_ += samples;
    return f;
}

}  // namespace renderer::media

// Audio finishing, measured and drawn (docs/PERFORMANCE.md, README "Audio").
//   audio_bench loudness TRACK.mp3 [REPEAT]   CPU seconds to decode the track, and to decode and
//                                             measure it (integrated loudness + true peak) on one
//                                             core
//   audio_bench finish TRACK.mp3 SECONDS [REPEAT]
//                                             CPU seconds for SECONDS of audio: the track as it was
//                                             encoded before finishing (AudioSource), finished with
//                                             the default fade-out, and one loudness measuring pass
//   audio_bench meter SIGNAL SECONDS [REPEAT]
//                                             CPU seconds of the meter alone over SECONDS of a
//                                             44.1 kHz stereo signal made in memory, the cases
//                                             its skip cannot help: `noise` (white, 0.9 of full
//                                             scale), `tiny` (the same at 1e-38, where float
//                                             arithmetic goes subnormal)
//   audio_bench waveform FROM_SEC TO_SEC A.mp4 B.mp4 > out.svg
//                                             the left channel of each file over [FROM, TO) as an
//                                             SVG envelope (min/max per pixel column), A above B
#include <ctime>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
}

#include "media/audio_finish.h"
#include "media/audio_source.h"
#include "media/av_error.h"
#include "media/decoding_loop.h"
#include "media/libav_input.h"
#include "media/libav_log.h"
#include "media/loudness.h"

using namespace renderer;
using namespace renderer::media;

namespace {

double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Decodes the track as a render does (AudioSource: stereo float planar), feeding the meter when
// there is one; returns the samples decoded.
std::int64_t decode_track(const char* path, LoudnessMeter* meter) {
    LibavLogCapture capture(std::nullopt);
    AudioSource source(path, capture);
    std::int64_t samples = 0;
    while (auto f = source.read(1 << 14)) {
        if (meter != nullptr) meter->add_planar(*f);
        samples += f->nb_samples;
    }
    return samples;
}

int loudness(const char* path, int repeat) {
    int rate = 0;
    {
        LibavLogCapture capture(std::nullopt);
        rate = AudioSource(path, capture).sample_rate();
    }
    double decode = 1e9, measured = 1e9;
    std::int64_t samples = 0;
    LoudnessMeasure m;
    for (int i = 0; i < repeat; ++i) {
        double t0 = cpu_seconds();
        samples = decode_track(path, nullptr);
        decode = std::min(decode, cpu_seconds() - t0);
        t0 = cpu_seconds();
        LoudnessMeter meter(2, rate);
        decode_track(path, &meter);
        m = meter.result();
        measured = std::min(measured, cpu_seconds() - t0);
    }
    std::printf(
        "track %.1f s at %d Hz: decode %.3f s CPU, decode + measure %.3f s CPU (meter %.3f s); "
        "%.2f LUFS, %.2f dBTP\n",
        static_cast<double>(samples) / rate, rate, decode, measured, measured - decode,
        m.integrated_lufs, m.true_peak_dbtp);
    return 0;
}

int meter(const std::string& signal, double seconds, int repeat) {
    constexpr int kRate = 44100;
    const double level = signal == "noise" ? 0.9 : signal == "tiny" ? 1e-38 : 0;
    if (level == 0) throw Error(ErrorClass::UsageError, "signal: noise or tiny");
    const auto n = static_cast<std::size_t>(seconds * kRate);
    std::vector<std::vector<float>> planes(2, std::vector<float>(n));
    std::mt19937 gen(1);
    std::uniform_real_distribution<double> uniform(-level, level);
    for (auto& plane : planes)
        for (float& v : plane) v = static_cast<float>(uniform(gen));
    double best = 1e9;
    LoudnessMeasure m;
    for (int i = 0; i < repeat; ++i) {
        const double t0 = cpu_seconds();
        LoudnessMeter meter(2, kRate);
        for (std::size_t at = 0; at < n; at += 1024) {
            const float* p[2] = {planes[0].data() + at, planes[1].data() + at};
            meter.add_planar(p, std::min<std::size_t>(1024, n - at));
        }
        m = meter.result();
        best = std::min(best, cpu_seconds() - t0);
    }
    std::printf("%s, %.1f s at %d Hz stereo: meter %.3f s CPU; %.2f LUFS, %.2f dBTP\n",
                signal.c_str(), seconds, kRate, best, m.integrated_lufs, m.true_peak_dbtp);
    return 0;
}

int finish(const char* path, double seconds, int repeat) {
    LibavLogCapture capture(std::nullopt);
    const int rate = AudioSource(path, capture).sample_rate();
    const auto total = static_cast<std::int64_t>(seconds * rate);
    const AudioPlan plan =
        plan_audio(AudioFinishSettings{}, total, total * 4, rate);  // cut inside: fade-out
    double plain = 1e9, finished = 1e9, measure = 1e9;
    for (int i = 0; i < repeat; ++i) {
        double t0 = cpu_seconds();
        AudioSource source(path, capture);
        for (std::int64_t n = 0; n < total;) {
            const FramePtr f =
                source.read(static_cast<int>(std::min<std::int64_t>(1024, total - n)));
            if (!f) break;
            n += f->nb_samples;
        }
        plain = std::min(plain, cpu_seconds() - t0);
        t0 = cpu_seconds();
        FinishedAudio audio(path, capture, plan);
        for (std::int64_t n = 0; n < total;)
            n += audio.read(static_cast<int>(std::min<std::int64_t>(1024, total - n)))->nb_samples;
        finished = std::min(finished, cpu_seconds() - t0);
        t0 = cpu_seconds();
        measure_delivered(path, capture, plan, 192000);
        measure = std::min(measure, cpu_seconds() - t0);
    }
    std::printf(
        "%.1f s of audio at %d Hz: source %.3f s CPU, finished (fit + 1 s fade-out) %.3f s CPU "
        "(+%.3f s), one loudness pass (finish + AAC encode + decode + meter) %.3f s CPU\n",
        seconds, rate, plain, finished, finished - plain, measure);
    return 0;
}

// The left channel of any file's best audio stream, and its rate.
std::vector<float> left_channel(const char* path, int& rate) {
    InputFormatPtr input = open_input(path, ErrorClass::PreflightError, InputPolicy::Probe);
    av_check(avformat_find_stream_info(input.get(), nullptr), ErrorClass::PreflightError,
             "cannot read streams");
    const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (index < 0) throw Error(ErrorClass::PreflightError, fmt::format("{} has no audio", path));
    CodecContextPtr dec =
        open_decoder(input.get(), index, ErrorClass::PreflightError, InputPolicy::Probe);
    DecodingLoop loop(input.get(), index, dec.get(), DecodingLoop::Options{.what = path});
    FramePtr frame = make_frame();
    std::vector<float> left;
    while (loop.next(frame.get())) {
        if (frame->format != AV_SAMPLE_FMT_FLTP)
            throw Error(ErrorClass::DecodeError, "expected float planar audio");
        const auto* l = reinterpret_cast<const float*>(frame->extended_data[0]);
        left.insert(left.end(), l, l + frame->nb_samples);
        rate = frame->sample_rate;
    }
    return left;
}

int waveform(double from, double to, const std::vector<const char*>& files) {
    constexpr int kWidth = 640, kLane = 120, kPad = 24;
    const int height = static_cast<int>(files.size()) * (kLane + kPad) + kPad;
    std::printf(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
        "%d\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
        "fill=\"white\"/>\n",
        kWidth, height, kWidth, height);
    // One vertical scale for every lane (the loudest file's peak fills 90 % of its lane), so the
    // lanes compare.
    std::vector<std::vector<float>> lefts;
    std::vector<int> rates;
    float peak = 1e-6f;
    for (const char* file : files) {
        int rate = 0;
        lefts.push_back(left_channel(file, rate));
        rates.push_back(rate);
        for (const float v : lefts.back()) peak = std::max(peak, std::abs(v));
    }
    const double scale = 0.9 / peak;
    for (std::size_t k = 0; k < files.size(); ++k) {
        const int rate = rates[k];
        const std::vector<float>& left = lefts[k];
        const int top = kPad + static_cast<int>(k) * (kLane + kPad);
        const double mid = top + kLane / 2.0;
        std::string upper, lower;
        for (int x = 0; x < kWidth; ++x) {
            const auto a = static_cast<std::size_t>((from + (to - from) * x / kWidth) * rate);
            const auto b = static_cast<std::size_t>((from + (to - from) * (x + 1) / kWidth) * rate);
            float lo = 0, hi = 0;
            for (std::size_t i = a; i < std::min(b, left.size()); ++i) {
                lo = std::min(lo, left[i]);
                hi = std::max(hi, left[i]);
            }
            upper += fmt::format("{},{:.1f} ", x, mid - hi * scale * kLane / 2);
            lower = fmt::format("{},{:.1f} ", x, mid - lo * scale * kLane / 2) + lower;
        }
        std::printf("<text x=\"4\" y=\"%d\">%s</text>\n", top - 6,
                    fmt::format("{}: {:.2f}-{:.2f} s",
                                std::string(files[k]).substr(std::string(files[k]).rfind('/') + 1),
                                from, to)
                        .c_str());
        std::printf("<line x1=\"0\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", kWidth,
                    mid, mid);
        std::printf("<polygon points=\"%s%s\" fill=\"#3465a4\"/>\n", upper.c_str(), lower.c_str());
    }
    std::printf("</svg>\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string cmd = argc > 1 ? argv[1] : "";
        if (cmd == "loudness" && argc >= 3)
            return loudness(argv[2], argc > 3 ? std::atoi(argv[3]) : 3);
        if (cmd == "finish" && argc >= 4)
            return finish(argv[2], std::atof(argv[3]), argc > 4 ? std::atoi(argv[4]) : 3);
        if (cmd == "meter" && argc >= 4)
            return meter(argv[2], std::atof(argv[3]), argc > 4 ? std::atoi(argv[4]) : 3);
        if (cmd == "waveform" && argc >= 5) {
            return waveform(std::atof(argv[2]), std::atof(argv[3]),
                            std::vector<const char*>(argv + 4, argv + argc));
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "audio_bench: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr,
                 "usage: audio_bench loudness TRACK.mp3 [REPEAT] | finish TRACK.mp3 SECONDS "
                 "[REPEAT] | meter noise|tiny SECONDS [REPEAT] | waveform FROM TO FILE...\n");
    return 64;
}

#include "support/lavfi_loudness.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

extern "C" {
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
}

#include "media/av_ptr.h"
#include "support/mp3_fixture.h"

namespace renderer::testing {

LavfiLoudness lavfi_loudness(const std::filesystem::path& path) {
    const DecodedPcm pcm = decode_pcm(path);
    if (pcm.channels.size() != 2) throw std::runtime_error("lavfi_loudness measures stereo only");
    media::FilterGraphPtr graph(avfilter_graph_alloc());
    AVFilterContext* src = nullptr;
    AVFilterContext* meter = nullptr;
    AVFilterContext* sink = nullptr;
    const std::string args = fmt::format(
        "time_base=1/{0}:sample_rate={0}:sample_fmt=fltp:channel_layout=stereo", pcm.sample_rate);
    if (avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"), "in", args.c_str(),
                                     nullptr, graph.get()) < 0 ||
        avfilter_graph_create_filter(&meter, avfilter_get_by_name("ebur128"), "meter",
                                     "peak=true:metadata=1", nullptr, graph.get()) < 0 ||
        avfilter_graph_create_filter(&sink, avfilter_get_by_name("abuffersink"), "out", nullptr,
                                     nullptr, graph.get()) < 0 ||
        avfilter_link(src, 0, meter, 0) < 0 || avfilter_link(meter, 0, sink, 0) < 0 ||
        avfilter_graph_config(graph.get(), nullptr) < 0) {
        throw std::runtime_error("cannot set up the ebur128 filter graph");
    }
    LavfiLoudness result{.integrated_lufs = -HUGE_VAL, .true_peak_dbtp = -HUGE_VAL};
    media::FramePtr out = media::make_frame();
    const auto drain = [&] {
        while (av_buffersink_get_frame(sink, out.get()) >= 0) {
            // Every frame carries the measure so far; the last one's is the whole file's.
            if (const auto* e = av_dict_get(out->metadata, "lavfi.r128.I", nullptr, 0)) {
                result.integrated_lufs = std::strtod(e->value, nullptr);
            }
            if (const auto* e = av_dict_get(out->metadata, "lavfi.r128.true_peak", nullptr, 0)) {
                const double linear = std::strtod(e->value, nullptr);
                result.true_peak_dbtp = linear > 0 ? 20 * std::log10(linear) : -HUGE_VAL;
            }
            av_frame_unref(out.get());
        }
    };
    const std::size_t total = pcm.samples();
    for (std::size_t at = 0; at < total; at += 1024) {
        const int n = static_cast<int>(std::min<std::size_t>(1024, total - at));
        media::FramePtr f = media::make_frame();
        f->format = AV_SAMPLE_FMT_FLTP;
        f->sample_rate = pcm.sample_rate;
        av_channel_layout_default(&f->ch_layout, 2);
        f->nb_samples = n;
        f->pts = static_cast<std::int64_t>(at);
        if (av_frame_get_buffer(f.get(), 0) < 0)
            throw std::runtime_error("cannot allocate a frame");
        for (int c = 0; c < 2; ++c) {
            std::copy_n(
                pcm.channels[static_cast<std::size_t>(c)].begin() + static_cast<std::ptrdiff_t>(at),
                n, reinterpret_cast<float*>(f->extended_data[c]));
        }
        if (av_buffersrc_add_frame(src, f.get()) < 0)
            throw std::runtime_error("ebur128 refused a frame");
        drain();
    }
    if (av_buffersrc_add_frame(src, nullptr) < 0)
        throw std::runtime_error("ebur128 refused the end");
    drain();
    return result;
}

}  // namespace renderer::testing

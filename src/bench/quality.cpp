#include "bench/quality.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
}

#include "bench/video_decoder.h"
#include "media/av_error.h"
#include "media/av_ptr.h"
#include "media/frame_pipeline.h"
#include "media/libav_log.h"

namespace renderer::bench {
namespace {

constexpr ErrorClass kFail = ErrorClass::DecodeError;

// psnr and ssim in one graph. Both filters pass their first input through with their per-frame
// results added to its metadata, so chaining them yields one frame carrying both:
//
//   encoded ───────────────► psnr ──► ssim ──► sink
//   source  ──► split ──────────┘       │
//                    └──────────────────┘
class QualityGraph {
  public:
    QualityGraph(int width, int height, AVPixelFormat encoded_format)
        : graph_(avfilter_graph_alloc()) {
        if (!graph_) media::av_fail(kFail, "cannot allocate a filter graph");
        // One tick per frame: both inputs carry pts = frame index, which is all framesync needs.
        const auto args = [&](AVPixelFormat f) {
            return fmt::format("video_size={}x{}:pix_fmt={}:time_base=1/1:pixel_aspect=1/1", width,
                               height, static_cast<int>(f));
        };
        encoded_ = add("buffer", "encoded", args(encoded_format));
        source_ = add("buffer", "source", args(AV_PIX_FMT_YUV420P));
        AVFilterContext* split = add("split", "split", "2");
        AVFilterContext* psnr = add("psnr", "psnr", "");
        AVFilterContext* ssim = add("ssim", "ssim", "");
        sink_ = add("buffersink", "sink", "");
        link(encoded_, 0, psnr, 0);
        link(source_, 0, split, 0);
        link(split, 0, psnr, 1);
        link(psnr, 0, ssim, 0);
        link(split, 1, ssim, 1);
        link(ssim, 0, sink_, 0);
        media::av_check(avfilter_graph_config(graph_.get(), nullptr), kFail,
                        "cannot configure the psnr/ssim graph");
    }

    // Takes the frames' references (they are left empty).
    void push(AVFrame* encoded, AVFrame* source) {
        media::av_check(av_buffersrc_add_frame_flags(encoded_, encoded, 0), kFail,
                        "psnr/ssim graph rejected a frame");
        media::av_check(av_buffersrc_add_frame_flags(source_, source, 0), kFail,
                        "psnr/ssim graph rejected a frame");
        pull();
    }

    void finish() {
        media::av_check(av_buffersrc_add_frame_flags(encoded_, nullptr, 0), kFail,
                        "cannot close the psnr/ssim graph");
        media::av_check(av_buffersrc_add_frame_flags(source_, nullptr, 0), kFail,
                        "cannot close the psnr/ssim graph");
        pull();
    }

    QualityScore score() const {
        QualityScore q;
        q.frames = frames_;
        if (frames_ == 0) return q;
        const double n = static_cast<double>(frames_);
        q.psnr_y = psnr(sum_mse_y_ / n);
        q.psnr_avg = psnr(sum_mse_avg_ / n);
        q.ssim = sum_ssim_ / n;
        return q;
    }

  private:
    AVFilterContext* add(const char* filter, const char* name, const std::string& args) {
        const AVFilter* f = avfilter_get_by_name(filter);
        if (f == nullptr) {
            media::av_fail(kFail, fmt::format("this libavfilter has no '{}' filter", filter));
        }
        AVFilterContext* ctx = nullptr;
        media::av_check(
            avfilter_graph_create_filter(&ctx, f, name, args.empty() ? nullptr : args.c_str(),
                                         nullptr, graph_.get()),
            kFail, fmt::format("cannot create the '{}' filter", filter));
        return ctx;
    }

    static void link(AVFilterContext* from, unsigned out, AVFilterContext* to, unsigned in) {
        media::av_check(avfilter_link(from, out, to, in), kFail, "cannot link the psnr/ssim graph");
    }

    // Same formula as the psnr filter's summary: 8-bit peak over the mean MSE.
    static double psnr(double mse) {
        if (mse <= 0) return std::numeric_limits<double>::infinity();
        return 10.0 * std::log10(255.0 * 255.0 / mse);
    }

    static double meta(const AVFrame* f, const char* key) {
        const AVDictionaryEntry* e = av_dict_get(f->metadata, key, nullptr, 0);
        if (e == nullptr)
            media::av_fail(kFail, fmt::format("the psnr/ssim graph did not report {}", key));
        return std::strtod(e->value, nullptr);
    }

    void pull() {
        media::FramePtr out = media::make_frame();
        for (;;) {
            const int rc = av_buffersink_get_frame(sink_, out.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
            media::av_check(rc, kFail, "cannot read the psnr/ssim results");
            sum_mse_y_ += meta(out.get(), "lavfi.psnr.mse.y");
            sum_mse_avg_ += meta(out.get(), "lavfi.psnr.mse_avg");
            sum_ssim_ += meta(out.get(), "lavfi.ssim.All");
            ++frames_;
            av_frame_unref(out.get());
        }
    }

    media::FilterGraphPtr graph_;
    AVFilterContext* encoded_ = nullptr;  // owned by graph_
    AVFilterContext* source_ = nullptr;
    AVFilterContext* sink_ = nullptr;
    double sum_mse_y_ = 0, sum_mse_avg_ = 0, sum_ssim_ = 0;
    std::int64_t frames_ = 0;
};

}  // namespace

QualityScore measure_quality(const std::filesystem::path& encoded,
                             const std::vector<std::filesystem::path>& source_frames,
                             media::FrameTiming timing, int fps, int decode_threads,
                             std::uint64_t max_frame_pixels, const media::CancelToken& cancel) {
    media::LibavLogCapture capture;  // libav's complaints become the error's stderr snippet
    VideoDecoder decoder(encoded);
    const media::Canvas canvas{decoder.width(), decoder.height()};
    QualityGraph graph(canvas.width, canvas.height, decoder.pix_fmt());
    // The render's own pipeline, so the reference is bit-identical to what the encoder was fed.
    media::FramePipeline pipeline(source_frames, canvas, decode_threads, max_frame_pixels, cancel,
                                  &capture);

    const auto total = static_cast<std::int64_t>(source_frames.size());
    const AVRational tb = decoder.time_base();
    // Whether `f` shows from frame `i`'s time on or earlier: pts * tb <= i / fps, in integers.
    const auto starts_by = [&](const AVFrame* f, std::int64_t i) {
        return f->best_effort_timestamp * tb.num * fps <= i * tb.den;
    };
    media::FramePtr shown = decoder.next();  // the frame on screen at frame i's time
    media::FramePtr upcoming = shown ? decoder.next() : nullptr;
    std::int64_t decoded = shown ? 1 : 0, i = 0;
    for (; i < total && shown; ++i) {
        if (const auto reason = cancel.reason()) {
            throw Error(*reason, "quality measurement cancelled");
        }
        while (upcoming && starts_by(upcoming.get(), i)) {
            shown = std::move(upcoming);
            upcoming = decoder.next();
            ++decoded;
        }
        media::FramePtr frame(av_frame_clone(shown.get()));
        media::FramePtr source(av_frame_clone(pipeline.next().get()));
        if (!frame || !source) media::av_fail(kFail, "cannot reference a frame to compare");
        frame->pts = i;
        source->pts = i;
        graph.push(frame.get(), source.get());
    }
    // A cfr file holds one frame per source frame; in vfr the last frame may hold to the end.
    const bool short_cfr = timing == media::FrameTiming::Cfr && decoded != total;
    if (upcoming || i != total || short_cfr) {
        throw Error(
            kFail,
            fmt::format("'{}' holds {} video frames, {}; cannot compare them with "
                        "the {} rendered",
                        encoded.string(), upcoming ? "more" : std::to_string(decoded),
                        upcoming ? "some after the last rendered frame's time" : "too few for them",
                        total));
    }
    graph.finish();
    QualityScore q = graph.score();
    if (q.frames != total) {
        throw Error(kFail,
                    fmt::format("the psnr/ssim graph scored {} of {} frames", q.frames, total));
    }
    return q;
}

}  // namespace renderer::bench

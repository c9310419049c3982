#include "media/slideshow.h"

#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "media/audio_source.h"
#include "media/av_error.h"
#include "media/encoders.h"
#include "media/ffmpeg_cmd.h"
#include "media/frame_pipeline.h"
#include "media/libav_log.h"
#include "media/mp4_writer.h"
#include "media/preflight.h"
#include "media/png_decoder.h"
#include "media/probe.h"
#include "media/render_key.h"

namespace renderer::media {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void throw_cancelled(ErrorClass reason) {
    switch (reason) {
        case ErrorClass::Timeout: throw Error(reason, "render exceeded the job timeout and was cancelled");
        case ErrorClass::LeaseLost: throw Error(reason, "the job's lease was lost; render abandoned, nothing published");
        default: throw Error(reason, "render cancelled");
    }
}

// x264 keeps every core busy at the presets that matter, so the decoders get half the cores:
// on 2 cores one decode thread keeps ahead of the encoder and a second only adds contention
// (measured: more CPU, more memory; docs/PERFORMANCE.md).
int decode_threads(const RenderSettings& s) {
    if (s.decode_threads > 0) return s.decode_threads;
    const unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw / 2, 1u, 4u));
}

// The cut, exactly: T = min(frames / fps, audio duration) (the spec's -shortest). Video keeps
// the frames with pts < T * fps; audio keeps round(T * rate) samples.
struct Cut {
    double seconds = 0;
    std::int64_t video_frames = 0;
};

Cut compute_cut(std::size_t frame_count, int fps, double audio_sec) {
    const double video_sec = static_cast<double>(frame_count) / fps;
    Cut c;
    if (video_sec <= audio_sec) {
        c.seconds = video_sec;
        c.video_frames = static_cast<std::int64_t>(frame_count);
    } else {
        c.seconds = audio_sec;
        c.video_frames = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(audio_sec * fps - 1e-6)));
    }
    return c;
}

RenderResult result_from_file(const PreflightReport& pf, std::int64_t frames) {
    const MediaInfo info = probe_file(pf.output_path);
    RenderResult r;
    r.path = pf.output_path;
    r.bytes = info.size_bytes;
    r.duration_ms = std::llround(info.duration_sec * 1000.0);
    r.audio_track = pf.audio_track;
    r.frames = frames;
    r.width = pf.canvas.width;
    r.height = pf.canvas.height;
    return r;
}

// The existing artifact's result when its stored key equals this render's; hashing the frames
// costs one read of each file, far less than encoding them.
std::optional<RenderResult> cached_result(const PreflightReport& pf, const Cut& cut,
                                          const std::vector<std::filesystem::path>& frames, std::uint64_t music_hash,
                                          const RenderSettings& s, const log::Context& log) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(pf.output_path, ec)) return std::nullopt;
    const auto stored = read_render_key(pf.output_path);
    if (!stored) return std::nullopt;
    std::vector<std::uint64_t> hashes;
    hashes.reserve(frames.size());
    for (const auto& f : frames) hashes.push_back(content_hash(read_file_bytes(f)));
    if (*stored != render_key(s, pf, cut.video_frames, hashes, music_hash)) return std::nullopt;
    RenderResult r = result_from_file(pf, cut.video_frames);
    r.cache_hit = true;
    log.info("cache_hit", {{"path", r.path.string()}, {"render_key", *stored}, {"bytes", r.bytes}});
    return r;
}

}  // namespace

RenderResult render_slideshow(const RenderRequest& req, const log::Context& log, const CancelToken& cancel,
                              const ProgressFn& on_progress, const std::function<bool()>& publish_gate) {
    const auto t0 = Clock::now();
    LibavLogCapture capture(req.libav_report_path);
    if (req.libav_report_path) log.debug("ffreport", {{"ffreport", req.libav_report_path->string()}});

    const PreflightReport pf = preflight(req);
    const auto& s = req.settings;
    log.info("preflight", {{"frames_dir", req.frames_dir.string()},
                           {"frame_count", pf.frames.size()},
                           {"music_dir", req.music_dir.string()},
                           {"chosen_track", pf.audio_track},
                           {"audio_duration_sec", pf.audio.duration_sec},
                           {"audio_sample_rate", pf.audio.sample_rate},
                           {"audio_channels", pf.audio.channels},
                           {"width", pf.canvas.width},
                           {"height", pf.canvas.height},
                           {"mixed_sizes", pf.mixed_sizes},
                           {"free_bytes", pf.free_bytes}});
    if (log::enabled(log::Level::debug)) log.debug("ffmpeg_cmd", {{"argv", ffmpeg_argv(req, pf)}});

    const Cut cut = compute_cut(pf.frames.size(), s.fps, pf.audio.duration_sec);
    std::vector<std::filesystem::path> frames(pf.frames.begin(), pf.frames.begin() + cut.video_frames);

    // Render cache: the artifact already at the final path was made from these exact inputs.
    const std::uint64_t music_hash = content_hash(read_file_bytes(pf.music_path));
    if (s.use_cache) {
        if (auto hit = cached_result(pf, cut, frames, music_hash, s, log)) {
            hit->wall_sec = seconds_since(t0);
            return *hit;
        }
    }

    AtomicFile out(pf.output_path);
    RenderResult result;
    {
        Mp4Writer mux(out.temp_path(), capture);
        CodecContextPtr venc = open_h264_encoder(s, pf.canvas, mux.needs_global_header());
        capture.attach(venc.get());
        AudioSource audio(pf.music_path, capture);
        CodecContextPtr aenc = open_aac_encoder(audio.sample_rate(), s.audio_bitrate, mux.needs_global_header());
        capture.attach(aenc.get());
        AVStream* vst = mux.add_stream(venc.get());
        AVStream* ast = mux.add_stream(aenc.get());
        mux.write_header();

        const std::int64_t rate = audio.sample_rate();
        const std::int64_t audio_target = std::llround(cut.seconds * static_cast<double>(rate));
        std::int64_t audio_sent = 0;
        bool audio_done = false;
        // Audio is encoded alongside the video, one video frame's worth at a time, so the muxer's
        // interleaving queue stays short.
        const auto pump_audio = [&](std::int64_t until_samples) {
            until_samples = std::min(until_samples, audio_target);
            while (!audio_done && audio_sent < until_samples) {
                const int want = static_cast<int>(std::min<std::int64_t>(aenc->frame_size, audio_target - audio_sent));
                FramePtr f = audio.read(want);
                if (!f) {
                    audio_done = true;
                    break;
                }
                f->pts = audio_sent;
                audio_sent += f->nb_samples;
                encode_and_write(aenc.get(), f.get(), ast, mux);
            }
        };

        FramePipeline pipeline(std::move(frames), pf.canvas, decode_threads(s), s.max_frame_pixels, cancel, &capture);
        auto last_progress = Clock::now();
        for (std::int64_t i = 0; i < cut.video_frames; ++i) {
            if (const auto reason = cancel.reason()) throw_cancelled(*reason);
            const SharedFrame picture = pipeline.next();
            // A new reference to the shared picture: held slides cost no copy.
            FramePtr frame(av_frame_clone(picture.get()));
            if (!frame) av_fail(ErrorClass::EncodeError, "cannot reference a video frame");
            frame->pts = i;
            encode_and_write(venc.get(), frame.get(), vst, mux);
            pump_audio((i + 1) * rate / s.fps);
            if (on_progress && Clock::now() - last_progress >= std::chrono::milliseconds(500)) {
                last_progress = Clock::now();
                const double el = seconds_since(t0);
                on_progress(Progress{i + 1, cut.video_frames, el, el > 0 ? (i + 1) / el : 0});
            }
        }
        pump_audio(audio_target);
        try {
            encode_and_write(venc.get(), nullptr, vst, mux, &cancel);
            encode_and_write(aenc.get(), nullptr, ast, mux, &cancel);
        } catch (const Error&) {
            if (const auto reason = cancel.reason()) throw_cancelled(*reason);
            throw;
        }
        // The moov atom (metadata included) is written by the trailer, so the key can be set now.
        mux.set_metadata(kRenderKeyTag, render_key(s, pf, cut.video_frames, pipeline.frame_hashes(), music_hash));
        mux.finish();
        capture.detach(venc.get());
        capture.detach(aenc.get());

        const auto stats = pipeline.stats();
        result.frames = cut.video_frames;
        log.debug("encode_stats", {{"frames_decoded", stats.decoded},
                                   {"frames_reused", stats.reused},
                                   {"audio_samples", audio_sent},
                                   {"audio_sample_rate", rate}});
    }

    if (publish_gate && !publish_gate()) throw_cancelled(ErrorClass::LeaseLost);
    out.commit();

    result = result_from_file(pf, result.frames);
    result.wall_sec = seconds_since(t0);
    result.encode_fps = result.wall_sec > 0 ? static_cast<double>(result.frames) / result.wall_sec : 0;
    if (on_progress) on_progress(Progress{result.frames, result.frames, result.wall_sec, result.encode_fps});
    return result;
}

}  // namespace renderer::media

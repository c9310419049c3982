#include "media/slideshow.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <thread>

#include <fmt/format.h>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

#include "common/atomic_file.h"
#include "common/byte_buffer.h"
#include "common/cpu_quota.h"
#include "common/file_stamp.h"
#include "common/paths.h"
#include "media/artifact_reader.h"
#include "media/audio_finish.h"
#include "media/audio_source.h"
#include "media/av_error.h"
#include "media/encoders.h"
#include "media/ffmpeg_cmd.h"
#include "media/frame_pipeline.h"
#include "media/held_frames.h"
#include "media/libav_log.h"
#include "media/loudness.h"
#include "media/mp4_writer.h"
#include "media/png_decoder.h"
#include "media/preflight.h"
#include "media/probe.h"
#include "media/render_key.h"

namespace renderer::media {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] void throw_cancelled(ErrorClass reason) {
    switch (reason) {
        case ErrorClass::Timeout:
            throw Error(reason, "render exceeded the job timeout and was cancelled");
        case ErrorClass::LeaseLost:
            throw Error(reason, "the job's lease was lost; render abandoned, nothing published");
        default:
            throw Error(reason, "render cancelled");
    }
}

// x264 keeps every core busy at the presets that matter, so the decoders get half the cores:
// on 2 cores one decode thread keeps ahead of the encoder and a second only adds contention
// (measured: more CPU, more memory; docs/PERFORMANCE.md). The cores are those the cgroup's CPU
// quota allows, not the node's: a 3-CPU pod on a 64-core node gets 1 decoder, not 4.
int decode_threads(const RenderSettings& s) {
    if (s.decode_threads > 0) return s.decode_threads;
    return std::clamp(available_cpus() / 2, 1, 4);
}

// The cut, exactly: T = min(frames / fps, audio duration) (the spec's -shortest), decided in
// whole samples at the output rate so that video and audio agree on where it is. The audio keeps
// round(T * rate) samples; the video keeps the frames that start before those samples end
// (i / fps < samples / rate). Deciding the frames in seconds instead sent, for a track lasting
// k / fps plus under half a sample (parts at other rates), a frame k + 1 starting exactly where
// the rounded audio ends: its duration clamped to 0, which the mov muxer replaces with the frame
// before's, so the file lasted a frame past the audio.
struct Cut {
    double seconds = 0;
    std::int64_t video_frames = 0;
    std::int64_t audio_samples = 0;  // at `rate`
    std::int64_t rate = 0;
};

// AUDIO_FIT loop and pad: the frames set the length whatever the music lasts.
Cut compute_cut(std::size_t frame_count, int fps, double audio_sec, std::int64_t rate,
                AudioFit fit) {
    const auto frames = static_cast<std::int64_t>(frame_count);
    const std::int64_t audio =
        std::max<std::int64_t>(1, std::llround(audio_sec * static_cast<double>(rate)));
    Cut c{.rate = rate};
    if (fit != AudioFit::Shortest || frames * rate <= audio * fps) {
        // The frames are the shorter input (or as long, or set the length): all of them, audio
        // to the last one's end.
        c.video_frames = frames;
        c.audio_samples = (2 * frames * rate + fps) / (2 * fps);  // round(frames / fps * rate)
        c.seconds = static_cast<double>(frames) / fps;
    } else {
        c.audio_samples = audio;
        c.video_frames = std::max<std::int64_t>(1, (audio * fps + rate - 1) / rate);  // ceil
        c.seconds = static_cast<double>(audio) / static_cast<double>(rate);
    }
    return c;
}

// The AAC packets an encode of `samples` samples yields: the encoder's 1024 samples of priming
// come first, so one packet more than the samples fill.
std::int64_t planned_aac_packets(std::int64_t samples) { return (samples + 1024 + 1023) / 1024; }

// The loudness the artifact's metadata states (written when a loudness target was set).
std::optional<RenderResult::Loudness> stored_loudness(const MediaInfo& info) {
    const auto tag = [&](const char* key) -> std::optional<double> {
        const auto it = info.tags.find(key);
        if (it == info.tags.end()) return std::nullopt;
        return std::strtod(it->second.c_str(), nullptr);  // "-inf" for a silent track
    };
    const auto lufs = tag(kLoudnessTag), peak = tag(kTruePeakTag), gain = tag(kGainTag);
    if (!lufs || !peak || !gain) return std::nullopt;
    return RenderResult::Loudness{.lufs = *lufs, .true_peak_dbtp = *peak, .gain_db = *gain};
}

RenderResult result_from_file(const PreflightReport& pf, std::int64_t frames) {
    const MediaInfo info = probe_file(pf.output_path, InputPolicy::Artifact);
    RenderResult r;
    r.path = pf.output_path;
    r.bytes = info.size_bytes;
    r.duration_ms = std::llround(info.duration_sec * 1000.0);
    r.audio_track = pf.audio_track;
    r.frames = frames;
    r.width = pf.canvas.width;
    r.height = pf.canvas.height;
    r.loudness = stored_loudness(info);
    return r;
}

// Frames past the cut (AUDIO_FIT=shortest with the shorter music) are never encoded, but
// preflight reads the header of every frame on disk. Frames still arriving get the same check
// before anything is published: where the frames come from changes neither the outcome (a
// non-PNG is a PreflightError) nor what is left behind (a download failing there fails the
// render before its artifact is in place).
void check_frames_past_cut(const RenderRequest& req, const PreflightReport& pf,
                           std::int64_t cut_frames, const CancelToken& cancel) {
    const auto* arriving = req.arriving_frames.get();
    if (!arriving) return;  // preflight checked them all
    for (auto i = static_cast<std::size_t>(cut_frames); i < pf.frames.size(); ++i) {
        if (!arriving->wait(i, [&] { return cancel.cancelled(); }))
            throw_cancelled(cancel.reason().value_or(ErrorClass::Cancelled));
        read_png_header(pf.frames[i], req.settings.max_frame_pixels, req.setting_names);
    }
}

// The existing artifact's result when its stored key equals this render's and the file is
// whole (its boxes tile the file, and it holds every packet this render would write); hashing
// the frames costs one read of each file, far less than encoding them.
std::optional<RenderResult> cached_result(const PreflightReport& pf, const Cut& cut,
                                          const std::vector<std::filesystem::path>& frames,
                                          const FrameArrivals* arriving, std::uint64_t music_hash,
                                          const RenderSettings& s, const log::Context& log) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(pf.output_path, ec)) return std::nullopt;
    const auto stored = read_artifact(pf.output_path);
    if (!stored || stored->render_key.empty()) return std::nullopt;
    const auto log_incomplete = [&] {
        log.info("cache_incomplete", {{"path", pf.output_path.string()},
                                      {"boxes_cover_file", stored->boxes_cover_file},
                                      {"payload_matches", stored->payload_matches},
                                      {"video_packets", stored->video_packets},
                                      {"audio_packets", stored->audio_packets}});
    };
    if (!stored->boxes_cover_file || !stored->payload_matches) {
        log_incomplete();
        return std::nullopt;
    }
    std::vector<std::uint64_t> hashes;
    hashes.reserve(frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
        // Frames still downloading: the check needs them all, so this render overlaps nothing
        // (only when an artifact already sits at the final path).
        if (arriving) arriving->wait(i, [] { return false; });
        hashes.push_back(content_hash(read_file_bytes(frames[i], "frame")));
    }
    // An artifact of other inputs or settings is a plain miss; only one made from these can be
    // incomplete (an artifact of the other frame timing, or with a frame changed inside a held
    // run, holds another number of packets too, and was logged as incomplete).
    if (stored->render_key != render_key(s, pf, cut.video_frames, hashes, music_hash))
        return std::nullopt;
    // In vfr a held slide is one packet: the frames' contents say how many there should be.
    if (stored->audio_packets != planned_aac_packets(cut.audio_samples) ||
        stored->video_packets != encoded_frame_count(s, hashes)) {
        log_incomplete();
        return std::nullopt;
    }
    RenderResult r = result_from_file(pf, cut.video_frames);
    r.cache_hit = true;
    log.info("cache_hit",
             {{"path", r.path.string()}, {"render_key", stored->render_key}, {"bytes", r.bytes}});
    return r;
}

// The CLI command that reproduces this render, with its frame list written beside the libav
// report (or in the temp dir without one); never beside the artifact.
void log_ffmpeg_cmd(const RenderRequest& req, const PreflightReport& pf,
                    const std::vector<std::filesystem::path>& frames, double cut_seconds,
                    const log::Context& log) {
    const std::filesystem::path list =
        req.libav_report_path
            ? std::filesystem::path(req.libav_report_path->string() + ".ffconcat")
            : std::filesystem::temp_directory_path() /
                  fmt::format("renderer-{}_{}.ffconcat", req.story_id, req.part_id);
    // A new file, never one planted at the name (the temp dir is shared).
    const std::optional<std::string> text = ffconcat_list(frames, req.settings.fps);
    if (!text) {
        log.debug("ffmpeg_cmd_failed",
                  {{"reason", "a frame name holds a line break, which a concat list cannot hold"}});
        return;
    }
    const int fd = create_file_anew(list);
    std::FILE* out = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
    if (out == nullptr && fd >= 0) ::close(fd);
    bool written =
        out != nullptr && std::fwrite(text->data(), 1, text->size(), out) == text->size();
    if (out != nullptr && std::fclose(out) != 0) written = false;
    if (!written) {
        log.debug("ffmpeg_cmd_failed",
                  {{"frame_list", list.string()}});  // a debug aid never fails a render
        return;
    }
    log.debug("ffmpeg_cmd",
              {{"argv", ffmpeg_argv(req, pf, list, cut_seconds)}, {"frame_list", list.string()}});
}

// Damaged music frames are skipped, counted, logged once and reported as a warning; a track
// that is mostly undecodable is refused rather than rendered short or silent.
std::optional<std::string> check_music_decoding(const DecodeErrors& e, const std::string& track,
                                                const log::Context& log) {
    if (e.refused == 0) return std::nullopt;
    const std::string where = e.first_refused_sec >= 0
                                  ? fmt::format(" (the first at {:.2f} s)", e.first_refused_sec)
                                  : "";
    if (e.refused * 2 > e.packets) {
        av_fail(ErrorClass::DecodeError, fmt::format("music '{}' is mostly undecodable: {} of {} "
                                                     "audio frames could not be decoded{}; replace "
                                                     "the file",
                                                     track, e.refused, e.packets, where));
    }
    log.warn("audio_decode_errors", {{"track", track},
                                     {"count", e.refused},
                                     {"packets", e.packets},
                                     {"first_position_sec", e.first_refused_sec}});
    return fmt::format("music '{}': {} of {} audio frames were undecodable and skipped{}", track,
                       e.refused, e.packets, where);
}

// The music must be the file preflight measured, unchanged, until the artifact is complete: its
// duration set the cut and its bytes the cache key. A track rewritten, truncated or renamed over
// meanwhile (a copy into the library, a sync) is the filesystem's doing and transient: IoError,
// so the job is retried and renders the file as it then is.
void check_music_unchanged(const PreflightReport& pf) {
    if (file_stamp(pf.music_path) == pf.music_stamp) return;
    throw Error(ErrorClass::IoError,
                fmt::format("music '{}' changed during the render (rewritten, truncated or "
                            "replaced since preflight "
                            "measured it); nothing was published, retry the job",
                            pf.audio_track));
}

// The track ended `missing` samples (at `rate`) before the cut. Preflight counts every frame's
// header, the decoder drops the frames it cannot decode: what those frames would have lasted is
// filled with silence at the end, so the audio still ends at T (the warning names them). Each
// resampler may round one sample away besides. Anything more: the file is not what preflight
// measured.
void check_short_music(const PreflightReport& pf, std::int64_t missing, std::int64_t target,
                       const AudioSource& audio, std::int64_t rate) {
    const std::int64_t explained =
        std::llround(audio.decode_errors().refused_sec * static_cast<double>(rate)) +
        audio.resampler_configs();
    if (missing <= explained) return;
    check_music_unchanged(pf);
    av_fail(ErrorClass::DecodeError,
            fmt::format("music '{}' decoded to {:.3f} s, short of the {:.3f} s its frames add up "
                        "to; replace the file",
                        pf.audio_track,
                        static_cast<double>(target - missing) / static_cast<double>(rate),
                        static_cast<double>(target) / static_cast<double>(rate)));
}

// AUDIO_LOUDNESS: the gain that brings what the render delivers (fitted, faded, through the AAC
// encoder and a decoder) to the target under the true-peak ceiling. A first measure of the
// finished PCM at unity gain gives the gain; AAC does not scale exactly with its input (a sharp
// attack can overshoot by a few tenths of a dB more once amplified), so the audio is encoded with
// that gain, decoded and measured, and the gain lowered by any excess over the ceiling and
// measured again, at most kGainPasses encodes in all. The render writes the last measured
// encode's packets (`encoded`) rather than encoding the audio again: it delivers exactly the
// audio that was measured, so the loudness reported is the delivered one, not an estimate.
// A track with nothing above the meter's gate (silence) is left as it is: no gain could bring it
// to a level, and amplifying its noise floor without bound is what an operator least wants.
constexpr int kGainPasses = 3;

RenderResult::Loudness finish_loudness(const PreflightReport& pf, AudioPlan& plan,
                                       const RenderSettings& s, LibavLogCapture& capture,
                                       const log::Context& log, EncodedAudio& encoded,
                                       const CancelToken& cancel) {
    const double target = *s.audio.loudness_lufs;
    const double ceiling = s.audio.true_peak_dbtp;
    plan.gain = 1.0f;
    const LoudnessMeasure unity = measure_finished(pf.music_path, capture, plan, &cancel);
    const LoudnessGain g = loudness_gain(unity, target, ceiling);
    log::Fields fields{
        {"target_lufs", target}, {"true_peak_ceiling_dbtp", ceiling}, {"silent", g.silent}};
    // Silence measures -inf, which JSON cannot hold: only finite measures are logged.
    if (std::isfinite(unity.integrated_lufs))
        fields.emplace_back("unity_lufs", unity.integrated_lufs);
    if (std::isfinite(unity.true_peak_dbtp))
        fields.emplace_back("unity_true_peak_dbtp", unity.true_peak_dbtp);
    if (g.silent) {
        log.warn("loudness_silent",
                 {{"track", pf.audio_track},
                  {"target_lufs", target},
                  {"action", "no gain: the track has nothing above the -70 LUFS gate"}});
        log.info("loudness", fields);
        return RenderResult::Loudness{.lufs = -std::numeric_limits<double>::infinity(),
                                      .true_peak_dbtp = unity.true_peak_dbtp,
                                      .gain_db = 0};
    }
    double gain_db = g.gain_db;
    LoudnessMeasure delivered;
    for (int pass = 1;; ++pass) {
        plan.gain = static_cast<float>(std::pow(10.0, gain_db / 20.0));
        delivered =
            measure_delivered(pf.music_path, capture, plan, s.audio_bitrate, &encoded, &cancel);
        const double over = delivered.true_peak_dbtp - ceiling;
        if (over <= 0 || pass == kGainPasses) break;
        gain_db -= over;
    }
    fields.emplace_back("gain_db", gain_db);
    fields.emplace_back("peak_limited", g.peak_limited || gain_db < g.gain_db);
    fields.emplace_back("delivered_lufs", delivered.integrated_lufs);
    fields.emplace_back("delivered_true_peak_dbtp", delivered.true_peak_dbtp);
    log.info("loudness", fields);
    return RenderResult::Loudness{.lufs = delivered.integrated_lufs,
                                  .true_peak_dbtp = delivered.true_peak_dbtp,
                                  .gain_db = gain_db};
}

}  // namespace

RenderResult render_slideshow(const RenderRequest& req, const log::Context& log,
                              const CancelToken& cancel, const ProgressFn& on_progress,
                              const std::function<bool()>& publish_gate) {
    const auto t0 = Clock::now();
    LibavLogCapture capture(req.libav_report_path);
    if (req.libav_report_path)
        log.debug("ffreport", {{"ffreport", req.libav_report_path->string()}});

    const PreflightReport pf = preflight(req);
    const double preflight_sec = seconds_since(t0);
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
                           {"headers_checked", pf.headers_checked},
                           {"free_bytes", pf.free_bytes}});
    const Cut cut = compute_cut(pf.frames.size(), s.fps, pf.audio.duration_sec,
                                output_sample_rate(pf.audio.sample_rate), s.audio.fit);
    std::vector<std::filesystem::path> frames(pf.frames.begin(),
                                              pf.frames.begin() + cut.video_frames);
    if (log::enabled(log::Level::debug)) log_ffmpeg_cmd(req, pf, frames, cut.seconds, log);

    // Render cache: the artifact already at the final path was made from these exact inputs.
    const std::uint64_t music_hash = file_content_hash(pf.music_path);
    if (s.use_cache) {
        if (auto hit =
                cached_result(pf, cut, frames, req.arriving_frames.get(), music_hash, s, log)) {
            check_frames_past_cut(req, pf, cut.video_frames, cancel);
            hit->wall_sec = seconds_since(t0);
            hit->stages.preflight = preflight_sec;
            return *hit;
        }
    }

    AtomicFile out(pf.output_path);
    if (req.on_temp_file) req.on_temp_file(out.temp_path());
    RenderResult result;
    const auto encode_start = Clock::now();
    double decode_wait_sec = 0;
    {
        Mp4Writer mux(out.temp_path(), capture);
        CodecContextPtr venc = open_video_encoder(s, pf.canvas, mux.needs_global_header());
        const LibavLogRoute venc_route(capture, venc.get());
        // The track's first decoded frame sets the rate; it is preflight's unless that frame
        // was damaged and another rate came first.
        const std::int64_t rate = AudioSource(pf.music_path, capture).sample_rate();
        const std::int64_t audio_target =
            rate == cut.rate ? cut.audio_samples
                             : std::llround(cut.seconds * static_cast<double>(rate));
        // With a loudness target, the last measured encode's packets: the audio the render writes.
        EncodedAudio encoded;
        AudioPlan plan = plan_audio(s.audio, audio_target,
                                    std::llround(pf.audio.duration_sec * static_cast<double>(rate)),
                                    static_cast<int>(rate));
        if (s.audio.loudness_lufs) {
            try {
                result.loudness =
                    finish_loudness(pf, plan, s, capture, log, encoded, cancel);  // sets plan.gain
            } catch (const Error&) {
                if (const auto reason = cancel.reason()) throw_cancelled(*reason);
                throw;
            }
        }
        FinishedAudio audio(pf.music_path, capture, plan);
        CodecContextPtr aenc =
            open_aac_encoder(audio.sample_rate(), s.audio_bitrate, mux.needs_global_header());
        const LibavLogRoute aenc_route(capture, aenc.get());
        AVStream* vst = mux.add_stream(venc.get());
        AVStream* ast = mux.add_stream(aenc.get());
        std::size_t next_packet = 0, next_frame = 0;
        const auto write_encoded = [&] {
            const int n = encoded.after_frame.at(next_frame++);
            for (int k = 0; k < n; ++k)
                mux.write(encoded.packets.at(next_packet++).get(), ast, aenc->time_base);
        };
        // Every frame boundary (1/fps) and every sample (1/rate) is a whole number of ticks.
        mux.write_header(std::lcm(s.fps, static_cast<int>(rate)));

        // The video ends at T too: when the music is the shorter input the last frame is cut short.
        mux.set_stream_end(vst, audio_target, AVRational{1, static_cast<int>(rate)});
        std::int64_t audio_sent = 0;
        bool short_checked = false;
        // Audio is encoded alongside the video, one video frame's worth at a time, so the muxer's
        // interleaving queue stays short. Every frame but the last has the encoder's frame size:
        // the encoder takes a shorter one only as the last (FFmpeg 7 refuses any after it), so a
        // track that ends inside a frame ends it with silence (or, looped, with its start).
        const auto pump_audio = [&](std::int64_t until_samples) {
            until_samples = std::min(until_samples, audio_target);
            while (audio_sent < until_samples) {
                const int want = static_cast<int>(
                    std::min<std::int64_t>(aenc->frame_size, audio_target - audio_sent));
                FramePtr f = audio.read(want);
                if (s.audio.fit == AudioFit::Shortest && audio.track_ended_at() && !short_checked) {
                    // The track ended before T by what its damaged frames lasted, at most.
                    check_short_music(pf, audio_target - *audio.track_ended_at(), audio_target,
                                      audio.source(), rate);
                    short_checked = true;
                }
                f->pts = audio_sent;
                audio_sent += f->nb_samples;
                if (encoded.after_frame.empty()) {
                    encode_and_write(aenc.get(), f.get(), ast, mux);
                } else {
                    write_encoded();  // the same frame, encoded and measured already
                }
            }
        };

        // Frames still arriving are waited for, and their headers checked as preflight checks
        // frames on disk, when a decode thread reaches them.
        FrameGateFn gate;
        if (const auto* arriving = req.arriving_frames.get()) {
            gate = [&, arriving](std::size_t i, const std::function<bool()>& stopping) {
                if (!arriving->wait(i, [&] { return stopping() || cancel.cancelled(); })) {
                    throw Error(cancel.reason().value_or(ErrorClass::Cancelled),
                                "render stopped while waiting for a frame to download");
                }
                read_png_header(pf.frames[i], s.max_frame_pixels, req.setting_names);
            };
        }
        FramePipeline pipeline(std::move(frames), pf.canvas, decode_threads(s), s.max_frame_pixels,
                               cancel, &capture, {}, std::move(gate));
        const bool vfr = s.frame_timing == FrameTiming::Vfr;
        std::int64_t encoded_frames = 0;
        FrameDurations durations;  // vfr only; cfr frames last one period (Mp4Writer)
        FrameDurations* const vfr_durations = vfr ? &durations : nullptr;
        // Sends `picture` shown from frame `pts` on: a new reference to the shared picture, so
        // held slides cost no copy. A keyframe is forced where time asks for one (vfr).
        const auto send = [&](const SharedFrame& picture, std::int64_t pts, bool keyframe) {
            FramePtr frame(av_frame_clone(picture.get()));
            if (!frame) av_fail(ErrorClass::EncodeError, "cannot reference a video frame");
            frame->pts = pts;
            frame->pict_type = keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
            encode_and_write(venc.get(), frame.get(), vst, mux, nullptr, vfr_durations);
            ++encoded_frames;
        };
        // vfr: the open run's picture waits until the run ends, when its duration is known.
        HeldFrames held(s, cut.video_frames);
        SharedFrame held_picture;
        const auto send_run = [&](const HeldRun& run) {
            durations[run.start] = run.frames;
            send(held_picture, run.start, run.keyframe);
        };
        auto last_progress = Clock::now();
        for (std::int64_t i = 0; i < cut.video_frames; ++i) {
            if (const auto reason = cancel.reason()) throw_cancelled(*reason);
            const auto wait_start = Clock::now();
            SharedFrame picture = pipeline.next();
            decode_wait_sec += seconds_since(wait_start);
            if (!vfr) {
                send(picture, i, false);
            } else if (const auto run = held.add(pipeline.frame_hashes()[i])) {
                send_run(*run);
                held_picture = std::move(picture);
            } else if (!held_picture) {
                held_picture = std::move(picture);  // the first frame opens the first run
            }
            pump_audio((i + 1) * rate / s.fps);
            if (on_progress && Clock::now() - last_progress >= std::chrono::milliseconds(500)) {
                last_progress = Clock::now();
                const double el = seconds_since(t0);
                on_progress(Progress{i + 1, cut.video_frames, el, el > 0 ? (i + 1) / el : 0});
            }
        }
        pump_audio(audio_target);
        if (auto warning =
                check_music_decoding(audio.source().decode_errors(), pf.audio_track, log)) {
            result.warnings.push_back(std::move(*warning));
        }
        if (const auto run = held.finish(); vfr && run) send_run(*run);
        try {
            encode_and_write(venc.get(), nullptr, vst, mux, &cancel, vfr_durations);
            if (encoded.after_frame.empty()) {
                encode_and_write(aenc.get(), nullptr, ast, mux, &cancel);
            } else {
                write_encoded();  // what the flush gave
            }
        } catch (const Error&) {
            if (const auto reason = cancel.reason()) throw_cancelled(*reason);
            throw;
        }
        // The moov atom (metadata included) is written by the trailer, so the key can be set now.
        mux.set_metadata(kRenderKeyTag,
                         render_key(s, pf, cut.video_frames, pipeline.frame_hashes(), music_hash));
        if (const auto& l = result.loudness) {
            mux.set_metadata(kLoudnessTag, fmt::format("{:.2f}", l->lufs));
            mux.set_metadata(kTruePeakTag, fmt::format("{:.2f}", l->true_peak_dbtp));
            mux.set_metadata(kGainTag, fmt::format("{:.2f}", l->gain_db));
        }
        mux.seal_payload(kPayloadHashTag);
        mux.finish();
        check_music_unchanged(pf);

        const auto stats = pipeline.stats();
        result.frames = cut.video_frames;
        log.debug("encode_stats", {{"frames_decoded", stats.decoded},
                                   {"frames_reused", stats.reused},
                                   {"frames_encoded", encoded_frames},
                                   {"audio_samples", audio_sent},
                                   {"audio_repeats", audio.repeats()},
                                   {"audio_sample_rate", rate}});
    }

    const auto past_cut_start = Clock::now();
    check_frames_past_cut(req, pf, cut.video_frames, cancel);
    decode_wait_sec += seconds_since(past_cut_start);
    const double encode_sec = seconds_since(encode_start) - decode_wait_sec;
    const auto publish_start = Clock::now();
    if (publish_gate && !publish_gate()) throw_cancelled(ErrorClass::LeaseLost);
    out.commit();

    auto warnings = std::move(result.warnings);
    result = result_from_file(pf, result.frames);  // the loudness too, as the metadata states it
    result.warnings = std::move(warnings);
    result.wall_sec = seconds_since(t0);
    result.stages = {.preflight = preflight_sec,
                     .decode_wait = decode_wait_sec,
                     .encode = encode_sec,
                     .publish = seconds_since(publish_start)};
    result.encode_fps =
        result.wall_sec > 0 ? static_cast<double>(result.frames) / result.wall_sec : 0;
    if (on_progress)
        on_progress(Progress{result.frames, result.frames, result.wall_sec, result.encode_fps});
    return result;
}

}  // namespace renderer::media

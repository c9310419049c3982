// Audio finishing (DESIGN 3.1): what the viewer hears is fitted to the video (shortest, loop or
// pad), faded where the output ends inside the music, and brought to a loudness target by one
// static gain. Works on the AudioSource's stereo float planar frames, before the AAC encoder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "media/audio_finish_settings.h"
#include "media/audio_source.h"
#include "media/av_ptr.h"
#include "media/libav_log.h"

namespace renderer::media {

// The finishing of one render, in samples at the output rate.
struct AudioPlan {
    AudioFit fit = AudioFit::Shortest;
    std::int64_t total = 0;     // samples delivered
    std::int64_t fade_in = 0;   // samples faded in at the start
    std::int64_t fade_out = 0;  // samples faded out at the end; 0 where the track ends by itself
    float gain = 1.0f;          // linear, the loudness gain
};

// The plan for `total` output samples of a track of `track_samples` (preflight's measure) at
// `rate`. A fade is at most half the output. The fade-out applies where the output ends inside
// the music: a cut before the track's end, or a loop ending mid-track.
AudioPlan plan_audio(const AudioFinishSettings& settings, std::int64_t total,
                     std::int64_t track_samples, int rate);

// The quarter-sine fade gain (sin of a quarter turn scaled to the fade) at sample `i` of a fade
// of `length` samples: rising from 0 at i = 0 towards 1 for a fade-in; a fade-out is its mirror.
float fade_in_gain(std::int64_t i, std::int64_t length);

// Applies the plan's fades and gain to `frame` (stereo float planar) holding the output samples
// from `position`.
void apply_plan(const AudioPlan& plan, AVFrame& frame, std::int64_t position);

// The finished track: the AudioSource fitted to the plan (looped, padded, or cut), faded and
// gained, handed out in frames of exactly the size asked for.
class FinishedAudio {
  public:
    // A loop of a track no longer than `memory_loop_samples` repeats from a copy in memory (a
    // track shorter than an AAC frame would otherwise be reopened hundreds of times a second);
    // a longer one is decoded again from its start for each repeat. Both give the same samples.
    FinishedAudio(const std::filesystem::path& path, LibavLogCapture& log, const AudioPlan& plan,
                  std::int64_t memory_loop_samples = kMemoryLoopSeconds * 48000);

    int sample_rate() const { return source_->sample_rate(); }
    // The next `samples` samples of the output (never more than remain of plan.total).
    FramePtr read(int samples);
    // The decoder of the current pass over the track (its errors, its resampler count).
    const AudioSource& source() const { return *source_; }
    // Where the track first ran out before the output's end, in output samples; nullopt while
    // it has not. In Shortest the rest is silence (the track was shorter than measured).
    std::optional<std::int64_t> track_ended_at() const { return track_ended_at_; }
    // Times the track started again from its beginning (Loop).
    std::int64_t repeats() const { return repeats_; }

    static constexpr std::int64_t kMemoryLoopSeconds = 10;

  private:
    // Copies up to `wanted` samples of the track into `out` from `offset`; returns how many.
    int read_track(AVFrame& out, int offset, int wanted);

    std::filesystem::path path_;
    LibavLogCapture& log_;
    AudioPlan plan_;
    std::unique_ptr<AudioSource> source_;
    std::int64_t position_ = 0;  // output samples handed out
    std::optional<std::int64_t> track_ended_at_;
    std::int64_t repeats_ = 0;
    std::int64_t pass_samples_ = 0;  // samples of the current pass over the track
    // The first pass over the track, kept while it is short enough to loop from memory.
    std::int64_t memory_limit_;
    std::vector<float> first_pass_[2];
    bool first_pass_whole_ = false;  // the track ended within memory_limit_: loop from memory
    std::size_t memory_position_ = 0;
    bool silent_rest_ = false;  // nothing more comes from the track (Shortest, Pad)
};

}  // namespace renderer::media

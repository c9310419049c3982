// FRAME_TIMING=vfr (DESIGN 3.2): which consecutive frames are one encoded frame. A run of frames
// showing the same content (the frame pipeline's content hash) is sent to the encoder once, at
// the run's first index, lasting the run; runs are split so that none lasts longer than the
// hold allows, and a keyframe is asked for wherever the next one would otherwise come more than
// KEYINT_SEC of presentation time after the last.
//
// The last frame of the video is a run of its own: with B-frames libavformat reads no packet's
// stored duration but guesses one frame period, so a final slide held as one sample would be
// read (by ffmpeg's fps filter, by players timing frames by packets) as lasting one period. A
// last sample of one period is read right whatever the reader assumes; it costs one small
// predicted frame.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "media/render_settings.h"

namespace renderer::media {

// Frames start .. start + frames - 1, encoded as one frame at pts `start` (in frame periods).
struct HeldRun {
    std::int64_t start = 0;
    std::int64_t frames = 0;
    bool keyframe = false;  // force a keyframe here (AV_PICTURE_TYPE_I)
};

class HeldFrames {
  public:
    // `frames`: how many frames the video has (the last is a run of its own).
    HeldFrames(const RenderSettings& settings, std::int64_t frames);

    // The next frame shows `content`. Returns the run this frame closes (the one before it),
    // ready to encode; nullopt while the frame extends the open run.
    std::optional<HeldRun> add(std::uint64_t content);
    // After the last frame: the open run (nullopt when no frame was added).
    std::optional<HeldRun> finish();

  private:
    HeldRun close();

    const std::int64_t max_hold_;           // frame periods
    const std::int64_t keyint_;             // frame periods
    const std::int64_t last_;               // index of the video's last frame
    std::int64_t next_ = 0;                 // index of the next frame added
    std::optional<std::uint64_t> content_;  // of the open run
    HeldRun open_;
    std::int64_t last_keyframe_ = 0;
};

// The frames the encoder is sent for `contents` (one content hash per frame) under `settings`:
// as many as frames in cfr, one per run in vfr.
std::int64_t encoded_frame_count(const RenderSettings& settings,
                                 const std::vector<std::uint64_t>& contents);

}  // namespace renderer::media

#include "media/held_frames.h"

namespace renderer::media {

HeldFrames::HeldFrames(const RenderSettings& s, std::int64_t frames)
    : max_hold_(max_hold_frames(s)), keyint_(keyint_frames(s)), last_(frames - 1) {}

std::optional<HeldRun> HeldFrames::add(std::uint64_t content) {
    const std::int64_t index = next_++;
    if (content_ == content && open_.frames < max_hold_ && index != last_) {
        ++open_.frames;
        return std::nullopt;
    }
    std::optional<HeldRun> closed;
    if (content_) closed = close();
    content_ = content;
    open_ = HeldRun{.start = index, .frames = 1};
    return closed;
}

std::optional<HeldRun> HeldFrames::finish() {
    if (!content_) return std::nullopt;
    content_.reset();
    return close();
}

HeldRun HeldFrames::close() {
    // Every run starts at most keyint_ after the last keyframe (the run before saw to it, and no
    // run lasts longer than keyint_). If the frame after this run would start further than that
    // from it, this run's frame is the last that can be the keyframe. x264 counts frames, not
    // time: its own keyint (keyint_ frames) never comes sooner than this, as every frame lasts a
    // period at least. The end of the video counts as a next frame: seeking near the end
    // decodes no more than anywhere else.
    HeldRun run = open_;
    if (run.start == 0 || run.start + run.frames - last_keyframe_ > keyint_) {
        run.keyframe = true;
        last_keyframe_ = run.start;
    }
    return run;
}

std::int64_t encoded_frame_count(const RenderSettings& s,
                                 const std::vector<std::uint64_t>& contents) {
    if (s.frame_timing == FrameTiming::Cfr) return static_cast<std::int64_t>(contents.size());
    HeldFrames held(s, static_cast<std::int64_t>(contents.size()));
    std::int64_t runs = 0;
    for (const auto c : contents) runs += held.add(c) ? 1 : 0;
    return runs + (held.finish() ? 1 : 0);
}

}  // namespace renderer::media

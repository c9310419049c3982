// The ffmpeg CLI command that reproduces a render, logged as `ffmpeg_cmd` in --debug so an
// operator can replay a job anywhere ffmpeg exists. Never executed by the renderer. The frames
// go through a concat-demuxer list (the render's exact files in their natural order, whatever
// the case of their extension), the cut is `-t T`, and the filters do what the in-process
// pipeline does: fit and pad onto the canvas, alpha over black, BT.709 limited range, mono at
// unity gain. What it cannot reproduce is said in the README.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "media/preflight.h"
#include "media/render_settings.h"

namespace renderer::media {

// The concat-demuxer list of `frames`, each shown for one frame period at `fps`; nullopt when a
// path holds a line break or NUL: the demuxer reads the list line by line, so such a name cannot
// be listed, and written as it is it would add directives of its own (frame names come from
// whoever made the story; the operator replays the list with -safe 0).
std::optional<std::string> ffconcat_list(const std::vector<std::filesystem::path>& frames, int fps);

// The argv; `frame_list` is the path the ffconcat_list() text is written to, `cut_seconds` the
// render's exact duration T.
std::vector<std::string> ffmpeg_argv(const RenderRequest& request, const PreflightReport& preflight,
                                     const std::filesystem::path& frame_list, double cut_seconds);

}  // namespace renderer::media

// The ffmpeg CLI argv that reproduces a render, logged as `ffmpeg_cmd` in --debug so an
// operator can replay a job anywhere ffmpeg exists. Never executed by the renderer.
#pragma once

#include <string>
#include <vector>

#include "media/preflight.h"
#include "media/render_settings.h"

namespace renderer::media {

std::vector<std::string> ffmpeg_argv(const RenderRequest& request, const PreflightReport& preflight);

}  // namespace renderer::media

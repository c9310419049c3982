// The slideshow renderer: preflight, then frames + music -> one H.264/AAC MP4, published
// atomically. This is the only entry point the worker and the CLI need.
#pragma once

#include <functional>

#include "common/log.h"
#include "media/cancel_token.h"
#include "media/render_settings.h"

namespace renderer::media {

using ProgressFn = std::function<void(const Progress&)>;

// Renders one story part. Logs `preflight`, `ffmpeg_cmd` (debug) and `cache_hit` through `log`;
// progress goes to `on_progress` (about twice a second). Throws renderer::Error with a class:
// PreflightError before any encoder is opened; DecodeError, EncodeError, IoError mid-render;
// the token's reason (Timeout, LeaseLost, Cancelled) when cancelled. On any throw nothing is
// left in the output directory.
//
// `publish_gate` (optional) is called after the file is complete and before it is renamed into
// place; if it returns false the render is abandoned as LeaseLost (the worker uses it to never
// publish without a live lease).
RenderResult render_slideshow(const RenderRequest& request, const log::Context& log,
                              const CancelToken& cancel, const ProgressFn& on_progress = {},
                              const std::function<bool()>& publish_gate = {});

}  // namespace renderer::media

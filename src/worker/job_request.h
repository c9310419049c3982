// A claimed job as a render request: the job's fields (frames_dir, music_track, render
// overrides) over the worker's configuration. Everything the API named is checked here first.
#pragma once

#include "media/render_settings.h"
#include "worker/api_messages.h"
#include "worker/worker_config.h"

namespace renderer::worker {

// Throws Error(PreflightError) for a malformed job, a frames_dir outside CONTENT_DIR, a
// music_track that is not a plain file name, or render overrides out of range. The caller adds
// its own hooks (libav report path, temp-file callback).
media::RenderRequest render_request_for(const Job& job, const WorkerConfig& config);

}  // namespace renderer::worker

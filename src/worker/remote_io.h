// A job's remote inputs and output (DESIGN §4.1): frames_url and music_url downloaded into the
// job's work dir, the artifact uploaded to output_url after the render. The render reads the
// work dir as it would read CONTENT_DIR; frames under an s3:// prefix download while it runs.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/log.h"
#include "media/render_settings.h"
#include "storage/s3_client.h"
#include "worker/api_messages.h"
#include "worker/frame_fetch.h"

namespace renderer::worker {

// The job names a remote input or output.
bool has_remote_fields(const Job& job);

// Checks the job's URLs (scheme, allow-list, plain http, credentials for s3://), downloads
// what they name into `work_dir` (frames/, music/; a frames .tar is unpacked into frames/ and
// removed) and points `request` at it; with an output_url, the render's output dir becomes
// work_dir/output. Frames under an s3:// prefix are listed here and downloaded by the returned
// fetch while the render reads them (request.arriving_frames); it must outlive the render and
// be finish()ed after it (or stop()ped). Null when nothing is left downloading. Throws the storage
// library's errors (PreflightError for a bad URL or listing, ConfigError for refused credentials,
// IoError for a store that kept failing, Cancelled).
[[nodiscard]] std::shared_ptr<FrameFetch> stage_remote_inputs(
    const storage::S3Client& client, const Job& job, const std::filesystem::path& work_dir,
    media::RenderRequest& request, const storage::CancelFn& cancelled, const log::Context& log);

// Uploads the rendered artifact to the job's output_url; returns what artifact_path reports:
// the URL without its query (a presigned signature never reaches the API or a log).
std::string publish_remote_output(const storage::S3Client& client, const Job& job,
                                  const media::RenderResult& result,
                                  const storage::CancelFn& cancelled, const log::Context& log);

}  // namespace renderer::worker

// The job API's messages as the worker sees them, parsed and built with RapidJSON. Everything
// read from the network is checked here: types, and ids that will later name files.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace renderer::worker {

struct RenderOverrides {
    std::optional<int> fps;
    std::optional<std::string> codec;   // h264 | hevc | av1
    std::optional<std::string> preset;  // a name, or SVT-AV1's number (given as text or number)
    std::optional<int> crf;
    // Audio finishing (DESIGN 3.1); ranges are checked by media::validate.
    std::optional<std::string> audio_fit;
    std::optional<int> audio_fade_in_ms;
    std::optional<int> audio_fade_out_ms;
    std::optional<std::string> audio_loudness;  // "off" or a number of LUFS, as text
    std::optional<double> audio_true_peak;
    // Frame timing (DESIGN 3.2); checked by media's parsers and validate.
    std::optional<std::string> frame_timing;  // "cfr" | "vfr"
    std::optional<int> keyint_sec;
};

struct Job {
    std::string id;
    std::string story_id;
    std::string part_id;
    std::optional<std::string> claim_url;
    std::optional<int> lease_seconds;
    std::optional<std::string> frames_dir;
    std::optional<std::string> music_track;
    // Remote inputs and output (DESIGN §4.1): s3:// or presigned http(s) URLs.
    std::optional<std::string> frames_url;
    std::optional<std::string> music_url;
    std::optional<std::string> output_url;
    RenderOverrides render;
    // A malformed optional field. The job is still claimed and reported `errored` as a
    // PreflightError, rather than skipped forever by every worker.
    std::optional<std::string> input_error;
};

// A listed job the worker will not touch: its id, story_id or part_id is missing or unsafe.
struct RejectedJob {
    std::string id;  // as received, truncated; for the log only
    std::string reason;
};

struct JobList {
    std::vector<Job> jobs;
    std::vector<RejectedJob> rejected;
    std::int64_t queue_depth = 0;
};

// GET /api/render-jobs: a JSON array of jobs, or {"jobs": [...], "queue_depth": n}. queue_depth
// comes from the field, else from `queue_depth_header` (X-Queue-Depth), else the count listed.
// Throws Error(ApiError) when the body is not one of those shapes.
JobList parse_job_list(std::string_view body, const std::optional<std::string>& queue_depth_header);

using WallClock = std::chrono::system_clock;

// The answer to a claim or a heartbeat.
struct LeaseGrant {
    std::optional<WallClock::time_point> expires_at;
    std::string expires_at_text;  // as the API wrote it, for the log
    std::optional<std::string> lease_token;
    std::optional<int> lease_seconds;
    // From the HTTP answer rather than its body (set by the API client): the Date header, which
    // is the API's clock, and our own clock when the answer arrived. Together with expires_at
    // they tell a lease's length, and the clock skew, whatever the two clocks say.
    std::optional<WallClock::time_point> answered_at;
    WallClock::time_point received_at{};
};

// `require_expiry`: a claim must state lease_expires_at; a heartbeat answer may be empty.
// Throws Error(ApiError) on malformed JSON or fields.
LeaseGrant parse_lease_grant(std::string_view body, bool require_expiry);

struct StatusUpdate {
    std::string status;  // rendering | rendered | errored
    std::optional<std::string> artifact_path;
    std::optional<std::uint64_t> bytes;
    std::optional<std::int64_t> duration_ms;
    std::optional<std::string> audio_track;
    // The delivered audio's loudness, when the render had a loudness target.
    std::optional<double> loudness_lufs;
    std::optional<double> true_peak_dbtp;
    std::optional<double> gain_db;
    std::optional<std::string> error_class;
    std::optional<std::string> error_message;
    std::optional<std::string> stderr_snippet;
    std::optional<bool> timeout;
};

std::string status_body(const StatusUpdate& update, const std::optional<std::string>& lease_token);
std::string claim_body(std::string_view worker_name);
std::string heartbeat_body(const std::optional<std::string>& lease_token);

}  // namespace renderer::worker

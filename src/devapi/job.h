// The reference API's job model: a render job, its lease and the history of every accepted
// transition. Plain data; JobStore owns the rules.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace renderer::devapi {

using SteadyClock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

enum class JobStatus { Queued, Claimed, Rendering, Rendered, Errored };
inline constexpr std::array kAllStatuses{JobStatus::Queued, JobStatus::Claimed,
                                         JobStatus::Rendering, JobStatus::Rendered,
                                         JobStatus::Errored};

std::string_view to_string(JobStatus status);
std::optional<JobStatus> parse_status(std::string_view text);
bool is_final(JobStatus status);
bool holds_lease(JobStatus status);  // claimed or rendering

// "2026-11-28T19:50:37.123Z"
std::string to_rfc3339(WallClock::time_point tp);

// The optional fields of a status post; also kept as the job's latest report.
struct StatusReport {
    std::optional<std::string> artifact_path;
    std::optional<std::int64_t> bytes;
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

struct HistoryEntry {
    JobStatus status = JobStatus::Queued;
    WallClock::time_point at;
    std::string worker;  // empty when not known
    std::string reason;  // why the API itself moved the job: created, lease_expired, ...
    StatusReport report;
};

// What a client supplies when it creates a job.
struct JobSpec {
    std::string id;
    std::string story_id;
    std::string part_id;
    std::optional<std::string> frames_dir;
    std::optional<std::string> music_track;
    // Remote inputs and output (DESIGN §4.1), passed to workers as given.
    std::optional<std::string> frames_url;
    std::optional<std::string> music_url;
    std::optional<std::string> output_url;
    std::optional<std::string> render_json;  // a JSON object, serialized; echoed verbatim
    int lease_seconds = 0;                   // 0: the store's default
};

struct Job {
    JobSpec spec;
    JobStatus status = JobStatus::Queued;

    // The current lease; meaningful only while holds_lease(status).
    std::string worker;
    std::string lease_token;
    SteadyClock::time_point lease_deadline;
    WallClock::time_point lease_expires_at;
    int lease_heartbeats = 0;

    // Token of the last lease the API took back, so a late post from its holder gets 410.
    std::string revoked_token;

    int claims = 0;
    int lease_expirations = 0;
    int heartbeats = 0;
    StatusReport last_report;
    std::vector<HistoryEntry> history;
};

}  // namespace renderer::devapi

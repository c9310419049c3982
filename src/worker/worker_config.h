// The worker's configuration: env vars (names as in the spec) over defaults, CLI flags over
// those, then one validation pass whose failures are ConfigError (exit 78) with one actionable
// message. The API token is registered for redaction the moment it is read.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/service_paths.h"
#include "media/render_settings.h"

namespace renderer::worker {

struct WorkerConfig {
    std::string api_base_url;  // API_BASE_URL, required; may hold userinfo, never logged as given
    std::string api_token;     // API_AUTH_TOKEN; never logged
    std::optional<std::filesystem::path> api_token_file;  // API_AUTH_TOKEN_FILE
    std::optional<std::filesystem::path> api_ca_bundle;   // API_CA_BUNDLE
    std::int64_t poll_interval_ms = 5000;                 // POLL_INTERVAL_MS
    int max_concurrent = 2;                               // MAX_CONCURRENT
    int lease_seconds = 120;                              // LEASE_SECONDS
    std::int64_t heartbeat_interval_ms = 0;               // HEARTBEAT_INTERVAL_SEC; 0 = lease / 3
    int job_timeout_sec = 1800;                           // JOB_TIMEOUT_SEC
    int max_retries = 2;                                  // MAX_RETRIES (transient render failures)
    int shutdown_grace_sec = 30;                          // SHUTDOWN_GRACE_SEC
    std::uint64_t min_free_bytes = 2ull << 30;            // MIN_FREE_BYTES
    int http_timeout_sec = 30;                            // HTTP_TIMEOUT_SEC
    std::string worker_name;                              // WORKER_NAME; default: host name
    std::string music_select = "first";                   // MUSIC_SELECT; a job's music_track wins
    std::string output_name_template = "{story_id}_{part_id}.mp4";  // OUTPUT_NAME_TEMPLATE
    // METRICS_ADDR: host:port serving /livez, /readyz and /metrics; empty = no server.
    std::string metrics_addr;
    ServicePaths paths;            // CONTENT_DIR, MUSIC_DIR, OUTPUT_DIR, TMP_DIR
    media::RenderSettings render;  // FPS, X264_PRESET, ... (media layer)
    bool debug = false;            // --debug: per-job libav report files
    // --debug: how many of the newest reports are kept in $TMP_DIR/.ffreports, and their total
    // size; older ones are deleted as each job ends.
    int debug_reports_kept = 20;
    std::uint64_t debug_reports_max_bytes = 256ull << 20;
    // Stop once this many polls in a row found the queue empty with no job running (0: never).
    int exit_when_idle_polls = 0;
    // FINAL_SCRAPE_WAIT_SEC: when stopping for idleness with the metrics server on, keep serving
    // until one /metrics request has read the final counts, for at most this long (0: exit at
    // once). A worker that exits seconds after its last job (a KEDA ScaledJob pod) is otherwise
    // gone before Prometheus scrapes it again, and the job's outcome is never recorded.
    int final_scrape_wait_sec = 0;
    // How often a running job logs `rendering` (the spec asks for every 5-10 s).
    std::int64_t progress_log_interval_ms = 5000;

    // Reads the env over the defaults. Malformed values throw ConfigError naming the variable;
    // missing required ones are left empty for finalize() to report after CLI flags are merged.
    static WorkerConfig from_env();

    // Reads the token file when one is named, registers the token as a log secret, fills derived
    // defaults, and validates everything. Throws ConfigError. Safe to call again.
    void finalize();

    // API_BASE_URL without userinfo or query: what requests are built on and what logs show.
    std::string api_base() const;
};

}  // namespace renderer::worker

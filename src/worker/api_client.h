// The job API contract (DESIGN.md §4) over HttpClient: list, claim, heartbeat, status. Owns the
// retry rules: network errors, 5xx and 429 (honouring Retry-After) are retried with back-off,
// other 4xx never are, and a status post answered 409 is retried a few times before the lease
// is taken as lost. Each retry is logged as `retry`.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/log.h"
#include "worker/api_messages.h"
#include "worker/http_client.h"
#include "worker/retry.h"
#include "worker/stop_flag.h"

namespace renderer::worker {

using SteadyClock = std::chrono::steady_clock;

// How the API answered a request made under a lease.
enum class LeaseAnswer {
    Ok,           // 2xx
    Lost,         // 404/409/410: the lease is gone; stop working on the job
    Rejected,     // another 4xx: the API refuses this request; retrying will not help
    Unreachable,  // network errors, 5xx or 429 until retries or time ran out
};

class ApiClient {
  public:
    struct Options {
        std::string base_url;  // http(s)://host[:port][/prefix], without credentials or query
        std::string token;
        std::optional<std::filesystem::path> ca_bundle;
        std::chrono::milliseconds http_timeout{30000};
        std::string worker_name;
        RetryPolicy poll_retry{.max_attempts = 4,
                               .base_delay = std::chrono::milliseconds(250),
                               .max_delay = std::chrono::milliseconds(4000),
                               .max_total = std::chrono::milliseconds(15000),
                               .min_delay = std::chrono::milliseconds(100)};
        RetryPolicy claim_retry{.max_attempts = 3,
                                .base_delay = std::chrono::milliseconds(250),
                                .max_delay = std::chrono::milliseconds(2000),
                                .max_total = std::chrono::milliseconds(8000),
                                .min_delay = std::chrono::milliseconds(100)};
        // Heartbeats and status posts are bounded by the lease deadline rather than by time.
        RetryPolicy lease_retry{.max_attempts = 1000,
                                .base_delay = std::chrono::milliseconds(200),
                                .max_delay = std::chrono::milliseconds(5000),
                                .max_total = std::chrono::hours(24),
                                .min_delay = std::chrono::milliseconds(100)};
        int status_conflict_retries = 3;
        // Called before each retry with the request's name (list, claim, heartbeat, status):
        // the worker counts them in renderer_http_retries_total.
        std::function<void(std::string_view request)> on_retry;
        // Called when a call ends, however it ended, with how long it took from its first
        // attempt (retries and back-off included): renderer_api_call_duration_seconds.
        std::function<void(std::string_view request, double seconds)> on_call;
    };

    struct HeartbeatResult {
        LeaseAnswer answer = LeaseAnswer::Unreachable;
        LeaseGrant grant;    // when Ok
        std::string detail;  // when not Ok: why, for the log
    };

    struct StatusResult {
        LeaseAnswer answer = LeaseAnswer::Unreachable;
        std::string detail;
    };

    explicit ApiClient(Options options);

    // GET /api/render-jobs?status=queued&limit=N. Throws Error(ApiError) when retries run out,
    // Error(Cancelled) when `stop` is raised during a back-off.
    JobList list_jobs(int limit, const StopFlag* stop);

    // POST the claim; nullopt when another worker won (409). Throws Error(ApiError) otherwise,
    // Error(Cancelled) when `stop` is raised (in flight or during a back-off).
    std::optional<LeaseGrant> claim(const Job& job, const log::Context& log,
                                    const StopFlag* stop = nullptr);

    HeartbeatResult heartbeat(const Job& job, const std::optional<std::string>& lease_token,
                              SteadyClock::time_point deadline, const StopFlag* stop,
                              const log::Context& log);

    StatusResult post_status(const Job& job, const StatusUpdate& update,
                             const std::optional<std::string>& lease_token,
                             SteadyClock::time_point deadline, const StopFlag* stop,
                             const log::Context& log);

    // The job's claim_url when it is on API_BASE_URL's origin (or relative), else the default
    // claim path: the token is never sent to another origin.
    std::string claim_url_for(const Job& job, const log::Context& log) const;

    const std::string& base_url() const { return options_.base_url; }

  private:
    struct Call {
        const char* method = "GET";
        std::string url;
        std::string body;
        const RetryPolicy* policy = nullptr;
        std::optional<SteadyClock::time_point> deadline;
        int conflict_retries = 0;  // 409 answers retried this many times (status posts only)
        const StopFlag* stop = nullptr;
        const log::Context* log = nullptr;
        const char* request = "";  // list, claim, heartbeat or status: for on_retry
    };

    // The first answer that is not retried (2xx, 3xx, 4xx other than 429, or 409 once the
    // conflict retries are spent). Throws Error(ApiError) when retries or time run out.
    HttpResponse execute(const Call& call);

    std::string job_url(const Job& job, std::string_view action) const;

    Options options_;
    HttpClient http_;
};

}  // namespace renderer::worker

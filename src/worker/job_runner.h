// One claimed job from start to end: post `rendering`, keep the lease alive, render (retrying
// transient failures under the same lease), enforce JOB_TIMEOUT_SEC, report the outcome, and
// clean up. This is the top of a job's call stack, so it is where each failure is logged, once.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/log.h"
#include "media/cancel_token.h"
#include "media/slideshow.h"
#include "worker/api_client.h"
#include "worker/api_messages.h"
#include "worker/frame_fetch.h"
#include "worker/lease.h"
#include "worker/metrics.h"
#include "worker/stop_flag.h"
#include "worker/worker_config.h"

namespace renderer::worker {

// media::render_slideshow's signature; injectable so tests can observe or slow real renders.
using RenderFn = std::function<media::RenderResult(
    const media::RenderRequest&, const log::Context&, const media::CancelToken&,
    const media::ProgressFn&, const std::function<bool()>&)>;

// Released: given up for a problem of this machine (disk low, no work dir), without a status, so
// the lease lapses and the API requeues the job for a worker that can do it.
enum class JobOutcome { Rendered, Errored, LeaseLost, Cancelled, Undelivered, Released };

// The outcome as renderer_jobs_total labels it: rendered, errored, lease_lost, ...
std::string_view to_string(JobOutcome outcome);

class JobRunner {
  public:
    // `claim_sent_at`: when the claim request left, the start of the lease on our clock.
    // `attempt`: how many times this worker has claimed the job, this claim included.
    // `metrics` counts what happens to the job; it must outlive the runner.
    JobRunner(const WorkerConfig& config, ApiClient& api, Metrics& metrics, Job job,
              const LeaseGrant& grant, SteadyClock::time_point claim_sent_at, int attempt,
              RenderFn render);
    JobRunner(const JobRunner&) = delete;
    JobRunner& operator=(const JobRunner&) = delete;

    // Blocks until the job is over. Never throws.
    JobOutcome run();

    // Shutdown: cancels the render with `reason` and abandons the job without a final status,
    // so its lease lapses and the API requeues it.
    void cancel(ErrorClass reason);

    const Job& job() const { return job_; }
    // Why the job was released (empty unless run() returned Released).
    const std::string& release_reason() const { return release_reason_; }

    // The render is still running past JOB_TIMEOUT_SEC and its grace period (it did not heed
    // the cancel): its lease is no longer renewed. Safe from any thread.
    bool stuck() const;
    // Seconds since JOB_TIMEOUT_SEC passed (0 before).
    std::int64_t seconds_past_timeout() const;

  private:
    media::RenderRequest build_request() const;
    // The steps of run(): tell the API, render with the heartbeat running, report the outcome.
    void post_rendering();
    std::optional<media::RenderResult> render_under_lease(std::optional<Error>& failure);
    // `fetch`: the job's frames still downloading, if any.
    std::optional<media::RenderResult> render_with_retries(const media::RenderRequest& request,
                                                           std::optional<Error>& failure,
                                                           const FrameFetch* fetch);
    JobOutcome report_rendered(const media::RenderResult& result,
                               const std::optional<std::filesystem::path>& report);
    JobOutcome report_failure(const Error& failure,
                              const std::optional<std::filesystem::path>& report);
    JobOutcome release(std::string reason);
    JobOutcome finish(JobOutcome outcome);
    void watch();
    bool deliver(const StatusUpdate& update);
    void log_lease_lost();
    void log_clock_skew() const;
    // Marks the work dir and the render's temp file as in use (their mtimes: what sweeps judge).
    void touch_job_files() const;
    double elapsed_sec() const;

    const WorkerConfig& config_;
    ApiClient& api_;
    Metrics& metrics_;
    const Job job_;
    const log::Context log_;
    const int attempt_;
    RenderFn render_;
    const SteadyClock::time_point claim_sent_at_;
    const LeasePolicy lease_policy_;
    const LeaseTerms claim_terms_;
    Lease lease_;
    std::string lease_expires_at_text_;
    const std::filesystem::path work_dir_;
    // What artifact_path reports when the artifact went to the job's output_url.
    std::optional<std::string> remote_artifact_;
    const SteadyClock::time_point started_;
    const SteadyClock::time_point renew_until_;
    std::atomic<bool> rendering_{false};

    media::CancelToken cancel_;
    StopFlag render_stop_;  // raised by any cancel: wakes back-off sleeps between attempts
    StopFlag abandon_;      // raised on shutdown cancel and lease loss: stops status delivery
    StopFlag watch_stop_;
    std::atomic<std::int64_t> frames_done_{0};
    std::atomic<std::int64_t> frames_total_{0};
    std::atomic<int> render_attempt_{0};
    std::atomic<bool> lease_lost_logged_{false};
    std::string release_reason_;
    // The render's temp file in OUTPUT_DIR (set by the render, read by the heartbeat thread):
    // touched with the work dir at each renewal, so no sweep takes a live job's file.
    mutable std::mutex temp_file_mutex_;
    mutable std::optional<std::filesystem::path> temp_file_;  // set through build_request()'s hook
};

}  // namespace renderer::worker

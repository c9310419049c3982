// The render worker (DESIGN.md §5): polls the job API with jitter, claims jobs while a slot is
// free and the disk has room, runs each claimed job on its own thread, and drains on stop.
// Usable in process: construct, run() on one thread, request_stop() from another.
#pragma once

#include <atomic>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "worker/api_client.h"
#include "worker/disk_monitor.h"
#include "worker/job_runner.h"
#include "worker/metrics.h"
#include "worker/metrics_server.h"
#include "worker/stop_flag.h"
#include "worker/worker_config.h"

namespace renderer::worker {

class Worker {
  public:
    struct Stats {
        int polls = 0;
        int jobs_claimed = 0;
        int max_in_flight = 0;  // most jobs running at once
    };

    // Finalizes and validates `config` (throws ConfigError). `render` defaults to
    // media::render_slideshow; `free_bytes` (what /readyz's disk check measures with) to statvfs.
    explicit Worker(WorkerConfig config, RenderFn render = {},
                    DiskMonitor::FreeBytesFn free_bytes = {});
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Blocks until request_stop() (or, with exit_when_idle_polls, until the queue stayed empty
    // with nothing running), drains running jobs, and returns the exit code (0). Throws
    // ConfigError when the directories are unusable.
    int run();

    // Stop claiming; running jobs get SHUTDOWN_GRACE_SEC to finish, then are cancelled. Safe
    // from any thread.
    void request_stop();
    // As request_stop(), but cancel running jobs now (a second SIGTERM).
    void request_stop_now();

    Stats stats() const;
    const WorkerConfig& config() const { return config_; }
    const Metrics& metrics() const { return metrics_; }
    // The port /livez, /readyz and /metrics are served on once run() has started them (0 before,
    // and when METRICS_ADDR is empty).
    int metrics_port() const;

    // /livez: the poll loop has ticked recently (or the worker is draining, which is progress).
    ProbeResult liveness() const;
    // /readyz: not draining, no render stuck past JOB_TIMEOUT_SEC, the job API answered
    // recently, and OUTPUT_DIR and TMP_DIR have at least MIN_FREE_BYTES free (as DiskMonitor
    // last measured: a stuck mount cannot hang the probe). The detail says which failed.
    ProbeResult readiness() const;

  private:
    struct Active {
        std::unique_ptr<JobRunner> runner;
        std::thread thread;
        bool done = false;                           // guarded by jobs_mutex_
        JobOutcome outcome = JobOutcome::Cancelled;  // once done
    };

    // Jobs whose render outlived JOB_TIMEOUT_SEC and its grace (ids, and seconds past the
    // timeout); also sets renderer_jobs_stuck.
    std::vector<std::pair<std::string, std::int64_t>> stuck_jobs() const;
    void prepare_directories();
    void start_metrics_server();
    // Removes temp files in OUTPUT_DIR and job dirs in TMP_DIR that no live job can own any more
    // (at start, then every sweep_interval() from the poll loop).
    void sweep_stale();
    std::chrono::milliseconds sweep_interval() const;
    void poll_once();
    bool disk_has_room();
    void start_job(Job job, const LeaseGrant& grant, SteadyClock::time_point sent_at);
    int running();
    bool is_active(const std::string& job_id);
    void reap();
    void drain();
    // After an idle exit: serve /metrics until a scrape has read the final counts (at most
    // FINAL_SCRAPE_WAIT_SEC; a stop request ends the wait).
    void wait_for_final_scrape();

    WorkerConfig config_;
    RenderFn render_;
    mutable Metrics metrics_;  // before api_: the client's retry hook counts into it
    std::unique_ptr<ApiClient> api_;
    std::unique_ptr<DiskMonitor> disk_monitor_;
    StopFlag stop_;
    std::atomic<bool> stop_now_{false};

    mutable std::mutex jobs_mutex_;
    std::condition_variable jobs_cv_;
    std::list<std::unique_ptr<Active>> active_;
    Stats stats_;  // guarded by jobs_mutex_

    // Health, read by the metrics server's threads: steady-clock times since epoch, 0 = never.
    std::atomic<SteadyClock::rep> last_tick_{0};
    std::atomic<SteadyClock::rep> last_api_answer_{0};
    std::atomic<int> metrics_port_{0};
    std::atomic<std::uint64_t> scrapes_{0};  // /metrics requests begun
    // Stopped first in ~Worker, so no probe or scrape runs against a half-destroyed worker.
    std::unique_ptr<MetricsServer> metrics_server_;

    int idle_polls_ = 0;
    SteadyClock::time_point next_sweep_{};
    // After a job is released for a problem of this machine, claims pause, longer each time
    // in a row (poll loop only).
    int released_in_a_row_ = 0;
    SteadyClock::time_point claims_paused_until_{};
    std::unordered_map<std::string, int> claims_by_job_;
    std::unordered_set<std::string> rejected_seen_;
    // Jobs refused in the last list (unsafe ids), listed again ahead of the rest; bounded so a
    // hostile API cannot make the lists grow without limit.
    static constexpr int kMaxRefusedListed = 100;
    int refused_listed_ = 0;
};

}  // namespace renderer::worker

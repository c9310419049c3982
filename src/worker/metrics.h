// The worker's Prometheus metrics: counters, gauges and one histogram, updated from any thread
// without locks on the hot paths, and written out in the Prometheus text format (0.0.4) for
// GET /metrics. Every name carries the `renderer_` prefix and its unit (`_seconds`, `_total`).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace renderer::worker {

class Counter {
  public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};

class Gauge {
  public:
    void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
    void add(std::int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
    std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::int64_t> value_{0};
};

// Observations counted into fixed buckets (ascending upper bounds; +Inf is implied).
class Histogram {
  public:
    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
        std::uint64_t count = 0;
        double sum = 0;
    };

    explicit Histogram(std::vector<double> upper_bounds);

    void observe(double value);
    // Count, sum and buckets taken together, so a scrape never sees them disagree.
    Snapshot snapshot() const;
    const std::vector<double>& upper_bounds() const { return bounds_; }

  private:
    const std::vector<double> bounds_;
    mutable std::mutex mutex_;
    std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), the last one is +Inf
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// Everything the worker counts. Labelled series are fixed sets that exist from the start at 0,
// so a rate() over them never starts from a missing series.
class Metrics {
  public:
    // renderer_jobs_total{outcome}: how claimed jobs ended.
    static constexpr std::array<std::string_view, 6> kOutcomes{
        "rendered", "errored", "lease_lost", "cancelled", "undelivered", "released"};
    // renderer_http_retries_total{request}: which API call was retried.
    static constexpr std::array<std::string_view, 4> kRequests{"list", "claim", "heartbeat",
                                                               "status"};
    // renderer_job_failures_total{error_class}: why errored jobs failed (common/error.h's
    // classes; anything else counts as "other").
    static constexpr std::array<std::string_view, 8> kErrorClasses{
        "PreflightError", "DecodeError", "EncodeError", "IoError",
        "Timeout",        "ConfigError", "ApiError",    "other"};
    // renderer_render_stage_duration_seconds{stage}: media::RenderResult::Stages.
    static constexpr std::array<std::string_view, 4> kStages{"preflight", "decode_wait", "encode",
                                                             "publish"};
    // renderer_disk_free_bytes{dir}
    static constexpr std::array<std::string_view, 2> kDirs{"output", "tmp"};

    Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Throws std::out_of_range for a label value not in the fixed set.
    Counter& jobs(std::string_view outcome);
    const Counter& jobs(std::string_view outcome) const;
    Counter& http_retries(std::string_view request);
    const Counter& http_retries(std::string_view request) const;
    // renderer_api_call_duration_seconds{request}: first attempt to final answer, seconds.
    Histogram& api_call_duration(std::string_view request);
    Counter& failures(std::string_view error_class);  // unknown classes count as "other"
    Histogram& stage_duration(std::string_view stage);
    Gauge& disk_free_bytes(std::string_view dir);

    Counter polls_ok;
    Counter polls_failed;
    Counter jobs_claimed;
    Histogram render_duration;  // seconds, renders that encoded (cache hits are counted apart)
    Counter render_cache_hits;
    Counter frames_encoded;
    Gauge queue_depth;  // as the API reported it on the last successful poll
    Gauge jobs_in_flight;
    // Renders still running past JOB_TIMEOUT_SEC and its grace period: deaf to the cancel, their
    // leases no longer renewed. Each holds a slot until it ends; a restart frees it.
    Gauge jobs_stuck;
    Counter lease_renewals;
    Counter lease_losses;
    // Heartbeats that did not extend the lease (no answer, 5xx after retries, refused): the
    // early warning before lease losses.
    Counter heartbeat_failures;
    // JOB_TIMEOUT_SEC, so an alert can compare render times with it.
    Gauge job_timeout_seconds;

    // The whole set in the Prometheus text exposition format, ending with a newline.
    std::string exposition() const;

  private:
    std::array<Counter, kOutcomes.size()> jobs_;
    std::array<Counter, kRequests.size()> http_retries_;
    std::array<Histogram, kRequests.size()> api_call_duration_;
    std::array<Counter, kErrorClasses.size()> failures_;
    std::array<Histogram, kStages.size()> stage_duration_;
    std::array<Gauge, kDirs.size()> disk_free_;
};

// The standard process_* series (Prometheus client conventions) read from /proc/self at each
// scrape: resident and virtual memory, CPU seconds, open and maximum file descriptors, start time.
std::string process_metrics_exposition();

// The Content-Type /metrics answers with.
inline constexpr const char* kPrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace renderer::worker

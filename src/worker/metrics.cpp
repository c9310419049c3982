#include "worker/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "renderer_version.h"

namespace renderer::worker {
namespace {

// From sub-second test renders to the half hour JOB_TIMEOUT_SEC allows by default.
const std::vector<double> kRenderBuckets{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800};
// From a loopback answer to a call that spent its retry budget against a failing API.
// A stage takes from milliseconds (preflight, publish) to most of a render (encode).
const std::vector<double> kStageBuckets{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800};
const std::vector<double> kApiCallBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10,   30};

template <std::size_t N>
std::size_t index_of(const std::array<std::string_view, N>& values, std::string_view v,
                     const char* family) {
    const auto it = std::find(values.begin(), values.end(), v);
    if (it == values.end()) {
        throw std::out_of_range(fmt::format("{}: no series for label value '{}'", family, v));
    }
    return static_cast<std::size_t>(it - values.begin());
}

// The text format escapes backslash, newline and (in label values) the double quote.
std::string escape(std::string_view text, bool label_value) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && label_value) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
    return out;
}

// Writes families one at a time: the HELP and TYPE lines, then the samples.
class TextWriter {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name,
                       escape(help, false), name, type);
    }

    template <typename T>
    void sample(std::string_view name, T value, std::string_view label = {},
                std::string_view label_value = {}) {
        if (label.empty()) {
            fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
        } else {
            fmt::format_to(std::back_inserter(out_), "{}{{{}=\"{}\"}} {}\n", name, label,
                           escape(label_value, true), value);
        }
    }

    void counter(std::string_view name, std::string_view help, const Counter& c) {
        family(name, "counter", help);
        sample(name, c.value());
    }

    void gauge(std::string_view name, std::string_view help, const Gauge& g) {
        family(name, "gauge", help);
        sample(name, g.value());
    }

    void histogram(std::string_view name, std::string_view help, const Histogram& h) {
        family(name, "histogram", help);
        series(name, h, {}, {});
    }

    // One family, one histogram per value of `label`.
    template <std::size_t N>
    void histograms(std::string_view name, std::string_view help, std::string_view label,
                    const std::array<std::string_view, N>& values,
                    const std::array<Histogram, N>& hs) {
        family(name, "histogram", help);
        for (std::size_t i = 0; i < N; ++i) series(name, hs[i], label, values[i]);
    }

    std::string take() { return std::move(out_); }

  private:
    // A histogram's buckets, sum and count, with `label` (if any) before `le`.
    void series(std::string_view name, const Histogram& h, std::string_view label,
                std::string_view value) {
        const auto snap = h.snapshot();
        const auto& bounds = h.upper_bounds();
        const std::string prefix =
            label.empty() ? std::string() : fmt::format("{}=\"{}\",", label, escape(value, true));
        const auto bucket = [&](std::string_view le, std::uint64_t n) {
            fmt::format_to(std::back_inserter(out_), "{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix,
                           le, n);
        };
        for (std::size_t i = 0; i < bounds.size(); ++i)
            bucket(fmt::format("{}", bounds[i]), snap.cumulative[i]);
        bucket("+Inf", snap.cumulative.back());
        const std::string labels = label.empty()
                                       ? std::string()
                                       : fmt::format("{{{}=\"{}\"}}", label, escape(value, true));
        fmt::format_to(std::back_inserter(out_), "{}_sum{} {}\n{}_count{} {}\n", name, labels,
                       snap.sum, name, labels, snap.count);
    }

    std::string out_;
};

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()))
        throw std::invalid_argument("histogram bounds must ascend");
}

void Histogram::observe(double value) {
    // `le` buckets: the first bound the value does not exceed.
    const auto i = static_cast<std::size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    std::lock_guard lock(mutex_);
    ++counts_[i];
    ++count_;
    sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    std::lock_guard lock(mutex_);
    std::uint64_t running = 0;
    for (const auto c : counts_) s.cumulative.push_back(running += c);
    s.count = count_;
    s.sum = sum_;
    return s;
}

Metrics::Metrics()
    : render_duration(kRenderBuckets),
      api_call_duration_{Histogram(kApiCallBuckets), Histogram(kApiCallBuckets),
                         Histogram(kApiCallBuckets), Histogram(kApiCallBuckets)},
      stage_duration_{Histogram(kStageBuckets), Histogram(kStageBuckets), Histogram(kStageBuckets),
                      Histogram(kStageBuckets)} {}

Counter& Metrics::failures(std::string_view error_class) {
    const auto it = std::find(kErrorClasses.begin(), kErrorClasses.end(), error_class);
    return failures_[it == kErrorClasses.end()
                         ? kErrorClasses.size() - 1
                         : static_cast<std::size_t>(it - kErrorClasses.begin())];
}

Histogram& Metrics::stage_duration(std::string_view stage) {
    return stage_duration_[index_of(kStages, stage, "renderer_render_stage_duration_seconds")];
}

Gauge& Metrics::disk_free_bytes(std::string_view dir) {
    return disk_free_[index_of(kDirs, dir, "renderer_disk_free_bytes")];
}

Histogram& Metrics::api_call_duration(std::string_view request) {
    return api_call_duration_[index_of(kRequests, request, "renderer_api_call_duration_seconds")];
}

Counter& Metrics::jobs(std::string_view outcome) {
    return jobs_[index_of(kOutcomes, outcome, "renderer_jobs_total")];
}

Counter& Metrics::http_retries(std::string_view request) {
    return http_retries_[index_of(kRequests, request, "renderer_http_retries_total")];
}

const Counter& Metrics::jobs(std::string_view outcome) const {
    return jobs_[index_of(kOutcomes, outcome, "renderer_jobs_total")];
}

const Counter& Metrics::http_retries(std::string_view request) const {
    return http_retries_[index_of(kRequests, request, "renderer_http_retries_total")];
}

std::string Metrics::exposition() const {
    TextWriter w;
    w.family("renderer_build_info", "gauge", "Always 1; the version label says which build runs");
    w.sample("renderer_build_info", 1, "version", RENDERER_VERSION);

    w.family("renderer_polls_total", "counter", "Polls of the job API, by result");
    w.sample("renderer_polls_total", polls_ok.value(), "result", "ok");
    w.sample("renderer_polls_total", polls_failed.value(), "result", "failed");

    w.gauge("renderer_queue_depth", "Queued jobs as the job API reported on the last poll",
            queue_depth);
    w.gauge("renderer_jobs_in_flight", "Jobs this worker is running now", jobs_in_flight);
    w.gauge("renderer_jobs_stuck",
            "Renders running past JOB_TIMEOUT_SEC plus grace whose leases are no longer renewed",
            jobs_stuck);
    w.counter("renderer_jobs_claimed_total", "Jobs this worker claimed", jobs_claimed);

    w.family("renderer_jobs_total", "counter", "Claimed jobs that ended, by outcome");
    for (std::size_t i = 0; i < kOutcomes.size(); ++i)
        w.sample("renderer_jobs_total", jobs_[i].value(), "outcome", kOutcomes[i]);

    w.histogram("renderer_render_duration_seconds",
                "Wall time of renders that encoded an MP4 (render cache hits excluded)",
                render_duration);
    w.counter("renderer_render_cache_hits_total",
              "Renders answered from an existing identical MP4 without encoding",
              render_cache_hits);
    w.counter("renderer_frames_encoded_total", "Video frames encoded", frames_encoded);
    w.counter("renderer_lease_renewals_total", "Heartbeats that extended a lease", lease_renewals);
    w.counter("renderer_lease_losses_total",
              "Leases lost (refused heartbeat or status, or deadline passed)", lease_losses);

    w.counter("renderer_heartbeat_failures_total",
              "Heartbeats that did not extend the lease (no answer, error, refused)",
              heartbeat_failures);
    w.gauge("renderer_job_timeout_seconds", "JOB_TIMEOUT_SEC: renders are cancelled past it",
            job_timeout_seconds);
    w.family("renderer_job_failures_total", "counter",
             "Jobs that ended errored, by error_class (reported to the API or not)");
    for (std::size_t i = 0; i < kErrorClasses.size(); ++i)
        w.sample("renderer_job_failures_total", failures_[i].value(), "error_class",
                 kErrorClasses[i]);
    w.histograms("renderer_render_stage_duration_seconds",
                 "Time per stage of renders that encoded: preflight, decode_wait (the encoder "
                 "waiting for decoded frames), encode, publish",
                 "stage", kStages, stage_duration_);
    w.family("renderer_disk_free_bytes", "gauge",
             "Free bytes for the worker's user in OUTPUT_DIR and TMP_DIR, as last measured");
    for (std::size_t i = 0; i < kDirs.size(); ++i)
        w.sample("renderer_disk_free_bytes", disk_free_[i].value(), "dir", kDirs[i]);
    w.family("renderer_http_retries_total", "counter",
             "Job API requests retried after a network error, 5xx, 429 or 409, by request");
    for (std::size_t i = 0; i < kRequests.size(); ++i)
        w.sample("renderer_http_retries_total", http_retries_[i].value(), "request", kRequests[i]);
    w.histograms("renderer_api_call_duration_seconds",
                 "Job API calls from the first attempt to the final answer, retries and back-off "
                 "included, by request",
                 "request", kRequests, api_call_duration_);
    return w.take();
}

std::string process_metrics_exposition() {
    TextWriter w;
    // /proc/self/stat: the fields after the command name, which is in parentheses and may hold
    // spaces; utime and stime are fields 14 and 15, starttime 22, vsize 23, rss 24 (proc(5)).
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    const auto close = stat.rfind(')');
    std::vector<std::string> fields;
    if (close != std::string::npos) {
        std::istringstream rest(stat.substr(close + 2));
        for (std::string f; rest >> f;) fields.push_back(f);
    }
    // fields[0] is field 3 (state).
    const auto field = [&](std::size_t n) -> double {
        return n - 3 < fields.size() ? std::strtod(fields[n - 3].c_str(), nullptr) : 0;
    };
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    double boot_time = 0;
    std::ifstream proc_stat("/proc/stat");
    for (std::string line; std::getline(proc_stat, line);) {
        if (line.rfind("btime ", 0) == 0) boot_time = std::strtod(line.c_str() + 6, nullptr);
    }
    std::int64_t open_fds = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec))
        ++open_fds;
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);

    w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds");
    w.sample("process_cpu_seconds_total", (field(14) + field(15)) / ticks);
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
    w.sample("process_resident_memory_bytes", static_cast<std::int64_t>(field(24) * page));
    w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes");
    w.sample("process_virtual_memory_bytes", static_cast<std::int64_t>(field(23)));
    w.family("process_open_fds", "gauge", "Number of open file descriptors");
    w.sample("process_open_fds", open_fds - 1);  // less the one the iteration itself holds
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors");
    w.sample("process_max_fds", static_cast<std::int64_t>(files.rlim_cur));
    w.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds");
    w.sample("process_start_time_seconds", boot_time + field(22) / ticks);
    return w.take();
}

}  // namespace renderer::worker

// Health and metrics: a worker run in process against the reference job API with METRICS_ADDR on
// a free loopback port, scraped over real HTTP. /metrics must count what happened and pass
// `promtool check metrics` (Debian's prometheus package); /livez and /readyz must say why they
// fail; `renderer healthcheck` must exit 0 or 1 as Docker's HEALTHCHECK expects.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "common/error.h"
#include "common/paths.h"
#include "media/slideshow.h"
#include "renderer_version.h"
#include "support/process.h"
#include "support/worker_fixture.h"
#include "worker/metrics.h"
#include "worker/metrics_server.h"

namespace renderer::testing {
namespace {

using namespace std::chrono_literals;
using worker::Worker;

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// A worker running on its own thread with its metrics server up; stopped and joined at the end.
class RunningWorker {
  public:
    explicit RunningWorker(Worker& w) : worker_(w) {
        thread_ = std::thread([this] { rc_ = worker_.run(); });
        EXPECT_TRUE(wait_until([this] { return worker_.metrics_port() != 0; }, 10s))
            << "the metrics server did not start";
    }
    ~RunningWorker() {
        worker_.request_stop();
        thread_.join();
        EXPECT_EQ(rc_, 0);
    }
    RunningWorker(const RunningWorker&) = delete;
    RunningWorker& operator=(const RunningWorker&) = delete;

    int port() const { return worker_.metrics_port(); }

    struct Answer {
        int status = 0;
        std::string body;
        std::string content_type;
    };
    Answer get(const std::string& path) const {
        httplib::Client client("127.0.0.1", port());
        client.set_connection_timeout(5);
        client.set_read_timeout(5);
        const auto res = client.Get(path.c_str());
        if (!res) return {};
        return {res->status, res->body, res->get_header_value("Content-Type")};
    }

  private:
    Worker& worker_;
    std::thread thread_;
    int rc_ = -1;
};

// The value of one sample line (`name{labels} value`), or NaN when the series is absent.
double sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return std::nan("");
}

std::optional<std::string> find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const auto candidate = fs::path(dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return std::nullopt;
}

// Runs `promtool check metrics` on `text`; fails the test (never skips) without promtool.
void expect_promtool_accepts(const std::string& text, const fs::path& scratch) {
    const auto promtool = find_in_path("promtool");
    ASSERT_TRUE(promtool) << "promtool not found in PATH: install Debian's `prometheus` package "
                             "(scripts/deps.sh does); the /metrics format is checked with it";
    const auto file = scratch / "metrics.txt";
    std::ofstream(file) << text;
    const auto r = run_process(
        {"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", *promtool, file.string()}, {}, 60s);
    EXPECT_EQ(r.exit_code, 0) << "promtool check metrics:\n" << r.out << r.err << "\non:\n" << text;
}

worker::WorkerConfig with_metrics(worker::WorkerConfig c) {
    c.metrics_addr = "127.0.0.1:0";
    return c;
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndLabelsFixed) {
    worker::Histogram h({1, 5});
    h.observe(0.5);
    h.observe(1);  // `le` is inclusive
    h.observe(3);
    h.observe(100);
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4}));
    EXPECT_EQ(s.count, 4u);
    EXPECT_DOUBLE_EQ(s.sum, 104.5);

    worker::Metrics m;
    m.jobs("rendered").inc();
    EXPECT_THROW(m.jobs("exploded"), std::out_of_range);
    const auto text = m.exposition();
    // Every labelled series exists from the start, at 0.
    for (const auto outcome : worker::Metrics::kOutcomes) {
        EXPECT_FALSE(
            std::isnan(sample(text, fmt::format("renderer_jobs_total{{outcome=\"{}\"}}", outcome))))
            << outcome;
    }
    EXPECT_EQ(sample(text, "renderer_jobs_total{outcome=\"rendered\"}"), 1);
    EXPECT_EQ(sample(text, "renderer_render_duration_seconds_bucket{le=\"+Inf\"}"), 0);
}

TEST(MetricsTest, ListenAddresses) {
    using worker::local_base_url;
    using worker::parse_listen_address;
    const auto a = parse_listen_address("0.0.0.0:9090");
    EXPECT_EQ(a.host, "0.0.0.0");
    EXPECT_EQ(a.port, 9090);
    EXPECT_EQ(local_base_url(a), "http://127.0.0.1:9090");
    EXPECT_EQ(local_base_url(parse_listen_address(":9091")), "http://127.0.0.1:9091");
    EXPECT_EQ(local_base_url(parse_listen_address("[::]:9090")), "http://[::1]:9090");
    EXPECT_EQ(local_base_url(parse_listen_address("10.1.2.3:80")), "http://10.1.2.3:80");
    for (const char* bad : {"9090", "host:", "host:99999", "::1:9090", "[::1]9090", "h:x"}) {
        try {
            parse_listen_address(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::ConfigError) << bad;
            EXPECT_NE(std::string(e.what()).find("METRICS_ADDR"), std::string::npos);
        }
    }
}

TEST(MetricsTest, BusyPortIsAConfigError) {
    worker::MetricsServer first({"127.0.0.1", 0}, {});
    const int port = first.start();
    worker::MetricsServer second({"127.0.0.1", port}, {});
    try {
        second.start();
        ADD_FAILURE() << "a second server bound the same port";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
    }
}

TEST(MetricsTest, ScrapeAfterRendersCountsJobsFramesAndPassesPromtool) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    env.add_story("demo", "part2", "part2");
    env.add_job("demo", "part1");
    env.add_job("demo", "part2");

    Worker w(with_metrics(env.config()));
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return env.all_final(); }, 120s));
    // The gauges settle on the next poll after the last job.
    ASSERT_TRUE(wait_until([&] { return w.metrics().jobs_in_flight.value() == 0; }, 10s));
    const auto polls = w.metrics().polls_ok.value();
    ASSERT_TRUE(wait_until([&] { return w.metrics().polls_ok.value() > polls + 1; }, 10s));

    const auto scrape = running.get("/metrics");
    ASSERT_EQ(scrape.status, 200);
    EXPECT_EQ(scrape.content_type, worker::kPrometheusTextType);
    const auto& text = scrape.body;
    EXPECT_EQ(sample(text, "renderer_jobs_total{outcome=\"rendered\"}"), 2) << text;
    EXPECT_EQ(sample(text, "renderer_jobs_total{outcome=\"errored\"}"), 0);
    EXPECT_EQ(sample(text, "renderer_jobs_claimed_total"), 2);
    EXPECT_EQ(sample(text, "renderer_frames_encoded_total"), 60 + 45);
    EXPECT_EQ(sample(text, "renderer_render_duration_seconds_count"), 2);
    EXPECT_EQ(sample(text, "renderer_render_duration_seconds_bucket{le=\"+Inf\"}"), 2);
    EXPECT_GT(sample(text, "renderer_render_duration_seconds_sum"), 0);
    EXPECT_EQ(sample(text, "renderer_queue_depth"), 0);
    EXPECT_EQ(sample(text, "renderer_jobs_in_flight"), 0);
    EXPECT_GE(sample(text, "renderer_polls_total{result=\"ok\"}"), 3);
    EXPECT_EQ(sample(text, "renderer_lease_losses_total"), 0);
    EXPECT_EQ(sample(text, "renderer_build_info{version=\"" RENDERER_VERSION "\"}"), 1);
    // How long each kind of API call took, retries included: two claims, a `rendering` and a
    // `rendered` per job, a list per poll.
    EXPECT_EQ(sample(text, "renderer_api_call_duration_seconds_count{request=\"claim\"}"), 2);
    EXPECT_EQ(
        sample(text, "renderer_api_call_duration_seconds_bucket{request=\"claim\",le=\"+Inf\"}"),
        2);
    EXPECT_EQ(sample(text, "renderer_api_call_duration_seconds_count{request=\"status\"}"), 4);
    EXPECT_GE(sample(text, "renderer_api_call_duration_seconds_count{request=\"list\"}"), 3);
    EXPECT_GT(sample(text, "renderer_api_call_duration_seconds_sum{request=\"list\"}"), 0);
    // Issue 18.6: where the time went, per stage, for each render that encoded.
    for (const auto stage : worker::Metrics::kStages) {
        EXPECT_EQ(
            sample(text, fmt::format("renderer_render_stage_duration_seconds_count{{stage=\"{}\"}}",
                                     stage)),
            2)
            << stage;
    }
    EXPECT_GT(sample(text, "renderer_render_stage_duration_seconds_sum{stage=\"encode\"}"), 0);
    EXPECT_EQ(sample(text, "renderer_job_failures_total{error_class=\"DecodeError\"}"), 0);
    EXPECT_EQ(sample(text, "renderer_heartbeat_failures_total"), 0);
    EXPECT_EQ(sample(text, "renderer_job_timeout_seconds"), env.config().job_timeout_sec);
    // The process itself, as every Prometheus client library names it, and the disks.
    EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1 << 20);
    EXPECT_GT(sample(text, "process_cpu_seconds_total"), 0);
    EXPECT_GT(sample(text, "process_open_fds"), 2);
    EXPECT_GE(sample(text, "process_max_fds"), sample(text, "process_open_fds"));
    EXPECT_GT(sample(text, "process_start_time_seconds"), 1.5e9);
    EXPECT_GT(sample(text, "renderer_disk_free_bytes{dir=\"output\"}"), 0);
    EXPECT_GT(sample(text, "renderer_disk_free_bytes{dir=\"tmp\"}"), 0);
    expect_promtool_accepts(text, env.dir.path());
    env.expect_no_secret_logged();
}

// Issue 18.6: failures counted by error_class, so an on-call engineer sees bad input apart from a
// broken encoder or a full disk.
// Issue 18's ScaledJob path: each pod's worker exits (--exit-when-idle) one poll after its last
// job, seconds after the outcome counters moved, while Prometheus scrapes every 30 s: the pod
// was gone before a scrape saw the job end, so renderer_jobs_total, the failures and the render
// durations of most jobs were never recorded, and the alerts on them could not fire.
TEST(MetricsTest, AWorkerExitingWhenIdleServesItsFinalCountsToAScrapeFirst) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    env.add_job("demo", "part1");
    auto cfg = with_metrics(env.config());
    cfg.exit_when_idle_polls = 1;
    cfg.final_scrape_wait_sec = 120;
    Worker w(cfg);
    std::atomic<bool> returned{false};
    std::thread thread([&] {
        EXPECT_EQ(w.run(), 0);
        returned = true;
    });
    // Either the worker says it waits for the scrape, or (the defect) it has already stopped.
    const bool waiting = wait_until(
        [&] { return env.has_event("final_scrape_wait") || env.has_event("stopped"); }, 120s);
    std::optional<int> status;
    std::string body;
    if (waiting) {
        httplib::Client client("127.0.0.1", w.metrics_port());
        client.set_connection_timeout(5);
        client.set_read_timeout(5);
        if (const auto res = client.Get("/metrics")) {
            status = res->status;
            body = res->body;
        }
    }
    const bool ended = wait_until([&] { return returned.load(); }, 30s);
    if (!ended) w.request_stop();
    thread.join();
    ASSERT_TRUE(waiting) << "the worker neither finished its job nor stopped";
    ASSERT_EQ(status.value_or(0), 200)
        << "the worker stopped serving /metrics before any scrape saw its "
           "final counts";
    EXPECT_EQ(sample(body, "renderer_jobs_total{outcome=\"rendered\"}"), 1) << body;
    EXPECT_EQ(sample(body, "renderer_jobs_in_flight"), 0) << body;
    EXPECT_TRUE(ended) << "the scrape must end the wait";
    EXPECT_EQ(env.history("demo-part1").back(), "rendered");
}

TEST(MetricsTest, FailuresAreCountedByErrorClass) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    env.add_job("demo", "part1");
    env.add_job("missing", "part1");  // no frames: PreflightError
    Worker w(with_metrics(env.config()));
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return env.all_final(); }, 120s));
    ASSERT_TRUE(wait_until([&] { return w.metrics().jobs_in_flight.value() == 0; }, 10s));
    const auto text = running.get("/metrics").body;
    EXPECT_EQ(sample(text, "renderer_job_failures_total{error_class=\"PreflightError\"}"), 1)
        << text;
    EXPECT_EQ(sample(text, "renderer_job_failures_total{error_class=\"DecodeError\"}"), 0);
    EXPECT_EQ(sample(text, "renderer_jobs_total{outcome=\"errored\"}"), 1);
    EXPECT_EQ(sample(text, "renderer_jobs_total{outcome=\"rendered\"}"), 1);
    expect_promtool_accepts(text, env.dir.path());
}

TEST(MetricsTest, QueueDepthInFlightRenewalsAndLossesAreCounted) {
    devapi::ApiServer::Options o;
    o.heartbeat_refuse_after = 3;  // the third heartbeat on a lease is answered 410
    WorkerEnv env(o);
    env.add_story("slow", "p1", "part1");
    env.add_story("queued", "p1", "part1");
    devapi::JobSpec spec;
    spec.lease_seconds = 1;  // a heartbeat every ~333 ms; whichever job is claimed first
    env.add_job("slow", "p1", spec);
    env.add_job("queued", "p1", spec);

    // Holds the render until the lease is lost (the cancel comes from the refused heartbeat).
    worker::RenderFn hold = [](const media::RenderRequest&, const log::Context&,
                               const media::CancelToken& cancel, const media::ProgressFn&,
                               const std::function<bool()>&) -> media::RenderResult {
        wait_until([&] { return cancel.cancelled(); }, 30s);
        throw Error(ErrorClass::Cancelled, "held render cancelled");
    };
    auto cfg = with_metrics(env.config());
    cfg.max_concurrent = 1;
    cfg.shutdown_grace_sec = 0;
    Worker w(cfg, hold);
    RunningWorker running(w);

    // While the first job is held, the other one waits in the queue.
    ASSERT_TRUE(wait_until([&] { return w.metrics().jobs_in_flight.value() == 1; }, 20s));
    ASSERT_TRUE(wait_until([&] { return w.metrics().queue_depth.value() == 1; }, 10s));
    auto text = running.get("/metrics").body;
    EXPECT_EQ(sample(text, "renderer_jobs_in_flight"), 1) << text;
    EXPECT_EQ(sample(text, "renderer_queue_depth"), 1);

    ASSERT_TRUE(wait_until([&] { return w.metrics().lease_losses.value() >= 1; }, 30s));
    ASSERT_TRUE(wait_until([&] { return w.metrics().jobs("lease_lost").value() >= 1; }, 10s));
    text = running.get("/metrics").body;
    EXPECT_GE(sample(text, "renderer_lease_renewals_total"), 2) << text;
    EXPECT_GE(sample(text, "renderer_lease_losses_total"), 1);
    EXPECT_GE(sample(text, "renderer_heartbeat_failures_total"), 1) << "the refused heartbeat";
    EXPECT_GE(sample(text, "renderer_jobs_total{outcome=\"lease_lost\"}"), 1);
    EXPECT_EQ(sample(text, "renderer_frames_encoded_total"), 0);
    expect_promtool_accepts(text, env.dir.path());
}

TEST(MetricsTest, HttpRetriesMatchTheRetryLogLines) {
    devapi::ApiServer::Options o;
    o.fail_rate = 0.4;
    o.seed = 7;
    WorkerEnv env(o);
    env.add_story("demo", "part2", "part2");
    env.add_job("demo", "part2");

    Worker w(with_metrics(env.config()));
    std::string text;
    {
        RunningWorker running(w);
        ASSERT_TRUE(wait_until([&] { return env.all_final(); }, 120s));
        ASSERT_TRUE(wait_until([&] { return w.metrics().jobs_in_flight.value() == 0; }, 10s));
        text = running.get("/metrics").body;
    }
    double retries = 0;
    for (const auto request : worker::Metrics::kRequests)
        retries +=
            sample(text, fmt::format("renderer_http_retries_total{{request=\"{}\"}}", request));
    EXPECT_GT(retries, 0) << text;
    // Scraped before the worker stopped, so later polls may have retried once more.
    EXPECT_LE(retries, env.count_events("retry"));
    EXPECT_EQ(sample(text, "renderer_jobs_total{outcome=\"rendered\"}"), 1);
    expect_promtool_accepts(text, env.dir.path());
}

TEST(HealthTest, ReadyOnceTheApiAnswersAndLiveThroughout) {
    WorkerEnv env;
    Worker w(with_metrics(env.config()));
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return w.metrics().polls_ok.value() > 0; }, 10s));
    const auto live = running.get("/livez");
    EXPECT_EQ(live.status, 200);
    EXPECT_EQ(live.body, "ok\n");
    const auto ready = running.get("/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.body, "ok\n");
    EXPECT_EQ(running.get("/nothing-here").status, 404);
}

TEST(HealthTest, NotReadyWhileTheApiIsUnreachable) {
    WorkerEnv env;
    auto cfg = with_metrics(env.config());
    env.api().stop();  // nothing listens on the API's port any more
    Worker w(cfg);
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return w.metrics().polls_failed.value() > 0; }, 30s));
    const auto ready = running.get("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("api:"), std::string::npos) << ready.body;
    EXPECT_EQ(running.get("/livez").status, 200) << "an unreachable API is not a reason to restart";
}

TEST(HealthTest, NotReadyWhenTheDiskIsLow) {
    WorkerEnv env;
    auto cfg = with_metrics(env.config());
    cfg.min_free_bytes = std::uint64_t{1} << 60;  // more than any disk has
    Worker w(cfg);
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return w.metrics().polls_ok.value() > 0; }, 10s));
    const auto ready = running.get("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("disk_low"), std::string::npos) << ready.body;
    EXPECT_EQ(running.get("/livez").status, 200);
}

TEST(HealthTest, NotReadyButLiveWhileDraining) {
    WorkerEnv env;
    env.add_story("demo", "part2", "part2");
    env.add_job("demo", "part2");
    std::atomic<bool> release{false};
    std::atomic<bool> rendering{false};
    worker::RenderFn held = [&](const media::RenderRequest& req, const log::Context& log,
                                const media::CancelToken& cancel, const media::ProgressFn& progress,
                                const std::function<bool()>& gate) {
        rendering = true;
        wait_until([&] { return release.load() || cancel.cancelled(); }, 30s);
        return media::render_slideshow(req, log, cancel, progress, gate);
    };
    auto cfg = with_metrics(env.config());
    cfg.shutdown_grace_sec = 30;
    Worker w(cfg, held);
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return rendering.load(); }, 20s));
    EXPECT_EQ(running.get("/readyz").status, 200);

    w.request_stop();  // as SIGTERM does: the held job keeps the worker draining
    const auto ready = running.get("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("draining"), std::string::npos) << ready.body;
    const auto live = running.get("/livez");
    EXPECT_EQ(live.status, 200);
    EXPECT_NE(live.body.find("draining"), std::string::npos) << live.body;
    release = true;
    ASSERT_TRUE(wait_until([&] { return env.all_final(); }, 60s));
    EXPECT_EQ(env.history("demo-part2").back(), "rendered");
}

TEST(HealthTest, AHungRenderStopsBeingRenewedAndShowsInReadyzAndMetrics) {
    // Issue 11.6: heartbeats renewed the lease of a render that ignored JOB_TIMEOUT_SEC (the
    // timeout only raises a flag checked between frames), so a hung render kept its job forever.
    // Renewal now stops at JOB_TIMEOUT_SEC plus a grace period (one lease); the lease lapses and
    // the API requeues the job; /readyz and renderer_jobs_stuck show the stuck job meanwhile.
    WorkerEnv env;
    const auto id = env.add_slow_job(2);
    std::atomic<bool> release{false};
    worker::RenderFn hung = [&](const media::RenderRequest& req, const log::Context& log,
                                const media::CancelToken& cancel, const media::ProgressFn& progress,
                                const std::function<bool()>& gate) {
        // Deaf to the cancel token, as a render stuck in a system call would be.
        wait_until([&] { return release.load(); }, 120s);
        return media::render_slideshow(req, log, cancel, progress, gate);
    };
    auto cfg = with_metrics(env.config());
    cfg.job_timeout_sec = 1;
    Worker w(cfg, hung);
    RunningWorker running(w);
    const auto requeued = [&] {
        const auto j = env.job(id);
        return j && j->lease_expirations > 0;
    };
    ASSERT_TRUE(wait_until(requeued, 60s)) << "the hung render's lease must lapse";
    EXPECT_EQ(env.history(id),
              (std::vector<std::string>{"queued", "claimed", "rendering", "queued"}));
    EXPECT_TRUE(env.has_event("job_stuck"));
    const auto ready = running.get("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("stuck"), std::string::npos) << ready.body;
    EXPECT_NE(ready.body.find(id), std::string::npos) << ready.body;
    EXPECT_EQ(running.get("/livez").status, 200) << "the poll loop itself is fine";
    EXPECT_EQ(sample(running.get("/metrics").body, "renderer_jobs_stuck"), 1);

    release = true;  // the render wakes up to a lost lease: nothing is published
    ASSERT_TRUE(wait_until([&] { return w.metrics().jobs_in_flight.value() == 0; }, 60s));
    EXPECT_EQ(sample(running.get("/metrics").body, "renderer_jobs_stuck"), 0);
    EXPECT_EQ(sample(running.get("/metrics").body, "renderer_jobs_total{outcome=\"lease_lost\"}"),
              1);
    EXPECT_TRUE(env.outputs().empty());
    for (const auto& s : env.history(id)) EXPECT_NE(s, "rendered");
    EXPECT_TRUE(wait_until([&] { return running.get("/readyz").status == 200; }, 10s));
}

// Issue 18.5: /readyz called statvfs on OUTPUT_DIR itself. On a stuck NFS mount statvfs never
// returns, so every readiness probe held a health-server thread for good: after a few probes
// /livez timed out too and the kubelet restarted a worker whose only problem was its storage.
TEST(HealthTest, AStuckMountCannotHangTheProbes) {
    WorkerEnv env;
    std::mutex mutex;
    std::condition_variable cv;
    bool unstuck = false;
    std::atomic<bool> stuck{false};
    const auto output_dir = env.config().paths.output_dir;
    // statvfs of OUTPUT_DIR blocks (as on a dead NFS server) once `stuck` is set.
    worker::DiskMonitor::FreeBytesFn free_bytes = [&](const fs::path& dir) {
        if (dir == output_dir && stuck) {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return unstuck; });
        }
        return renderer::free_bytes(dir);
    };
    Worker w(with_metrics(env.config()), {}, free_bytes);
    {
        RunningWorker running(w);
        ASSERT_TRUE(wait_until([&] { return running.get("/readyz").status == 200; }, 30s));
        stuck = true;
        // More probes than the server has threads (8), one after another as a kubelet sends them.
        std::string last;
        bool reported = false;
        for (int i = 0; i < 40 && !reported; ++i) {
            const auto ready = running.get("/readyz");
            ASSERT_NE(ready.status, 0) << "probe " << i << " got no answer: it hung";
            last = ready.body;
            reported = ready.status == 503 &&
                       ready.body.find("disk_check: statvfs of OUTPUT_DIR") != std::string::npos;
            EXPECT_EQ(running.get("/livez").status, 200) << "probe " << i;
            std::this_thread::sleep_for(250ms);
        }
        EXPECT_TRUE(reported) << "the stuck measurement is never reported; last answer: " << last;
        EXPECT_NE(last.find("stuck mount"), std::string::npos) << last;
        EXPECT_EQ(running.get("/metrics").status, 200);
        {
            std::lock_guard lock(mutex);
            unstuck = true;
        }
        cv.notify_all();
        EXPECT_TRUE(wait_until([&] { return running.get("/readyz").status == 200; }, 30s));
    }
}

// The measuring thread outlives the monitor only while a measurement is stuck in the kernel. When
// that measurement returns after the monitor is gone, the thread must stop there: it went on to
// measure the next directory, calling the FreeBytesFn (whatever the caller's lambda captures)
// after ~DiskMonitor, and so ~Worker, had returned.
TEST(HealthTest, ADiskMeasurementThatReturnsAfterShutdownMeasuresNothingMore) {
    struct Probe {
        std::mutex mutex;
        std::condition_variable cv;
        bool blocked = false;  // the OUTPUT_DIR measurement is waiting for `released`
        bool released = false;
        bool monitor_gone = false;
        int calls_after_gone = 0;
    };
    auto probe = std::make_shared<Probe>();
    WorkerEnv env;
    const auto config = env.config();
    const auto output_dir = config.paths.output_dir;
    worker::DiskMonitor::FreeBytesFn free_bytes = [probe, output_dir](const fs::path& dir) {
        std::unique_lock lock(probe->mutex);
        if (probe->monitor_gone) ++probe->calls_after_gone;
        if (dir == output_dir && !probe->released) {
            probe->blocked = true;
            probe->cv.notify_all();
            probe->cv.wait(lock, [&] { return probe->released; });
        }
        return std::optional<std::uint64_t>(std::uint64_t{1} << 40);
    };
    worker::Metrics metrics;
    {
        worker::DiskMonitor monitor(config, metrics, 10ms, 1s, free_bytes);
        free_bytes = {};  // the monitor's thread holds the only copy (and with it `probe`)
        monitor.start();
        std::unique_lock lock(probe->mutex);
        ASSERT_TRUE(probe->cv.wait_for(lock, 30s, [&] { return probe->blocked; }));
    }
    {
        std::lock_guard lock(probe->mutex);
        probe->monitor_gone = true;
        probe->released = true;
    }
    probe->cv.notify_all();
    // The thread ends, and its state with it, releasing the function's copy of `probe`.
    ASSERT_TRUE(wait_until([&] { return probe.use_count() == 1; }, 30s))
        << "the measuring thread did not end after its measurement returned";
    EXPECT_EQ(probe->calls_after_gone, 0) << "TMP_DIR was measured after the monitor was destroyed";
}

// A TCP client on loopback from `from` (127.0.0.0/8 is all loopback on Linux, so a test can be
// several peers at once); the socket is closed when the object goes.
class RawClient {
  public:
    RawClient(const char* from, int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        ::inet_pton(AF_INET, from, &local.sin_addr);
        sockaddr_in server{};
        server.sin_family = AF_INET;
        server.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
        timeval send_timeout{10, 0};  // a server that neither reads nor closes fails the test
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
        connected_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
                     ::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0;
    }
    ~RawClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const { return connected_; }
    // False once the server has closed the connection (or sending failed).
    bool send(std::string_view bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(bytes.size());
    }
    // True when the server has closed its side (end of stream or reset); whatever it answered
    // before hanging up is read and dropped.
    bool closed_by_server() {
        char buf[4096];
        for (;;) {
            const auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) continue;
            return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        }
    }
    int fd() const { return fd_; }

  private:
    int fd_ = -1;
    bool connected_ = false;
};

TEST(HealthTest, SlowClientsAndHugeBodiesCannotKnockTheProbesOver) {
    // Issue 11.3: on 0.0.0.0, two clients sending a header byte every 3 s held both of the
    // server's threads, so /livez (and the image's HEALTHCHECK) timed out and kubelet would
    // restart a pod mid-render; and an unauthenticated 400 MiB POST was read into memory.
    WorkerEnv env;
    Worker w(with_metrics(env.config()));
    RunningWorker running(w);
    const int port = running.port();

    // Eight slow clients from another address, each dripping a header byte every 300 ms: faster
    // than any per-read timeout, so only a budget on the whole request stops them.
    constexpr int kSlow = 8;
    std::atomic<bool> stop{false};
    std::atomic<int> dropped{0};
    std::vector<std::thread> slow;
    for (int i = 0; i < kSlow; ++i) {
        slow.emplace_back([&] {
            const auto end = std::chrono::steady_clock::now() + 20s;
            while (!stop && std::chrono::steady_clock::now() < end) {
                RawClient c("127.0.0.2", port);
                if (!c.connected() || !c.send("GET /livez HTTP/1.1\r\nX-Slow: ")) continue;
                while (!stop && std::chrono::steady_clock::now() < end && c.send("a")) {
                    std::this_thread::sleep_for(300ms);
                    if (c.closed_by_server()) break;
                }
                if (c.closed_by_server()) ++dropped;
            }
        });
    }
    std::this_thread::sleep_for(1s);  // let them take every connection they can
    for (int i = 0; i < 5; ++i) {
        // As the HEALTHCHECK and kubelet ask: a fresh connection, a timeout of a few seconds.
        const auto live = running.get("/livez");
        EXPECT_EQ(live.status, 200) << "probe " << i << " while slow clients hold connections";
        std::this_thread::sleep_for(500ms);
    }
    EXPECT_TRUE(wait_until([&] { return dropped.load() >= kSlow; }, 15s))
        << "the server must hang up on clients that take too long to send a request ("
        << dropped.load() << " of " << kSlow << " dropped)";
    stop = true;
    for (auto& t : slow) t.join();

    // A huge body is refused, not read: the server stops taking bytes after a few KiB (what
    // loopback's socket buffers hold is all the client gets to send).
    {
        RawClient c("127.0.0.3", port);
        ASSERT_TRUE(c.connected());
        ASSERT_TRUE(
            c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                   "Content-Length: 419430400\r\n\r\n"));
        const std::string chunk(1u << 20, 'x');
        std::size_t sent = 0;
        while (sent < (400u << 20) && c.send(chunk)) sent += chunk.size();
        EXPECT_LT(sent, 64u << 20) << "the server read a 400 MiB body";
    }
    // GET only.
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(5);
    const auto post = client.Post("/livez", "x", "text/plain");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
    EXPECT_EQ(post->get_header_value("Allow"), "GET");
    EXPECT_EQ(running.get("/livez").status, 200);
    EXPECT_EQ(running.get("/metrics").status, 200);
}

TEST(HealthcheckTest, ExitCodesFollowTheProbes) {
    WorkerEnv env;
    Worker w(with_metrics(env.config()));
    RunningWorker running(w);
    ASSERT_TRUE(wait_until([&] { return w.metrics().polls_ok.value() > 0; }, 10s));
    const auto port = std::to_string(running.port());
    const auto bin = renderer_bin();
    const std::vector<std::pair<std::string, std::string>> no_env{{"METRICS_ADDR", ""}};

    auto r = run_process({bin, "healthcheck", "--addr", "127.0.0.1:" + port}, no_env, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.rfind("healthy: ", 0), 0u) << r.out;

    // The image's METRICS_ADDR=0.0.0.0:PORT is asked on loopback.
    r = run_process({bin, "healthcheck"}, {{"METRICS_ADDR", "0.0.0.0:" + port}}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    r = run_process({bin, "healthcheck", "--ready"}, {{"METRICS_ADDR", "0.0.0.0:" + port}}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

    // Unhealthy is always exit 1, whatever the reason: Docker gives other codes no meaning.
    r = run_process({bin, "healthcheck"}, no_env, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("METRICS_ADDR"), std::string::npos) << r.out;
    r = run_process({bin, "healthcheck", "--addr", "nonsense"}, no_env, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.out.rfind("unhealthy: ", 0), 0u) << r.out;

    // A port nobody listens on: take one from a server that is then stopped.
    int closed_port = 0;
    {
        worker::MetricsServer probe({"127.0.0.1", 0}, {});
        closed_port = probe.start();
    }
    r = run_process({bin, "healthcheck", "--addr", "127.0.0.1:" + std::to_string(closed_port),
                     "--timeout-sec", "2"},
                    no_env, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;

    // Live but not ready (the disk is "low"): the default check passes, --ready does not.
    auto low = with_metrics(env.config());
    low.min_free_bytes = std::uint64_t{1} << 60;
    Worker w2(low);
    RunningWorker running2(w2);
    ASSERT_TRUE(wait_until([&] { return w2.metrics().polls_ok.value() > 0; }, 10s));
    const auto port2 = "127.0.0.1:" + std::to_string(running2.port());
    r = run_process({bin, "healthcheck", "--addr", port2}, no_env, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    r = run_process({bin, "healthcheck", "--ready", "--addr", port2}, no_env, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("disk_low"), std::string::npos) << r.out;
}

TEST(HealthcheckTest, BadMetricsAddrIsAConfigErrorAtStart) {
    WorkerEnv env;
    const auto r = run_process({renderer_bin(), "worker", "--metrics-addr", "localhost"},
                               {{"API_BASE_URL", env.base_url()},
                                {"API_AUTH_TOKEN", env.token()},
                                {"CONTENT_DIR", env.content.string()},
                                {"OUTPUT_DIR", env.output.string()},
                                {"TMP_DIR", env.tmp.string()}},
                               30s);
    EXPECT_EQ(r.exit_code, kExitConfig) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("METRICS_ADDR"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace renderer::testing

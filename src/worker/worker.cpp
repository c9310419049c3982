#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/log.h"
#include "common/paths.h"
#include "media/slideshow.h"
#include "renderer_version.h"
#include "worker/disk_check.h"
#include "worker/lease.h"
#include "worker/retry.h"
#include "worker/work_dir.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;

// Bounds the memory kept about jobs seen, for a worker that runs for months.
constexpr std::size_t kMaxRemembered = 10000;

[[noreturn]] void config_error(std::string message) {
    throw Error(ErrorClass::ConfigError, std::move(message));
}

ApiClient::Options api_options(const WorkerConfig& c, Metrics& metrics) {
    ApiClient::Options o;
    o.base_url = c.api_base();
    o.token = c.api_token;
    o.ca_bundle = c.api_ca_bundle;
    o.http_timeout = std::chrono::seconds(c.http_timeout_sec);
    o.worker_name = c.worker_name;
    o.on_retry = [&metrics](std::string_view request) { metrics.http_retries(request).inc(); };
    o.on_call = [&metrics](std::string_view request, double seconds) {
        metrics.api_call_duration(request).observe(seconds);
    };
    return o;
}

SteadyClock::rep now_ticks() { return SteadyClock::now().time_since_epoch().count(); }

// How long ago a time stored by now_ticks() was; nullopt when it was never stored.
std::optional<std::chrono::milliseconds> age_of(SteadyClock::rep ticks) {
    if (ticks == 0) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        SteadyClock::now() - SteadyClock::time_point(SteadyClock::duration(ticks)));
}

}  // namespace

std::chrono::milliseconds Worker::sweep_interval() const {
    // Once a lease (a minute at most), and never more often than the polls.
    return std::max(std::chrono::milliseconds(config_.poll_interval_ms),
                    std::chrono::milliseconds(std::min(config_.lease_seconds, 60) * 1000));
}

Worker::Worker(WorkerConfig config, RenderFn render, DiskMonitor::FreeBytesFn free_bytes)
    : config_(std::move(config)), render_(std::move(render)) {
    config_.finalize();
    if (!render_) render_ = &media::render_slideshow;
    api_ = std::make_unique<ApiClient>(api_options(config_, metrics_));
    metrics_.job_timeout_seconds.set(config_.job_timeout_sec);
    // Measured as often as the worker polls (at most every 5 s); statvfs answers in microseconds
    // on a healthy disk and within a second or two on a busy NFS server, so one taking two polls
    // (2-10 s) is stuck.
    const std::chrono::milliseconds poll(config_.poll_interval_ms);
    disk_monitor_ = std::make_unique<DiskMonitor>(
        config_, metrics_, std::min(poll, std::chrono::milliseconds(5000)),
        std::clamp(2 * poll, std::chrono::milliseconds(2000), std::chrono::milliseconds(10000)),
        std::move(free_bytes));
}

Worker::~Worker() {
    if (metrics_server_) metrics_server_->stop();
    request_stop_now();
    drain();
}

int Worker::metrics_port() const { return metrics_port_.load(); }

ProbeResult Worker::liveness() const {
    if (stop_.stop_requested()) return {true, "ok: draining"};
    // One tick may legitimately take its HTTP calls' whole retry budget: the list call (up to
    // four attempts of HTTP_TIMEOUT_SEC) and a claim (three) per free slot, then the jittered
    // sleep. Only a loop stuck past all of that is dead, and a restart is the cure.
    const ApiClient::Options defaults;
    const auto http = std::chrono::milliseconds(std::int64_t{config_.http_timeout_sec} * 1000);
    const auto window = std::chrono::milliseconds(config_.poll_interval_ms) * 2 +
                        http * (defaults.poll_retry.max_attempts +
                                defaults.claim_retry.max_attempts * config_.max_concurrent) +
                        std::chrono::seconds(10);
    const auto age = age_of(last_tick_.load());
    if (age && *age > window) {
        return {false, fmt::format("the poll loop has not ticked for {} s (limit {} s)",
                                   age->count() / 1000, window.count() / 1000)};
    }
    return {true, "ok"};
}

std::vector<std::pair<std::string, std::int64_t>> Worker::stuck_jobs() const {
    std::vector<std::pair<std::string, std::int64_t>> stuck;
    {
        std::lock_guard lock(jobs_mutex_);
        for (const auto& a : active_) {
            if (!a->done && a->runner->stuck())
                stuck.emplace_back(a->runner->job().id, a->runner->seconds_past_timeout());
        }
    }
    metrics_.jobs_stuck.set(static_cast<std::int64_t>(stuck.size()));
    return stuck;
}

ProbeResult Worker::readiness() const {
    if (stop_.stop_requested()) return {false, "draining: shutting down, claiming no new jobs"};
    if (const auto stuck = stuck_jobs(); !stuck.empty()) {
        return {false,
                fmt::format("stuck: job {} is still rendering {} s past JOB_TIMEOUT_SEC "
                            "({} s) and did not stop when cancelled; its lease is no "
                            "longer renewed and the API will requeue it; restart the "
                            "worker to free its slot{}",
                            stuck.front().first, stuck.front().second, config_.job_timeout_sec,
                            stuck.size() > 1 ? fmt::format(" ({} jobs stuck in all)", stuck.size())
                                             : std::string())};
    }
    // A few poll intervals, plus one slow answer.
    const auto window = std::chrono::milliseconds(config_.poll_interval_ms) * 3 +
                        std::chrono::seconds(config_.http_timeout_sec);
    const auto age = age_of(last_api_answer_.load());
    if (!age) return {false, "api: the job API has not answered a poll yet"};
    if (*age > window) {
        return {false, fmt::format("api: the job API has not answered a poll for {} s",
                                   age->count() / 1000)};
    }
    if (const auto problem = disk_monitor_->problem()) return {false, *problem};
    return {true, "ok"};
}

void Worker::start_metrics_server() {
    if (config_.metrics_addr.empty()) return;
    metrics_server_ = std::make_unique<MetricsServer>(
        parse_listen_address(config_.metrics_addr),
        MetricsServer::Handlers{[this] { return liveness(); }, [this] { return readiness(); },
                                [this] {
                                    // Counted before the text is made: a scrape counted after
                                    // the final outcome was recorded also reports it.
                                    ++scrapes_;
                                    stuck_jobs();  // the gauge as of this scrape
                                    return metrics_.exposition() + process_metrics_exposition();
                                }});
    metrics_port_ = metrics_server_->start();
}

void Worker::request_stop() { stop_.request_stop(); }

void Worker::request_stop_now() {
    stop_now_ = true;
    stop_.request_stop();
    jobs_cv_.notify_all();
}

Worker::Stats Worker::stats() const {
    std::lock_guard lock(jobs_mutex_);
    return stats_;
}

void Worker::prepare_directories() {
    const auto& p = config_.paths;
    std::error_code ec;
    if (!fs::is_directory(p.content_dir, ec)) {
        config_error(fmt::format(
            "CONTENT_DIR '{}' is not a directory: mount the content volume there or set "
            "CONTENT_DIR",
            p.content_dir.string()));
    }
    if (!fs::is_directory(p.music_dir, ec)) {
        config_error(fmt::format(
            "MUSIC_DIR '{}' is not a directory: put the background tracks (*.mp3) there or "
            "set MUSIC_DIR",
            p.music_dir.string()));
    }
    for (const auto& [name, dir] :
         {std::pair{"OUTPUT_DIR", &p.output_dir}, std::pair{"TMP_DIR", &p.tmp_dir}}) {
        fs::create_directories(*dir, ec);
        if (ec || ::access(dir->c_str(), W_OK | X_OK) != 0) {
            config_error(fmt::format(
                "{} '{}' is not a writable directory{}: create it for the worker's user or "
                "set {}",
                name, dir->string(), ec ? " (" + ec.message() + ")" : "", name));
        }
    }
}

void Worker::sweep_stale() {
    // The lease bound. A live render writes its temp file as it encodes, and a live job's work
    // dir is touched at every heartbeat. A worker killed or frozen at its last write held a
    // lease ending at most one lease later (leases are capped at LEASE_SECONDS), after which it
    // can never publish. Twice the lease leaves a second one as margin for a render that pauses
    // between writes, so a file untouched that long is one no live job can still own.
    const auto min_age = std::chrono::seconds(2 * config_.lease_seconds);
    next_sweep_ = SteadyClock::now() + sweep_interval();
    const auto& p = config_.paths;
    const int temp_files = sweep_stale_temp_files(p.output_dir, min_age);
    const int job_dirs = sweep_stale_work_dirs(p.tmp_dir, min_age);
    if (temp_files > 0 || job_dirs > 0) {
        log::info("sweep", {{"output_dir", p.output_dir.string()},
                            {"stale_temp_files", temp_files},
                            {"tmp_dir", p.tmp_dir.string()},
                            {"stale_job_dirs", job_dirs}});
    }
}

bool Worker::is_active(const std::string& job_id) {
    std::lock_guard lock(jobs_mutex_);
    return std::any_of(active_.begin(), active_.end(),
                       [&](const auto& a) { return !a->done && a->runner->job().id == job_id; });
}

int Worker::running() {
    std::lock_guard lock(jobs_mutex_);
    return static_cast<int>(active_.size());
}

void Worker::reap() {
    std::list<std::unique_ptr<Active>> finished;
    {
        std::lock_guard lock(jobs_mutex_);
        for (auto it = active_.begin(); it != active_.end();) {
            if ((*it)->done) {
                finished.push_back(std::move(*it));
                it = active_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& a : finished) {
        a->thread.join();
        if (a->outcome != JobOutcome::Released) {
            if (a->outcome == JobOutcome::Rendered || a->outcome == JobOutcome::Errored)
                released_in_a_row_ = 0;
            continue;
        }
        // The machine could not do the job (disk, work dir): claiming again at once would
        // only take jobs other workers can do and release them too.
        const RetryPolicy pause{.base_delay = std::chrono::milliseconds(config_.poll_interval_ms),
                                .max_delay = std::chrono::minutes(5),
                                .min_delay = std::chrono::milliseconds(config_.poll_interval_ms)};
        const auto delay = backoff_delay(pause, ++released_in_a_row_);
        claims_paused_until_ = SteadyClock::now() + delay;
        log::warn("claim_backoff", {{"delay_ms", static_cast<std::int64_t>(delay.count())},
                                    {"released_in_a_row", released_in_a_row_},
                                    {"job_id", a->runner->job().id},
                                    {"reason", a->runner->release_reason()}});
    }
}

bool Worker::disk_has_room() {
    const auto shortage = disk_shortage(config_);
    if (!shortage) return true;
    log::warn("disk_low", {{"path", shortage->dir.string()},
                           {"free_bytes", shortage->free_bytes},
                           {"min_free_bytes", shortage->min_free_bytes},
                           {"action", "claiming nothing until space is freed"}});
    return false;
}

void Worker::start_job(Job job, const LeaseGrant& grant, SteadyClock::time_point sent_at) {
    if (claims_by_job_.size() > kMaxRemembered) claims_by_job_.clear();
    const int attempt = ++claims_by_job_[job.id];
    auto active = std::make_unique<Active>();
    active->runner = std::make_unique<JobRunner>(config_, *api_, metrics_, std::move(job), grant,
                                                 sent_at, attempt, render_);
    Active* a = active.get();
    std::lock_guard lock(jobs_mutex_);
    active_.push_back(std::move(active));
    ++stats_.jobs_claimed;
    stats_.max_in_flight = std::max(stats_.max_in_flight, static_cast<int>(active_.size()));
    metrics_.jobs_claimed.inc();
    metrics_.jobs_in_flight.add(1);
    a->thread = std::thread([this, a] {
        const auto outcome = a->runner->run();
        metrics_.jobs_in_flight.add(-1);
        {
            std::lock_guard done_lock(jobs_mutex_);
            a->done = true;
            a->outcome = outcome;
        }
        jobs_cv_.notify_all();
    });
}

void Worker::poll_once() {
    const int busy = running();
    const int free_slots = config_.max_concurrent - busy;
    JobList list;
    try {
        // Room for the jobs refused last time too: listed first, they would hide every job
        // behind them.
        list = api_->list_jobs(config_.max_concurrent + refused_listed_, &stop_);
    } catch (const Error& e) {
        if (e.error_class() == ErrorClass::Cancelled) return;
        metrics_.polls_failed.inc();
        idle_polls_ = 0;
        log::warn("poll_failed", {{"error_class", std::string(to_string(e.error_class()))},
                                  {"error_message", e.what()}});
        return;
    }
    {
        std::lock_guard lock(jobs_mutex_);
        ++stats_.polls;
    }
    last_api_answer_ = now_ticks();
    metrics_.polls_ok.inc();
    metrics_.queue_depth.set(list.queue_depth);
    log::info("poll",
              {{"queue_depth", list.queue_depth},
               {"listed", static_cast<std::int64_t>(list.jobs.size() + list.rejected.size())},
               {"running", busy},
               {"free_slots", std::max(free_slots, 0)}});

    for (const auto& r : list.rejected) {
        if (rejected_seen_.size() > kMaxRemembered) rejected_seen_.clear();
        if (!rejected_seen_.insert(r.id + '\n' + r.reason).second) continue;
        log::error("error", {{"error_class", "ApiError"},
                             {"error_message", fmt::format("listed job skipped: {}", r.reason)},
                             {"listed_id", r.id}});
    }

    refused_listed_ = std::min(static_cast<int>(list.rejected.size()), kMaxRefusedListed);
    // Jobs this worker refuses (unsafe ids) will never be taken by any worker: a queue holding
    // only those is as idle as an empty one.
    const bool idle = list.jobs.empty() && busy == 0 &&
                      list.queue_depth <= static_cast<std::int64_t>(list.rejected.size());
    idle_polls_ = idle ? idle_polls_ + 1 : 0;

    if (free_slots <= 0 || list.jobs.empty() || stop_.stop_requested()) return;
    if (SteadyClock::now() < claims_paused_until_) return;
    if (!disk_has_room()) return;

    int slots = free_slots;
    for (auto& job : list.jobs) {
        if (slots == 0 || stop_.stop_requested()) break;
        // A job requeued after we lost its lease may be listed while our cancelled attempt is
        // still winding down; two attempts in one worker would share a work dir.
        if (is_active(job.id)) continue;
        const log::Context ctx(
            log::Fields{{"job_id", job.id}, {"story_id", job.story_id}, {"part_id", job.part_id}});
        const auto sent_at = SteadyClock::now();
        std::optional<LeaseGrant> grant;
        try {
            // Interruptible: a SIGTERM must not wait for a slow API to answer the claim. If the
            // API granted it anyway, the lease lapses and the job is requeued.
            grant = api_->claim(job, ctx, &stop_);
        } catch (const Error& e) {
            if (e.error_class() == ErrorClass::Cancelled) return;
            ctx.warn("claim_failed", {{"error_class", std::string(to_string(e.error_class()))},
                                      {"error_message", e.what()}});
            continue;
        }
        if (!grant) {
            ctx.info("claim_skipped", {{"reason", "409: another worker claimed the job first"}});
            continue;
        }
        start_job(std::move(job), *grant, sent_at);
        --slots;
    }
}

void Worker::drain() {
    std::unique_lock lock(jobs_mutex_);
    if (active_.empty()) return;
    const auto grace_end = SteadyClock::now() + std::chrono::seconds(config_.shutdown_grace_sec);
    const auto all_done = [this] {
        return std::all_of(active_.begin(), active_.end(), [](const auto& a) { return a->done; });
    };
    jobs_cv_.wait_until(lock, grace_end, [&] { return stop_now_.load() || all_done(); });
    int cancelled = 0;
    for (auto& a : active_) {
        if (!a->done) {
            a->runner->cancel(ErrorClass::Cancelled);
            ++cancelled;
        }
    }
    auto remaining = std::move(active_);
    active_.clear();
    lock.unlock();
    for (auto& a : remaining) a->thread.join();
    if (cancelled > 0) log::warn("shutdown_cancelled", {{"cancelled_jobs", cancelled}});
}

void Worker::wait_for_final_scrape() {
    if (!metrics_server_ || config_.final_scrape_wait_sec <= 0) return;
    const auto seen = scrapes_.load();
    const auto limit = std::chrono::seconds(config_.final_scrape_wait_sec);
    log::info("final_scrape_wait", {{"max_wait_sec", config_.final_scrape_wait_sec}});
    const auto deadline = SteadyClock::now() + limit;
    while (scrapes_.load() == seen && SteadyClock::now() < deadline) {
        if (stop_.wait_for(std::chrono::milliseconds(100))) break;  // SIGTERM: exit now
    }
    if (scrapes_.load() == seen) {
        log::warn("final_scrape_missed",
                  {{"waited_sec", config_.final_scrape_wait_sec},
                   {"action",
                    "exiting; this worker's last counts were not scraped (is the "
                    "PodMonitor's interval longer than FINAL_SCRAPE_WAIT_SEC?)"}});
    }
}

int Worker::run() {
    prepare_directories();
    sweep_stale();
    last_tick_ = now_ticks();
    disk_monitor_->start();
    start_metrics_server();
    const std::string metrics_at =
        metrics_server_
            ? fmt::format("{}:{}", parse_listen_address(config_.metrics_addr).host, metrics_port())
            : std::string("off");
    log::info("start",
              {{"version", RENDERER_VERSION},
               {"worker", config_.worker_name},
               {"poll_interval_ms", config_.poll_interval_ms},
               {"max_concurrent", config_.max_concurrent},
               {"lease_seconds", config_.lease_seconds},
               // For a lease of LEASE_SECONDS; the runner applies the same rule to
               // each lease as granted.
               {"heartbeat_interval_ms",
                static_cast<std::int64_t>(LeasePolicy(config_).nominal_interval().count())},
               {"job_timeout_sec", config_.job_timeout_sec},
               {"max_retries", config_.max_retries},
               {"api_base", config_.api_base()},
               {"content_dir", config_.paths.content_dir.string()},
               {"music_dir", config_.paths.music_dir.string()},
               {"output_dir", config_.paths.output_dir.string()},
               {"tmp_dir", config_.paths.tmp_dir.string()},
               {"min_free_bytes", config_.min_free_bytes},
               {"metrics_addr", metrics_at}});

    std::string reason = "signal";
    while (!stop_.stop_requested()) {
        last_tick_ = now_ticks();
        reap();
        stuck_jobs();
        // Not only at start: a worker restarted seconds after a crash finds the dead render's
        // files too young to take, and must come back for them.
        if (SteadyClock::now() >= next_sweep_) sweep_stale();
        poll_once();
        last_tick_ = now_ticks();
        if (config_.exit_when_idle_polls > 0 && idle_polls_ >= config_.exit_when_idle_polls) {
            reason = "idle";
            break;
        }
        stop_.wait_for(jittered(std::chrono::milliseconds(config_.poll_interval_ms), 0.2));
    }

    log::info("shutdown", {{"reason", reason},
                           {"running_jobs", running()},
                           {"grace_sec", config_.shutdown_grace_sec}});
    drain();
    if (reason == "idle") wait_for_final_scrape();
    // Served through the drain, so probes see `draining` rather than a refused connection.
    if (metrics_server_) metrics_server_->stop();
    log::info("stopped", {{"jobs_claimed", stats().jobs_claimed}});
    return kExitOk;
}

}  // namespace renderer::worker

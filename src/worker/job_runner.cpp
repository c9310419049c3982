#include "worker/job_runner.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "common/paths.h"
#include "worker/debug_reports.h"
#include "worker/disk_check.h"
#include "worker/job_request.h"
#include "worker/remote_io.h"
#include "worker/retry.h"
#include "worker/work_dir.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;

// Transient render failures (I/O) are retried after this back-off, still under the lease.
// Only the delays matter here: the attempts are bounded by MAX_RETRIES and the lease.
const RetryPolicy kRenderRetry{.base_delay = std::chrono::milliseconds(1000),
                               .max_delay = std::chrono::milliseconds(30000),
                               .min_delay = std::chrono::milliseconds(250)};

}  // namespace

std::string_view to_string(JobOutcome outcome) {
    switch (outcome) {
        case JobOutcome::Rendered:
            return "rendered";
        case JobOutcome::Errored:
            return "errored";
        case JobOutcome::LeaseLost:
            return "lease_lost";
        case JobOutcome::Cancelled:
            return "cancelled";
        case JobOutcome::Undelivered:
            return "undelivered";
        case JobOutcome::Released:
            return "released";
    }
    return "unknown";
}

JobRunner::JobRunner(const WorkerConfig& config, ApiClient& api, Metrics& metrics, Job job,
                     const LeaseGrant& grant, SteadyClock::time_point claim_sent_at, int attempt,
                     RenderFn render)
    : config_(config),
      api_(api),
      metrics_(metrics),
      job_(std::move(job)),
      log_(
          log::Fields{{"job_id", job_.id}, {"story_id", job_.story_id}, {"part_id", job_.part_id}}),
      attempt_(attempt),
      render_(std::move(render)),
      claim_sent_at_(claim_sent_at),
      lease_policy_(config),
      claim_terms_(lease_policy_.terms(
          grant,
          job_.lease_seconds
              ? std::optional<std::chrono::milliseconds>(std::chrono::seconds(*job_.lease_seconds))
              : std::nullopt,
          claim_sent_at)),
      lease_(grant.lease_token, claim_terms_),
      lease_expires_at_text_(grant.expires_at_text),
      work_dir_(config.paths.tmp_dir / job_.id),
      started_(SteadyClock::now()),
      // Renewed until JOB_TIMEOUT_SEC plus a grace period: a render that has not stopped by then
      // is hung, and its lease is left to lapse so the API can give the job to another worker.
      renew_until_(started_ + std::chrono::seconds(config.job_timeout_sec) +
                   LeasePolicy::hung_grace(claim_terms_.length)) {}

bool JobRunner::stuck() const { return rendering_ && SteadyClock::now() >= renew_until_; }

std::int64_t JobRunner::seconds_past_timeout() const {
    const auto past =
        SteadyClock::now() - (started_ + std::chrono::seconds(config_.job_timeout_sec));
    return std::max<std::int64_t>(0,
                                  std::chrono::duration_cast<std::chrono::seconds>(past).count());
}

double JobRunner::elapsed_sec() const {
    return std::chrono::duration<double>(SteadyClock::now() - started_).count();
}

void JobRunner::cancel(ErrorClass reason) {
    cancel_.cancel(reason);
    render_stop_.request_stop();
    abandon_.request_stop();
}

media::RenderRequest JobRunner::build_request() const {
    media::RenderRequest r = render_request_for(job_, config_);
    // In the work dir while it is written: a crashed render's report goes with its dir.
    if (config_.debug) r.libav_report_path = work_dir_ / "ffreport.log";
    r.on_temp_file = [this](const fs::path& temp) {
        std::lock_guard lock(temp_file_mutex_);
        temp_file_ = temp;
    };
    return r;
}

void JobRunner::watch() {
    const auto timeout_at = started_ + std::chrono::seconds(config_.job_timeout_sec);
    const std::chrono::milliseconds log_every(config_.progress_log_interval_ms);
    auto next_log = started_;  // one `rendering` line at once, then every log_every
    for (;;) {
        if (watch_stop_.wait_until(std::min(timeout_at, next_log))) return;
        const auto now = SteadyClock::now();
        if (now >= timeout_at && !cancel_.cancelled()) {
            cancel_.cancel(ErrorClass::Timeout);
            render_stop_.request_stop();
        }
        if (now >= next_log) {
            log_.info("rendering", {{"elapsed_sec", static_cast<std::int64_t>(elapsed_sec())},
                                    {"frames_done", frames_done_.load()},
                                    {"frames_total", frames_total_.load()},
                                    {"attempt", render_attempt_.load()}});
            next_log += log_every;
        }
        if (cancel_.cancelled() && now >= timeout_at) return;
    }
}

std::optional<media::RenderResult> JobRunner::render_with_retries(
    const media::RenderRequest& request, std::optional<Error>& failure, const FrameFetch* fetch) {
    const auto on_progress = [this](const media::Progress& p) {
        frames_done_ = p.frames_done;
        frames_total_ = p.frames_total;
    };
    // Fail closed: the artifact is renamed into place only while the lease has a safe margin.
    const std::function<bool()> publish_gate = [this] {
        if (lease_.live_for(LeasePolicy::publish_margin(lease_.length()))) return true;
        lease_.lose("the lease was too close to expiry to publish the artifact safely");
        return false;
    };

    for (int attempt = 1;; ++attempt) {
        render_attempt_ = attempt;
        try {
            return render_(request, log_, cancel_, on_progress, publish_gate);
        } catch (const Error& e) {
            failure = e;
        } catch (const fs::filesystem_error& e) {
            failure = Error(ErrorClass::IoError, e.what());
            if (e.code().category() == std::generic_category() ||
                e.code().category() == std::system_category()) {
                failure->with_os_error(e.code().value());
            }
        } catch (const std::exception& e) {
            failure =
                Error(ErrorClass::EncodeError, fmt::format("unexpected failure: {}", e.what()));
        }
        // A failed download is the cause, whatever the render met first: its error, or a frame
        // the failed batch removed under it. The download already spent its own retries, and a
        // render retry would only meet its error again.
        if (fetch) {
            if (auto fetch_failure = fetch->failure()) failure = std::move(fetch_failure);
        }
        // A cancel decides the class, whatever the render happened to throw on its way out.
        if (const auto reason = cancel_.reason(); reason && failure->error_class() != *reason) {
            failure = Error(*reason, failure->what(), failure->stderr_snippet());
        }
        const bool retry = is_transient(failure->error_class()) && attempt <= config_.max_retries &&
                           !cancel_.cancelled() && !lease_.lost() && !(fetch && fetch->failure());
        if (!retry) return std::nullopt;
        const auto delay = backoff_delay(kRenderRetry, attempt);
        log_.warn("retry", {{"attempt", attempt},
                            {"delay_ms", static_cast<std::int64_t>(delay.count())},
                            {"reason", fmt::format("{}: {}", to_string(failure->error_class()),
                                                   failure->what())}});
        if (render_stop_.wait_for(delay)) {
            const auto reason = cancel_.reason().value_or(ErrorClass::Cancelled);
            failure = Error(reason, failure->what(), failure->stderr_snippet());
            return std::nullopt;
        }
    }
}

void JobRunner::touch_job_files() const {
    // A live job's files stay fresh while its lease is renewed, however long the render pauses
    // between writes, so no worker's sweep takes them for a crashed one's. Once renewals stop
    // (lease lost, render hung), they age and are swept two leases later.
    touch(work_dir_);
    std::lock_guard lock(temp_file_mutex_);
    if (temp_file_) touch(*temp_file_);
}

void JobRunner::log_lease_lost() {
    if (lease_lost_logged_.exchange(true)) return;
    metrics_.lease_losses.inc();
    log_.warn(
        "lease_lost",
        {{"reason", lease_.lost_reason()},
         {"elapsed_sec", elapsed_sec()},
         {"action", "cancelling the render; nothing is published; the API will requeue the job"}});
}

void JobRunner::log_clock_skew() const {
    const auto skew = claim_terms_.clock_skew;
    if (!skew || std::chrono::abs(*skew) <= LeasePolicy::kSkewWorthLogging) return;
    log_.warn("clock_skew",
              {{"skew_sec", std::chrono::duration<double>(*skew).count()},
               {"lease_sec", std::chrono::duration<double>(lease_.length()).count()},
               {"lease_expires_at", lease_expires_at_text_},
               {"action",
                "the lease is counted from the API's lease_seconds or its Date header, on our "
                "monotonic clock, never from the stated expiry on our wall clock; fix the clocks "
                "(NTP)"}});
}

bool JobRunner::deliver(const StatusUpdate& update) {
    // A final status is retried while the lease holds: past its deadline the API requeues the
    // job, and a deterministic re-render elsewhere gives the same bytes.
    if (lease_.lost()) {
        log_lease_lost();
        return false;
    }
    for (;;) {
        const auto result =
            api_.post_status(job_, update, lease_.token(), lease_.deadline(), &abandon_, log_);
        switch (result.answer) {
            case LeaseAnswer::Ok:
                return true;
            case LeaseAnswer::Lost:
                lease_.lose(result.detail);
                log_lease_lost();
                return false;
            case LeaseAnswer::Rejected:
                log_.error("status_failed", {{"status", update.status}, {"reason", result.detail}});
                return false;
            case LeaseAnswer::Unreachable:
                break;
        }
        if (abandon_.stop_requested()) return false;
        if (!lease_.live_for(std::chrono::milliseconds(200))) {
            log_.error("status_failed",
                       {{"status", update.status},
                        {"reason", fmt::format("{}; the lease ran out before the API answered",
                                               result.detail)}});
            return false;
        }
        if (abandon_.wait_for(std::chrono::milliseconds(200))) return false;
    }
}

JobOutcome JobRunner::run() {
    log_.info("claim", {{"lease_expires_at", lease_expires_at_text_},
                        {"lease_sec", std::chrono::duration<double>(lease_.length()).count()},
                        {"attempt", attempt_}});
    log_clock_skew();

    if (const auto ec = create_work_dir(work_dir_)) {
        // Our machine's problem (TMP_DIR unwritable, out of inodes), not the job's.
        return finish(release(fmt::format("cannot create the job's work dir {}: {}",
                                          work_dir_.string(), ec.message())));
    }
    post_rendering();

    std::optional<Error> failure;
    auto result = render_under_lease(failure);
    // Moved out of the work dir before it is removed; the events below name where it went.
    std::optional<fs::path> report;
    if (config_.debug) {
        report = keep_report(work_dir_ / "ffreport.log", config_.paths.tmp_dir, job_.id,
                             {.max_files = config_.debug_reports_kept,
                              .max_bytes = config_.debug_reports_max_bytes});
    }
    return finish(result ? report_rendered(*result, report) : report_failure(*failure, report));
}

void JobRunner::post_rendering() {
    // Informational: a slow API must not eat the lease before the heartbeat runs.
    const auto deadline = std::min(lease_.deadline(), SteadyClock::now() + lease_.length() / 3);
    const auto posted = api_.post_status(job_, StatusUpdate{.status = "rendering"}, lease_.token(),
                                         deadline, &abandon_, log_);
    if (posted.answer == LeaseAnswer::Lost) {
        lease_.lose(posted.detail);
    } else if (posted.answer != LeaseAnswer::Ok) {
        log_.warn("status_failed", {{"status", "rendering"}, {"reason", posted.detail}});
    }
}

std::optional<media::RenderResult> JobRunner::render_under_lease(std::optional<Error>& failure) {
    Heartbeat heartbeat(api_, job_, lease_, lease_policy_,
                        lease_policy_.next_beat(claim_sent_at_, claim_terms_), renew_until_, log_,
                        {.on_lost =
                             [this] {
                                 cancel_.cancel(ErrorClass::LeaseLost);
                                 render_stop_.request_stop();
                                 abandon_.request_stop();
                                 // Logged now, not when the render has wound down.
                                 log_lease_lost();
                             },
                         .on_extended =
                             [this] {
                                 metrics_.lease_renewals.inc();
                                 touch_job_files();
                             },
                         .on_failed = [this] { metrics_.heartbeat_failures.inc(); },
                         .on_renewal_stopped =
                             [this] {
                                 log_.warn("job_stuck",
                                           {{"elapsed_sec", elapsed_sec()},
                                            {"job_timeout_sec", config_.job_timeout_sec},
                                            {"action",
                                             "the render did not stop after JOB_TIMEOUT_SEC; its "
                                             "lease is no longer renewed, so the API will requeue "
                                             "the job; /readyz reports it until the render ends "
                                             "(a restart frees the slot)"}});
                             }});

    std::optional<media::RenderResult> result;
    if (!lease_.lost()) {
        std::thread watcher([this] { watch(); });
        rendering_ = true;
        try {
            auto request = build_request();
            // Remote inputs and output (DESIGN §4.1): downloaded before preflight (frames under
            // an s3:// prefix while the render reads them), uploaded after the render;
            // `rendered` is posted only once the store confirmed the upload.
            const storage::CancelFn stop = [this] { return cancel_.cancelled() || lease_.lost(); };
            std::optional<storage::S3Client> storage_client;
            std::shared_ptr<FrameFetch> fetch;
            // However the render ends, no download outlives it (a failed one's files go).
            const struct StopFetch {
                std::shared_ptr<FrameFetch>& fetch;
                ~StopFetch() {
                    if (fetch) fetch->stop();
                }
            } stop_fetch{fetch};
            if (has_remote_fields(job_)) {
                storage_client.emplace(config_.storage);
                fetch = stage_remote_inputs(*storage_client, job_, work_dir_, request, stop, log_);
            }
            result = render_with_retries(request, failure, fetch.get());
            if (fetch) {
                if (result) fetch->finish();  // the render waited for every frame; rethrows
                fetch->stop();
            }
            if (result && job_.output_url) {
                remote_artifact_ =
                    publish_remote_output(*storage_client, job_, *result, stop, log_);
            }
        } catch (const Error& e) {
            result.reset();
            failure = e;
            // A cancel decides the class, as in render_with_retries.
            if (const auto reason = cancel_.reason(); reason && failure->error_class() != *reason)
                failure = Error(*reason, failure->what(), failure->stderr_snippet());
        }
        rendering_ = false;
        watch_stop_.request_stop();
        watcher.join();
    }
    // The work is over: no beat may race the final status. One in flight when the API takes
    // `rendered` would be refused (the job no longer holds a lease) and log a spurious loss.
    // The deadline the last beat set bounds the final status's retries: with the default
    // interval (a third of the lease) that is at least two thirds of a lease.
    heartbeat.stop();
    if (lease_.lost()) {
        result.reset();
        failure = Error(ErrorClass::LeaseLost, lease_.lost_reason());
    }
    return result;
}

JobOutcome JobRunner::report_rendered(const media::RenderResult& result,
                                      const std::optional<fs::path>& report) {
    log::Fields fields{{"path", result.path.string()},      {"bytes", result.bytes},
                       {"duration_ms", result.duration_ms}, {"audio_track", result.audio_track},
                       {"frames", result.frames},           {"wall_sec", result.wall_sec},
                       {"cache_hit", result.cache_hit},     {"attempts", render_attempt_.load()}};
    if (report) fields.emplace_back("ffreport", report->string());
    // What the render survived (damaged music frames) reaches the operator with the result.
    if (!result.warnings.empty()) fields.emplace_back("warnings", result.warnings);
    if (const auto& l = result.loudness) {
        // A silent track has no loudness (-inf): only the finite values are stated.
        if (std::isfinite(l->lufs)) fields.emplace_back("loudness_lufs", l->lufs);
        if (std::isfinite(l->true_peak_dbtp))
            fields.emplace_back("true_peak_dbtp", l->true_peak_dbtp);
        fields.emplace_back("gain_db", l->gain_db);
    }
    log_.info("done", fields);
    if (result.cache_hit) {
        metrics_.render_cache_hits.inc();
    } else {
        metrics_.render_duration.observe(result.wall_sec);
        metrics_.stage_duration("preflight").observe(result.stages.preflight);
        metrics_.stage_duration("decode_wait").observe(result.stages.decode_wait);
        metrics_.stage_duration("encode").observe(result.stages.encode);
        metrics_.stage_duration("publish").observe(result.stages.publish);
        metrics_.frames_encoded.inc(static_cast<std::uint64_t>(result.frames));
    }
    const StatusUpdate update{
        .status = "rendered",
        .artifact_path = remote_artifact_.value_or(result.path.string()),
        .bytes = result.bytes,
        .duration_ms = result.duration_ms,
        .audio_track = result.audio_track,
        .loudness_lufs = result.loudness ? std::optional(result.loudness->lufs) : std::nullopt,
        .true_peak_dbtp =
            result.loudness ? std::optional(result.loudness->true_peak_dbtp) : std::nullopt,
        .gain_db = result.loudness ? std::optional(result.loudness->gain_db) : std::nullopt};
    return deliver(update) ? JobOutcome::Rendered : JobOutcome::Undelivered;
}

JobOutcome JobRunner::report_failure(const Error& failure, const std::optional<fs::path>& report) {
    const auto error_class = failure.error_class();
    if (error_class == ErrorClass::LeaseLost) {
        log_lease_lost();
        return JobOutcome::LeaseLost;
    }
    if (error_class == ErrorClass::Cancelled) {
        log_.warn(
            "cancelled",
            {{"reason", failure.what()},
             {"elapsed_sec", elapsed_sec()},
             {"action", "no status posted; the lease will lapse and the API requeue the job"}});
        return JobOutcome::Cancelled;
    }
    // A failure for lack of space while our disk is still below MIN_FREE_BYTES is the machine's
    // fault (another process filled it between the claim and the render): the job would render
    // elsewhere, so it is released rather than failed for good. Any other failure is the job's,
    // however low the disk happens to be (a job whose frames are missing fails everywhere); and
    // a disk with room again was filled by this render itself, which is the job's size.
    if (is_out_of_space(failure)) {
        if (const auto shortage = disk_shortage(config_)) {
            return release(fmt::format("{}: {} ({})", shortage->describe(), to_string(error_class),
                                       failure.what()));
        }
    }

    const bool timed_out = error_class == ErrorClass::Timeout;
    const std::string message =
        timed_out ? fmt::format("the job ran longer than JOB_TIMEOUT_SEC ({} s) and was cancelled",
                                config_.job_timeout_sec)
                  : std::string(failure.what());
    log::Fields fields{{"error_class", std::string(to_string(error_class))},
                       {"error_message", message},
                       {"attempts", render_attempt_.load()},
                       {"elapsed_sec", elapsed_sec()}};
    if (!failure.stderr_snippet().empty())
        fields.emplace_back("stderr_snippet", failure.stderr_snippet());
    if (timed_out) fields.emplace_back("timeout", true);
    if (report) fields.emplace_back("ffreport", report->string());
    log_.error("error", fields);
    metrics_.failures(to_string(error_class)).inc();
    StatusUpdate update{.status = "errored",
                        .error_class = std::string(to_string(error_class)),
                        .error_message = message};
    if (!failure.stderr_snippet().empty()) update.stderr_snippet = failure.stderr_snippet();
    if (timed_out) update.timeout = true;
    return deliver(update) ? JobOutcome::Errored : JobOutcome::Undelivered;
}

JobOutcome JobRunner::release(std::string reason) {
    release_reason_ = reason;
    log_.warn("job_released",
              {{"reason", reason},
               {"elapsed_sec", elapsed_sec()},
               {"action",
                "a problem of this machine, not of the job: no status posted, the lease lapses "
                "and the API requeues the job; this worker backs off claiming"}});
    return JobOutcome::Released;
}

JobOutcome JobRunner::finish(JobOutcome outcome) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
    if (ec) log_.warn("cleanup_failed", {{"path", work_dir_.string()}, {"reason", ec.message()}});
    metrics_.jobs(to_string(outcome)).inc();
    return outcome;
}

}  // namespace renderer::worker

#include "devapi/job_store.h"

#include <fmt/format.h>

namespace renderer::devapi {
namespace {

bool is_legal(JobStatus from, JobStatus to) {
    switch (from) {
        case JobStatus::Claimed:
            return to == JobStatus::Rendering || to == JobStatus::Errored;
        // rendering -> rendering is accepted so a worker may repeat its post after a retry.
        case JobStatus::Rendering:
            return to == JobStatus::Rendering || to == JobStatus::Rendered ||
                   to == JobStatus::Errored;
        default:
            return false;
    }
}

std::string transition_message(JobStatus from, JobStatus to) {
    return fmt::format("illegal transition {} -> {}", to_string(from), to_string(to));
}

}  // namespace

JobStore::JobStore() : JobStore(Options{}) {}

JobStore::JobStore(Options options)
    : options_(std::move(options)), token_rng_(std::random_device{}()) {}

void JobStore::set_revoke_listener(RevokeListener listener) {
    std::lock_guard lock(mutex_);
    on_revoke_ = std::move(listener);
}

JobStore::Outcome JobStore::add(JobSpec spec) {
    std::lock_guard lock(mutex_);
    if (index_.count(spec.id) != 0) {
        return {Code::Conflict, fmt::format("job {} already exists", spec.id)};
    }
    if (spec.lease_seconds <= 0) spec.lease_seconds = options_.default_lease_seconds;
    Job job;
    job.spec = std::move(spec);
    job.history.push_back({JobStatus::Queued, options_.clock.wall(), {}, "created", {}});
    index_.emplace(job.spec.id, jobs_.size());
    jobs_.push_back(std::move(job));
    return {};
}

std::optional<Job> JobStore::get(const std::string& id) {
    std::lock_guard lock(mutex_);
    expire_locked();
    const Job* job = find_locked(id);
    if (job == nullptr) return std::nullopt;
    return *job;
}

JobStore::Listing JobStore::list(std::optional<JobStatus> status, std::size_t limit) {
    std::lock_guard lock(mutex_);
    expire_locked();
    Listing out;
    for (const auto& job : jobs_) {
        if (job.status == JobStatus::Queued) ++out.queue_depth;
        if (!is_final(job.status)) ++out.backlog;
        if ((!status || job.status == *status) && out.jobs.size() < limit) out.jobs.push_back(job);
    }
    return out;
}

JobStore::Outcome JobStore::claim(const std::string& id, const std::string& worker, Lease& lease) {
    std::lock_guard lock(mutex_);
    expire_locked();
    Job* job = find_locked(id);
    if (job == nullptr) return {Code::NotFound, fmt::format("no job {}", id)};
    if (job->status != JobStatus::Queued) {
        return {Code::Conflict,
                fmt::format("job {} is {}, not queued", id, to_string(job->status))};
    }
    job->status = JobStatus::Claimed;
    job->worker = worker;
    job->lease_token = new_token_locked();
    job->lease_heartbeats = 0;
    ++job->claims;
    lease = extend_locked(*job);
    job->history.push_back({JobStatus::Claimed, options_.clock.wall(), worker, {}, {}});
    return {};
}

JobStore::Outcome JobStore::heartbeat(const std::string& id,
                                      const std::optional<std::string>& token, Lease& lease) {
    std::lock_guard lock(mutex_);
    expire_locked();
    Job* job = find_locked(id);
    if (job == nullptr) return {Code::NotFound, fmt::format("no job {}", id)};
    if (auto bad = check_lease_locked(*job, token, std::nullopt); !bad.ok()) return bad;
    if (options_.heartbeat_refuse_after > 0 &&
        job->lease_heartbeats >= options_.heartbeat_refuse_after) {
        revoke_locked(*job, "heartbeat_refused");
        return {Code::Gone, "lease revoked (fault injection: heartbeat_refuse_after)"};
    }
    ++job->lease_heartbeats;
    ++job->heartbeats;
    lease = extend_locked(*job);
    return {};
}

JobStore::Outcome JobStore::post_status(const std::string& id, JobStatus status,
                                        const std::optional<std::string>& token,
                                        const StatusReport& report) {
    std::lock_guard lock(mutex_);
    expire_locked();
    Job* job = find_locked(id);
    if (job == nullptr) return {Code::NotFound, fmt::format("no job {}", id)};
    if (auto bad = check_lease_locked(*job, token, status); !bad.ok()) return bad;
    if (!is_legal(job->status, status)) {
        return {Code::Conflict, transition_message(job->status, status)};
    }
    job->status = status;
    job->last_report = report;
    job->history.push_back({status, options_.clock.wall(), job->worker, {}, report});
    return {};
}

std::size_t JobStore::expire_leases() {
    std::lock_guard lock(mutex_);
    return expire_locked();
}

JobStore::Stats JobStore::stats() {
    std::lock_guard lock(mutex_);
    expire_locked();
    Stats s;
    s.total = jobs_.size();
    for (const auto& job : jobs_) {
        ++s.by_status[static_cast<std::size_t>(job.status)];
        s.claims += job.claims;
        s.lease_expirations += job.lease_expirations;
        s.heartbeats += job.heartbeats;
    }
    return s;
}

bool JobStore::all_final() {
    std::lock_guard lock(mutex_);
    expire_locked();
    if (jobs_.empty()) return false;
    for (const auto& job : jobs_) {
        if (!is_final(job.status)) return false;
    }
    return true;
}

Job* JobStore::find_locked(const std::string& id) {
    const auto it = index_.find(id);
    return it == index_.end() ? nullptr : &jobs_[it->second];
}

std::size_t JobStore::expire_locked() {
    const auto now = options_.clock.steady();
    std::size_t n = 0;
    for (auto& job : jobs_) {
        if (holds_lease(job.status) && now >= job.lease_deadline) {
            revoke_locked(job, "lease_expired");
            ++n;
        }
    }
    return n;
}

void JobStore::revoke_locked(Job& job, std::string_view reason) {
    job.revoked_token = std::move(job.lease_token);
    job.lease_token.clear();
    ++job.lease_expirations;
    // Every claim of it ended without a result: the job is what kills its workers.
    const bool exhausted = options_.max_attempts > 0 && job.claims >= options_.max_attempts;
    if (on_revoke_) on_revoke_(job, exhausted ? "attempts_exhausted" : reason);
    if (exhausted) {
        StatusReport report;
        report.error_class = "AttemptsExhausted";
        report.error_message = fmt::format(
            "gave up after {} attempts: each claim's lease lapsed without a result (last: {}), "
            "so whatever rendered it died each time (out of memory? check the workers' "
            "restarts and OOM kills) rather than report an error",
            job.claims, reason);
        job.history.push_back(
            {JobStatus::Errored, options_.clock.wall(), job.worker, "attempts_exhausted", report});
        job.status = JobStatus::Errored;
        job.last_report = std::move(report);
        job.worker.clear();
        return;
    }
    job.history.push_back(
        {JobStatus::Queued, options_.clock.wall(), job.worker, std::string(reason), {}});
    job.status = JobStatus::Queued;
    job.worker.clear();
}

// 410 for the holder of a lease the API took back, 409 for anyone else without the lease.
// Every lease has a token, so a post without one is never the holder's: a worker that forgot
// the token, or a client posting on someone else's lease, gets 409 and changes nothing.
JobStore::Outcome JobStore::check_lease_locked(const Job& job,
                                               const std::optional<std::string>& token,
                                               std::optional<JobStatus> wanted) const {
    if (holds_lease(job.status)) {
        if (!token) return {Code::Conflict, "lease_token is required: the job's lease has one"};
        if (*token != job.lease_token) {
            return {Code::Conflict, "lease_token does not match the current lease"};
        }
        return {};
    }
    if (job.status == JobStatus::Queued && job.lease_expirations > 0 && token &&
        *token == job.revoked_token) {
        return {Code::Gone,
                fmt::format("the lease on job {} expired; it was requeued", job.spec.id)};
    }
    if (wanted) return {Code::Conflict, transition_message(job.status, *wanted)};
    return {Code::Conflict,
            fmt::format("job {} is {}, not leased", job.spec.id, to_string(job.status))};
}

JobStore::Lease JobStore::extend_locked(Job& job) {
    const std::chrono::seconds ttl(job.spec.lease_seconds);
    job.lease_deadline = options_.clock.steady() + ttl;
    job.lease_expires_at = options_.clock.wall() + ttl;
    return {job.lease_token, job.lease_expires_at, job.spec.lease_seconds};
}

std::string JobStore::new_token_locked() {
    return fmt::format("{:016x}{:016x}", token_rng_(), token_rng_());
}

}  // namespace renderer::devapi

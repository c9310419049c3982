// In-memory, thread-safe job store for the reference API: jobs in creation order, leases with
// monotonic deadlines, the legal status transitions, and lazy lease expiry on every call.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "devapi/job.h"

namespace renderer::devapi {

class JobStore {
  public:
    // Injectable so tests can move time without sleeping.
    struct Clock {
        std::function<SteadyClock::time_point()> steady = [] { return SteadyClock::now(); };
        std::function<WallClock::time_point()> wall = [] { return WallClock::now(); };
    };

    struct Options {
        int default_lease_seconds = 120;
        // Fault injection: after this many successful heartbeats on one lease the next one is
        // refused and the lease revoked (0 = never).
        int heartbeat_refuse_after = 0;
        // A job whose lease lapsed this many times without a final status (its worker died each
        // time: an out-of-memory kill, a crash) ends `errored` (AttemptsExhausted) instead of
        // being requeued for the next worker to die on. 0 = requeue for ever.
        int max_attempts = 5;
        Clock clock;
    };

    // Maps one-to-one onto HTTP answers: 200/201, 404, 409, 410.
    enum class Code { Ok, NotFound, Conflict, Gone };

    struct Outcome {
        Code code = Code::Ok;
        std::string message;
        bool ok() const { return code == Code::Ok; }
    };

    struct Lease {
        std::string token;
        WallClock::time_point expires_at;
        int seconds = 0;
    };

    struct Listing {
        std::vector<Job> jobs;
        std::size_t queue_depth = 0;  // all queued jobs, not only those listed
        // Work not finished: queued + claimed + rendering. What an autoscaler sizes a fleet of
        // long-lived workers by (queue_depth drops to 0 while every worker is busy).
        std::size_t backlog = 0;
    };

    struct Stats {
        std::array<std::size_t, kAllStatuses.size()> by_status{};
        std::size_t total = 0;
        long claims = 0;
        long lease_expirations = 0;
        long heartbeats = 0;
    };

    // Told about every lease the store takes back (reason "lease_expired", "heartbeat_refused",
    // or "attempts_exhausted" when that ends the job). Runs under the store's lock: it must not
    // call the store.
    using RevokeListener = std::function<void(const Job&, std::string_view reason)>;

    JobStore();
    explicit JobStore(Options options);

    void set_revoke_listener(RevokeListener listener);
    // The store's wall clock: what its stated expiries are counted on.
    WallClock::time_point wall_now() const { return options_.clock.wall(); }
    int default_lease_seconds() const { return options_.default_lease_seconds; }

    // Conflict when the id exists. A spec with lease_seconds 0 gets the default.
    Outcome add(JobSpec spec);
    std::optional<Job> get(const std::string& id);
    Listing list(std::optional<JobStatus> status, std::size_t limit);

    Outcome claim(const std::string& id, const std::string& worker, Lease& lease);
    Outcome heartbeat(const std::string& id, const std::optional<std::string>& token, Lease& lease);
    Outcome post_status(const std::string& id, JobStatus status,
                        const std::optional<std::string>& token, const StatusReport& report);

    // Requeues every job whose lease deadline has passed; returns how many.
    std::size_t expire_leases();
    Stats stats();
    // True once at least one job exists and every job is rendered or errored.
    bool all_final();

  private:
    Job* find_locked(const std::string& id);
    std::size_t expire_locked();
    void revoke_locked(Job& job, std::string_view reason);
    // `wanted` names the status post being checked; nullopt for a heartbeat.
    Outcome check_lease_locked(const Job& job, const std::optional<std::string>& token,
                               std::optional<JobStatus> wanted) const;
    Lease extend_locked(Job& job);
    std::string new_token_locked();

    Options options_;
    std::mutex mutex_;
    std::vector<Job> jobs_;  // creation order, which is also the queue order
    std::unordered_map<std::string, std::size_t> index_;
    std::mt19937_64 token_rng_;
    RevokeListener on_revoke_;
};

}  // namespace renderer::devapi

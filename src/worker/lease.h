// A job's lease as the worker keeps it, and every rule about it in one place: how long a grant
// lasts on our clock (whatever the API's clock says), when each heartbeat is due, the margin
// left for publishing, and when a render that will not stop stops being renewed. The deadline
// lives on the monotonic clock and fails closed: once it passes without a successful heartbeat
// the lease counts as lost, whatever the API thinks.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/log.h"
#include "worker/api_client.h"
#include "worker/api_messages.h"
#include "worker/stop_flag.h"
#include "worker/worker_config.h"

namespace renderer::worker {

// What one claim or heartbeat answer grants, on our clock.
struct LeaseTerms {
    std::chrono::milliseconds length{0};  // granted, capped at LEASE_SECONDS
    SteadyClock::time_point deadline;     // when the request was sent + length
    // The API's wall clock minus ours, when the answer shows it (its Date header, or an expiry
    // that disagrees with the lease_seconds beside it).
    std::optional<std::chrono::milliseconds> clock_skew;
};

// DESIGN.md §5 "Clocks disagree". The API's and the worker's wall clocks may differ by any
// amount, so a stated expiry is never read on our clock when anything skew-free is at hand.
class LeasePolicy {
  public:
    // Skew beyond this is logged (`clock_skew`): the Date header has one-second resolution and
    // an answer takes a moment to arrive, so smaller differences are noise.
    static constexpr std::chrono::seconds kSkewWorthLogging{5};

    // LEASE_SECONDS (the cap on every lease) and HEARTBEAT_INTERVAL_SEC (0: a third of the lease).
    explicit LeasePolicy(const WorkerConfig& config);
    LeasePolicy(std::chrono::seconds max_lease, std::chrono::milliseconds configured_interval);

    // Length: the granted `lease_seconds`, else the expiry minus the answer's Date (less the
    // Date's one-second resolution), else `fallback` (the job's listed lease_seconds, or the
    // lease's current length for a bare heartbeat answer), else the expiry read on our clock;
    // capped at LEASE_SECONDS in every case. Counted from `sent_at`, when the request left, so
    // the time the answer took never lengthens the lease.
    LeaseTerms terms(const LeaseGrant& grant, std::optional<std::chrono::milliseconds> fallback,
                     SteadyClock::time_point sent_at) const;

    // HEARTBEAT_INTERVAL_SEC when set and shorter than the lease, else a third of the lease, so
    // two beats can fail before it lapses. The start log shows it for a lease of LEASE_SECONDS.
    std::chrono::milliseconds interval(std::chrono::milliseconds length) const;
    std::chrono::milliseconds nominal_interval() const { return interval(max_lease_); }

    // The next beat after a request sent at `sent_at` was granted `terms`: the earlier of the
    // interval and a third of the time actually left.
    SteadyClock::time_point next_beat(SteadyClock::time_point sent_at,
                                      const LeaseTerms& terms) const;

    // The artifact is renamed into place only while the lease has at least this much left.
    static std::chrono::milliseconds publish_margin(std::chrono::milliseconds length);

    // How long past JOB_TIMEOUT_SEC a render that has not stopped keeps its lease renewed: one
    // lease. A cancelled render stops within a frame; one that does not is hung, and its lease
    // is left to lapse so the API can requeue the job.
    static std::chrono::milliseconds hung_grace(std::chrono::milliseconds length) { return length; }

    std::chrono::seconds max_lease() const { return max_lease_; }

  private:
    std::chrono::seconds max_lease_;
    std::chrono::milliseconds configured_interval_;
};

class Lease {
  public:
    Lease(std::optional<std::string> token, const LeaseTerms& terms);

    const std::optional<std::string>& token() const { return token_; }
    std::chrono::milliseconds length() const;
    SteadyClock::time_point deadline() const;
    // A heartbeat's grant; ignored once the lease is lost.
    void extend(const LeaseTerms& terms);

    // Marks the lease lost; the first reason is kept. Returns true for the call that marked it.
    bool lose(std::string reason);
    // Lost when marked so, or when the deadline has passed.
    bool lost() const;
    std::string lost_reason() const;
    // Live, with at least `margin` left before the deadline.
    bool live_for(std::chrono::milliseconds margin) const;

  private:
    const std::optional<std::string> token_;
    mutable std::mutex mutex_;
    std::chrono::milliseconds length_;
    SteadyClock::time_point deadline_;
    std::optional<std::string> lost_reason_;
};

// Extends a lease until stopped, each beat when the policy says it is due. Declares it lost
// when a heartbeat answers 404/409/410 or when the deadline passes without a successful one;
// `on_lost` then runs once, on the heartbeat thread. Past `renew_until` it sends no more beats
// (a hung render), so the lease lapses at its deadline.
class Heartbeat {
  public:
    struct Hooks {
        std::function<void()> on_lost;
        std::function<void()> on_extended;
        // A beat that did not extend the lease: no answer, an error, or refused.
        std::function<void()> on_failed;
        std::function<void()> on_renewal_stopped;
    };

    Heartbeat(ApiClient& api, const Job& job, Lease& lease, const LeasePolicy& policy,
              SteadyClock::time_point first_beat, SteadyClock::time_point renew_until,
              const log::Context& log, Hooks hooks);
    ~Heartbeat();
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;

    // Stops and joins the thread (idempotent); a request in flight is abandoned.
    void stop();

  private:
    void loop();
    void declare_lost(std::string reason);

    ApiClient& api_;
    const Job& job_;
    Lease& lease_;
    const LeasePolicy& policy_;
    const SteadyClock::time_point first_beat_;
    const SteadyClock::time_point renew_until_;
    const log::Context& log_;
    Hooks hooks_;
    StopFlag stop_;
    std::thread thread_;
};

}  // namespace renderer::worker

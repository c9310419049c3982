// A job's lease as the worker keeps it: a local deadline on the monotonic clock (fail closed:
// once it passes without a successful heartbeat the lease counts as lost, whatever the API
// thinks), and the heartbeat thread that extends it.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/log.h"
#include "worker/api_client.h"
#include "worker/job.h"
#include "worker/stop_flag.h"

namespace renderer::worker {

class Lease {
  public:
    Lease(std::optional<std::string> token, std::chrono::milliseconds duration,
          SteadyClock::time_point deadline);

    const std::optional<std::string>& token() const { return token_; }
    std::chrono::milliseconds duration() const { return duration_; }

    SteadyClock::time_point deadline() const;
    void extend(SteadyClock::time_point deadline);

    // Marks the lease lost; the first reason is kept. Returns true for the call that marked it.
    bool lose(std::string reason);
    // Lost when marked so, or when the deadline has passed.
    bool lost() const;
    std::string lost_reason() const;
    // Live, with at least `margin` left before the deadline.
    bool live_for(std::chrono::milliseconds margin) const;

    // The deadline a grant implies, counted from when its request was sent: our own clock plus
    // the lease length, or the API's stated expiry if that comes sooner (clock skew must never
    // make us believe in a lease the API has already ended).
    static SteadyClock::time_point deadline_for(const LeaseGrant& grant,
                                                std::chrono::milliseconds duration,
                                                SteadyClock::time_point sent_at);

  private:
    const std::optional<std::string> token_;
    const std::chrono::milliseconds duration_;
    mutable std::mutex mutex_;
    SteadyClock::time_point deadline_;
    std::optional<std::string> lost_reason_;
};

// Extends a lease every `interval` until stopped. Declares it lost when a heartbeat answers
// 404/409/410 or when the deadline passes without a successful one; `on_lost` then runs once,
// on the heartbeat thread.
class Heartbeat {
  public:
    struct Hooks {
        std::function<void()> on_lost;
        std::function<void()> on_extended;
    };

    Heartbeat(ApiClient& api, const Job& job, Lease& lease, std::chrono::milliseconds interval,
              const log::Context& log, Hooks hooks);
    ~Heartbeat();
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;

    // Stops and joins the thread (idempotent); an in-flight request is abandoned at its next
    // back-off.
    void stop();

  private:
    void loop();
    void declare_lost(std::string reason);

    ApiClient& api_;
    const Job& job_;
    Lease& lease_;
    const std::chrono::milliseconds interval_;
    const log::Context& log_;
    Hooks hooks_;
    StopFlag stop_;
    std::thread thread_;
};

}  // namespace renderer::worker

#include "worker/lease.h"

#include <algorithm>

#include <fmt/format.h>

namespace renderer::worker {
namespace {

using std::chrono::milliseconds;

milliseconds ms(WallClock::duration d) { return std::chrono::duration_cast<milliseconds>(d); }

}  // namespace

LeasePolicy::LeasePolicy(const WorkerConfig& config)
    : LeasePolicy(std::chrono::seconds(config.lease_seconds),
                  milliseconds(config.heartbeat_interval_ms)) {}

LeasePolicy::LeasePolicy(std::chrono::seconds max_lease, milliseconds configured_interval)
    : max_lease_(max_lease), configured_interval_(configured_interval) {}

LeaseTerms LeasePolicy::terms(const LeaseGrant& grant, std::optional<milliseconds> fallback,
                              SteadyClock::time_point sent_at) const {
    LeaseTerms t;
    if (grant.lease_seconds) {
        t.length = std::chrono::seconds(*grant.lease_seconds);
    } else if (grant.expires_at && grant.answered_at) {
        // Both times are the API's own, so skew cancels out. Date has whole seconds: counting a
        // second less never makes the lease longer than the API meant.
        t.length = ms(*grant.expires_at - *grant.answered_at) - std::chrono::seconds(1);
    } else if (fallback) {
        t.length = *fallback;
    } else if (grant.expires_at) {
        // Nothing skew-free at hand: read the expiry on our clock, and let the cap bound it.
        t.length = ms(*grant.expires_at - grant.received_at);
    } else {
        t.length = max_lease_;
    }
    t.length = std::clamp<milliseconds>(t.length, milliseconds(0), max_lease_);
    t.deadline = sent_at + t.length;

    if (grant.answered_at) {
        t.clock_skew = ms(*grant.answered_at - grant.received_at);
    } else if (grant.expires_at && (grant.lease_seconds || fallback)) {
        // An expiry that sits further from our clock than the stated length says the clocks
        // disagree by the difference.
        const milliseconds stated =
            grant.lease_seconds ? std::chrono::seconds(*grant.lease_seconds) : *fallback;
        t.clock_skew = ms(*grant.expires_at - grant.received_at) - stated;
    }
    return t;
}

milliseconds LeasePolicy::interval(milliseconds length) const {
    if (configured_interval_.count() > 0 && configured_interval_ < length)
        return configured_interval_;
    return std::max(length / 3, milliseconds(1));
}

SteadyClock::time_point LeasePolicy::next_beat(SteadyClock::time_point sent_at,
                                               const LeaseTerms& terms) const {
    // A slow answer (retries, a loaded API) leaves less of the lease than its length: a third of
    // what is really left keeps two more chances to beat before the deadline.
    const auto now = SteadyClock::now();
    const auto left = std::max(terms.deadline - now, SteadyClock::duration::zero());
    return std::min(sent_at + interval(terms.length), now + left / 3);
}

milliseconds LeasePolicy::publish_margin(milliseconds length) {
    return std::min(length / 4, milliseconds(5000));
}

Lease::Lease(std::optional<std::string> token, const LeaseTerms& terms)
    : token_(std::move(token)), length_(terms.length), deadline_(terms.deadline) {}

milliseconds Lease::length() const {
    std::lock_guard lock(mutex_);
    return length_;
}

SteadyClock::time_point Lease::deadline() const {
    std::lock_guard lock(mutex_);
    return deadline_;
}

void Lease::extend(const LeaseTerms& terms) {
    std::lock_guard lock(mutex_);
    if (lost_reason_) return;
    length_ = terms.length;
    deadline_ = terms.deadline;
}

bool Lease::lose(std::string reason) {
    std::lock_guard lock(mutex_);
    if (lost_reason_) return false;
    lost_reason_ = std::move(reason);
    return true;
}

bool Lease::lost() const {
    std::lock_guard lock(mutex_);
    return lost_reason_.has_value() || SteadyClock::now() >= deadline_;
}

std::string Lease::lost_reason() const {
    std::lock_guard lock(mutex_);
    if (lost_reason_) return *lost_reason_;
    if (SteadyClock::now() >= deadline_) return "no heartbeat succeeded before the lease deadline";
    return {};
}

bool Lease::live_for(milliseconds margin) const {
    std::lock_guard lock(mutex_);
    return !lost_reason_ && SteadyClock::now() + margin < deadline_;
}

Heartbeat::Heartbeat(ApiClient& api, const Job& job, Lease& lease, const LeasePolicy& policy,
                     SteadyClock::time_point first_beat, SteadyClock::time_point renew_until,
                     const log::Context& log, Hooks hooks)
    : api_(api),
      job_(job),
      lease_(lease),
      policy_(policy),
      first_beat_(first_beat),
      renew_until_(renew_until),
      log_(log),
      hooks_(std::move(hooks)) {
    thread_ = std::thread([this] { loop(); });
}

Heartbeat::~Heartbeat() { stop(); }

void Heartbeat::stop() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
}

void Heartbeat::declare_lost(std::string reason) {
    if (lease_.lose(std::move(reason)) && hooks_.on_lost) hooks_.on_lost();
}

void Heartbeat::loop() {
    auto next_beat = first_beat_;
    bool renewing = true;
    for (;;) {
        // Wake for the next beat, at the end of renewal, or at the deadline to fail closed if
        // every beat failed (or none is sent any more).
        const auto wake =
            renewing ? std::min({next_beat, lease_.deadline(), renew_until_}) : lease_.deadline();
        if (stop_.wait_until(wake)) return;
        if (lease_.lost()) {
            declare_lost(renewing ? lease_.lost_reason()
                                  : "the render did not stop after JOB_TIMEOUT_SEC and its grace "
                                    "period; the lease was left to lapse");
            return;
        }
        const auto now = SteadyClock::now();
        if (renewing && now >= renew_until_) {
            renewing = false;
            if (hooks_.on_renewal_stopped) hooks_.on_renewal_stopped();
        }
        if (!renewing || now < next_beat) continue;

        const auto sent_at = now;
        auto result = api_.heartbeat(job_, lease_.token(), lease_.deadline(), &stop_, log_);
        if (stop_.stop_requested()) return;
        switch (result.answer) {
            case LeaseAnswer::Ok: {
                // A bare answer (no expiry, no lease_seconds) renews for the same length.
                const auto terms = policy_.terms(result.grant, lease_.length(), sent_at);
                lease_.extend(terms);
                if (hooks_.on_extended) hooks_.on_extended();
                log_.debug("heartbeat",
                           {{"lease_expires_at", result.grant.expires_at_text},
                            {"lease_sec", std::chrono::duration<double>(terms.length).count()}});
                next_beat = policy_.next_beat(sent_at, terms);
                break;
            }
            case LeaseAnswer::Lost:
                if (hooks_.on_failed) hooks_.on_failed();
                declare_lost(result.detail);
                return;
            case LeaseAnswer::Rejected:
            case LeaseAnswer::Unreachable:
                if (hooks_.on_failed) hooks_.on_failed();
                // Not lost yet: keep trying until the deadline decides.
                log_.warn("heartbeat_failed", {{"reason", result.detail}});
                next_beat = SteadyClock::now() +
                            std::min(policy_.interval(lease_.length()), milliseconds(1000));
                break;
        }
    }
}

}  // namespace renderer::worker

#include "worker/lease.h"

#include <fmt/format.h>

namespace renderer::worker {

Lease::Lease(std::optional<std::string> token, std::chrono::milliseconds duration,
             SteadyClock::time_point deadline)
    : token_(std::move(token)), duration_(duration), deadline_(deadline) {}

SteadyClock::time_point Lease::deadline() const {
    std::lock_guard lock(mutex_);
    return deadline_;
}

void Lease::extend(SteadyClock::time_point deadline) {
    std::lock_guard lock(mutex_);
    if (!lost_reason_) deadline_ = deadline;
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

bool Lease::live_for(std::chrono::milliseconds margin) const {
    std::lock_guard lock(mutex_);
    return !lost_reason_ && SteadyClock::now() + margin < deadline_;
}

SteadyClock::time_point Lease::deadline_for(const LeaseGrant& grant,
                                            std::chrono::milliseconds duration,
                                            SteadyClock::time_point sent_at) {
    auto deadline = sent_at + duration;
    if (grant.expires_at) {
        const auto stated = SteadyClock::now() + (*grant.expires_at - WallClock::now());
        deadline = std::min(deadline, std::chrono::time_point_cast<SteadyClock::duration>(stated));
    }
    return deadline;
}

Heartbeat::Heartbeat(ApiClient& api, const Job& job, Lease& lease,
                     std::chrono::milliseconds interval, const log::Context& log, Hooks hooks)
    : api_(api),
      job_(job),
      lease_(lease),
      interval_(interval),
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
    auto next_beat = SteadyClock::now() + interval_;
    for (;;) {
        // Wake for the next beat, or at the deadline to fail closed if every beat failed.
        if (stop_.wait_until(std::min(next_beat, lease_.deadline()))) return;
        if (lease_.lost()) {
            declare_lost(lease_.lost_reason());
            return;
        }
        if (SteadyClock::now() < next_beat) continue;

        const auto sent_at = SteadyClock::now();
        auto result = api_.heartbeat(job_, lease_.token(), lease_.deadline(), &stop_, log_);
        if (stop_.stop_requested()) return;
        switch (result.answer) {
            case LeaseAnswer::Ok:
                lease_.extend(Lease::deadline_for(result.grant, lease_.duration(), sent_at));
                if (hooks_.on_extended) hooks_.on_extended();
                log_.debug("heartbeat", {{"lease_expires_at", result.grant.expires_at_text}});
                next_beat = sent_at + interval_;
                break;
            case LeaseAnswer::Lost:
                declare_lost(result.detail);
                return;
            case LeaseAnswer::Rejected:
            case LeaseAnswer::Unreachable:
                // Not lost yet: keep trying until the deadline decides.
                log_.warn("heartbeat_failed", {{"reason", result.detail}});
                next_beat =
                    SteadyClock::now() + std::min(interval_, std::chrono::milliseconds(1000));
                break;
        }
    }
}

}  // namespace renderer::worker

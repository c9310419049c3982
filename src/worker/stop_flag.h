// A stop request that sleeping threads can wait on: poll loops, retry back-offs and heartbeats
// sleep through it so a shutdown or a cancel wakes them at once instead of after the sleep.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace renderer::worker {

class StopFlag {
  public:
    void request_stop() {
        {
            std::lock_guard lock(mutex_);
            stopped_ = true;
        }
        cv_.notify_all();
    }

    bool stop_requested() const { return stopped_.load(); }

    // Sleeps until `deadline` unless a stop comes first; returns true when stopped.
    template <typename Clock, typename Duration>
    bool wait_until(std::chrono::time_point<Clock, Duration> deadline) const {
        std::unique_lock lock(mutex_);
        return cv_.wait_until(lock, deadline, [this] { return stopped_.load(); });
    }

    template <typename Rep, typename Period>
    bool wait_for(std::chrono::duration<Rep, Period> duration) const {
        return wait_until(std::chrono::steady_clock::now() + duration);
    }

  private:
    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    std::atomic<bool> stopped_{false};
};

}  // namespace renderer::worker

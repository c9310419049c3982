#include "worker/disk_monitor.h"

#include <array>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "common/paths.h"

namespace renderer::worker {

using SteadyClock = std::chrono::steady_clock;

// Shared with the measuring thread, which may outlive the monitor while stuck in statvfs.
struct DiskMonitor::State {
    struct Dir {
        std::string name;  // OUTPUT_DIR, TMP_DIR
        std::filesystem::path path;
        Gauge* gauge = nullptr;
    };
    std::array<Dir, 2> dirs;
    std::uint64_t min_free_bytes = 0;
    std::chrono::milliseconds interval{};
    std::chrono::milliseconds stuck_after{};
    FreeBytesFn free_bytes;

    mutable std::mutex mutex;
    std::condition_variable cv;
    bool stopping = false;
    bool started = false;
    bool measured = false;  // a full round has completed
    std::array<std::optional<std::uint64_t>, 2> free{};
    std::optional<std::size_t> measuring;  // the dir being measured now
    SteadyClock::time_point measuring_since{};

    void loop() {
        std::unique_lock lock(mutex);
        while (!stopping) {
            for (std::size_t i = 0; i < dirs.size(); ++i) {
                measuring = i;
                measuring_since = SteadyClock::now();
                lock.unlock();
                const auto value = free_bytes(dirs[i].path);  // may block for good
                lock.lock();
                measuring.reset();
                // The monitor went while this measurement was stuck: measure nothing more (the
                // function may hold what its owner has since destroyed).
                if (stopping) return;
                free[i] = value;
                if (dirs[i].gauge) dirs[i].gauge->set(static_cast<std::int64_t>(value.value_or(0)));
            }
            measured = true;
            cv.wait_for(lock, interval, [this] { return stopping; });
        }
    }
};

DiskMonitor::DiskMonitor(const WorkerConfig& config, Metrics& metrics,
                         std::chrono::milliseconds interval, std::chrono::milliseconds stuck_after,
                         FreeBytesFn free_bytes)
    : state_(std::make_shared<State>()) {
    state_->dirs = {
        State::Dir{"OUTPUT_DIR", config.paths.output_dir, &metrics.disk_free_bytes("output")},
        State::Dir{"TMP_DIR", config.paths.tmp_dir, &metrics.disk_free_bytes("tmp")}};
    state_->min_free_bytes = config.min_free_bytes;
    state_->interval = interval;
    state_->stuck_after = stuck_after;
    state_->free_bytes = free_bytes ? std::move(free_bytes) : FreeBytesFn(&renderer::free_bytes);
}

DiskMonitor::~DiskMonitor() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
        // The gauges belong to the worker's Metrics, which may go before a stuck thread wakes.
        for (auto& d : state_->dirs) d.gauge = nullptr;
    }
    state_->cv.notify_all();
}

void DiskMonitor::start() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->started) return;
        state_->started = true;
    }
    std::thread([state = state_] { state->loop(); }).detach();
}

std::optional<std::string> DiskMonitor::problem() const {
    const auto& s = *state_;
    std::lock_guard lock(s.mutex);
    if (s.measuring) {
        const auto for_how_long = SteadyClock::now() - s.measuring_since;
        if (for_how_long >= s.stuck_after) {
            const auto& d = s.dirs[*s.measuring];
            return fmt::format(
                "disk_check: statvfs of {} {} has not returned for {} s (a stuck mount?); "
                "renders there would hang too",
                d.name, d.path.string(),
                std::chrono::duration_cast<std::chrono::seconds>(for_how_long).count());
        }
    }
    if (!s.measured) return "disk_check: free space not measured yet";
    for (std::size_t i = 0; i < s.dirs.size(); ++i) {
        const auto& d = s.dirs[i];
        if (!s.free[i] || *s.free[i] < s.min_free_bytes) {
            return fmt::format("disk_low: {} {} has {} bytes free, below MIN_FREE_BYTES ({})",
                               d.name, d.path.string(), s.free[i].value_or(0), s.min_free_bytes);
        }
    }
    return std::nullopt;
}

}  // namespace renderer::worker

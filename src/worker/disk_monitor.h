// Measures the free space of OUTPUT_DIR and TMP_DIR on a thread of its own, so /readyz never
// calls statvfs itself. On a stuck NFS mount statvfs blocks without end: a readiness check that
// calls it holds one of the health server's few threads per probe until none is left and
// /livez times out too, so the kubelet restarts a worker whose only problem is its storage.
// Here a probe reads the last measurement and, when a measurement has not returned for a while,
// says so: "disk_check: statvfs of OUTPUT_DIR /output has not returned for 12 s".
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "worker/metrics.h"
#include "worker/worker_config.h"

namespace renderer::worker {

class DiskMonitor {
  public:
    // statvfs by default (common/paths.h free_bytes); tests pass one that blocks.
    using FreeBytesFn = std::function<std::optional<std::uint64_t>(const std::filesystem::path&)>;

    // Measures every `interval`; a measurement running longer than `stuck_after` is reported.
    DiskMonitor(const WorkerConfig& config, Metrics& metrics, std::chrono::milliseconds interval,
                std::chrono::milliseconds stuck_after, FreeBytesFn free_bytes = {});
    // Returns at once: a measurement stuck in the kernel is left to its (detached) thread, which
    // ends when that call returns; `free_bytes` is never called again once this has returned.
    ~DiskMonitor();
    DiskMonitor(const DiskMonitor&) = delete;
    DiskMonitor& operator=(const DiskMonitor&) = delete;

    void start();
    // Why the disks are not fit to render on (below MIN_FREE_BYTES, unreadable, a measurement
    // stuck, none made yet); nullopt when both have room. Never blocks on the filesystem.
    std::optional<std::string> problem() const;

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace renderer::worker

// Whether this machine has the disk room the worker promises to keep (MIN_FREE_BYTES in
// OUTPUT_DIR and TMP_DIR): asked before claiming, by /readyz, and after a failed render to tell
// the machine's fault (release the job) from the job's (report it errored).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "worker/worker_config.h"

namespace renderer::worker {

struct DiskShortage {
    std::filesystem::path dir;
    std::uint64_t free_bytes = 0;  // 0 when it could not be read
    std::uint64_t min_free_bytes = 0;

    // "OUTPUT_DIR /output has 1048576 bytes free, below MIN_FREE_BYTES (2147483648)"
    std::string describe() const;
};

// The first of OUTPUT_DIR and TMP_DIR with less than MIN_FREE_BYTES free (or whose free space
// cannot be read); nullopt when both have room.
std::optional<DiskShortage> disk_shortage(const WorkerConfig& config);

}  // namespace renderer::worker

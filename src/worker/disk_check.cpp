#include "worker/disk_check.h"

#include <fmt/format.h>

#include "common/paths.h"

namespace renderer::worker {

std::string DiskShortage::describe() const {
    return fmt::format("{} has {} bytes free, below MIN_FREE_BYTES ({})", dir.string(), free_bytes,
                       min_free_bytes);
}

std::optional<DiskShortage> disk_shortage(const WorkerConfig& config) {
    for (const auto* dir : {&config.paths.output_dir, &config.paths.tmp_dir}) {
        const auto free = free_bytes(*dir);
        if (!free || *free < config.min_free_bytes)
            return DiskShortage{*dir, free.value_or(0), config.min_free_bytes};
    }
    return std::nullopt;
}

}  // namespace renderer::worker

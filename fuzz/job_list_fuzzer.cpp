// GET /api/render-jobs answers as the worker parses them: any bytes must end in a JobList whose
// every job has safe ids (they become paths and URL segments), or in ApiError.
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/paths.h"
#include "fuzz/fuzz_targets.h"
#include "worker/api_messages.h"

namespace renderer::fuzz {

int job_list(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    // Odd-sized inputs also bring an X-Queue-Depth header: their first bytes, up to 12.
    std::optional<std::string> header;
    if (size % 2 == 1) header = std::string(body.substr(0, 12));
    try {
        const auto list = worker::parse_job_list(body, header);
        require(list.queue_depth >= 0, "queue_depth is negative");
        for (const auto& job : list.jobs) {
            require(is_safe_id(job.id) && is_safe_id(job.story_id) && is_safe_id(job.part_id),
                    "an accepted job has an unsafe id");
            if (job.lease_seconds) require(*job.lease_seconds >= 1, "lease_seconds below 1");
        }
        for (const auto& rejected : list.rejected) {
            require(rejected.id.size() <= 128, "a rejected id is quoted unbounded");
            require(!rejected.reason.empty(), "a job was rejected without a reason");
        }
    } catch (const Error& e) {
        require(e.error_class() == ErrorClass::ApiError, "parse_job_list threw a non-ApiError");
    }
    return 0;
}

}  // namespace renderer::fuzz

RENDERER_FUZZ_ENTRY(renderer::fuzz::job_list)

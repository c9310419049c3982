#include "devapi/job.h"

#include <array>
#include <cstdio>
#include <ctime>

#include "common/time_format.h"

namespace renderer::devapi {
namespace {

constexpr std::array<std::pair<JobStatus, std::string_view>, 5> kNames{{
    {JobStatus::Queued, "queued"},
    {JobStatus::Claimed, "claimed"},
    {JobStatus::Rendering, "rendering"},
    {JobStatus::Rendered, "rendered"},
    {JobStatus::Errored, "errored"},
}};

}  // namespace

std::string_view to_string(JobStatus status) {
    for (const auto& [s, name] : kNames) {
        if (s == status) return name;
    }
    return "unknown";
}

std::optional<JobStatus> parse_status(std::string_view text) {
    for (const auto& [s, name] : kNames) {
        if (name == text) return s;
    }
    return std::nullopt;
}

bool is_final(JobStatus status) {
    return status == JobStatus::Rendered || status == JobStatus::Errored;
}

bool holds_lease(JobStatus status) {
    return status == JobStatus::Claimed || status == JobStatus::Rendering;
}

std::string to_rfc3339(WallClock::time_point tp) { return format_utc_millis(tp); }

}  // namespace renderer::devapi

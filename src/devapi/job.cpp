#include "devapi/job.h"

#include <array>
#include <cstdio>
#include <ctime>

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

std::string to_rfc3339(WallClock::time_point tp) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch());
    const auto secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
    return buf;
}

}  // namespace renderer::devapi

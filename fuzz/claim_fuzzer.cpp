// Both sides of a claim: the worker parsing the claim/heartbeat answer (lease_expires_at,
// lease_token, RFC 3339 times), and the reference API parsing claim, heartbeat and status bodies.
#include <chrono>
#include <string_view>

#include "common/error.h"
#include "common/time_format.h"
#include "devapi/job.h"
#include "devapi/request_body.h"
#include "fuzz/fuzz_targets.h"
#include "worker/api_messages.h"

namespace renderer::fuzz {
namespace {

void worker_side(std::string_view body, bool require_expiry) {
    try {
        const auto grant = worker::parse_lease_grant(body, require_expiry);
        if (require_expiry) require(grant.expires_at.has_value(), "a claim without an expiry");
        if (grant.lease_seconds) {
            require(*grant.lease_seconds >= 1 && *grant.lease_seconds <= 86400,
                    "lease_seconds out of range");
        }
    } catch (const Error& e) {
        require(e.error_class() == ErrorClass::ApiError, "parse_lease_grant threw a non-ApiError");
    }
}

// What the parser accepts lies in the years it promises, and the API's own formatter writes it
// back to the same instant (to the millisecond it keeps).
void rfc3339_round_trip(std::string_view text) {
    const auto tp = parse_rfc3339(text);
    if (!tp) return;
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(*tp);
    const auto year = year_month_day(floor<days>(ms)).year();
    // (±1: a UTC offset moves the edge years' first and last hours across the new year.)
    require(year >= std::chrono::year(1969) && year <= std::chrono::year(2201),
            "parse_rfc3339 accepted a year it cannot represent safely");
    const auto again = parse_rfc3339(devapi::to_rfc3339(ms));
    require(again.has_value(), "the API's own timestamp does not parse");
    require(*again == ms, "an RFC 3339 time does not round-trip");
}

void api_side(std::string_view body) {
    try {
        devapi::parse_lease_body(body);
    } catch (const devapi::BadRequest&) {
    }
    try {
        const auto post = devapi::parse_status_body(body);
        if (post.status == devapi::JobStatus::Rendered) {
            require(post.report.artifact_path.has_value() && post.report.bytes.has_value(),
                    "rendered accepted without artifact_path and bytes");
        }
    } catch (const devapi::BadRequest&) {
    }
    try {
        devapi::parse_create_body(body);
    } catch (const devapi::BadRequest&) {
    }
}

}  // namespace

int claim(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    worker_side(body, size % 2 == 0);
    rfc3339_round_trip(body);
    api_side(body);
    return 0;
}

}  // namespace renderer::fuzz

RENDERER_FUZZ_ENTRY(renderer::fuzz::claim)

// Back-off for everything the worker retries (HTTP calls, transient render failures):
// exponential with full jitter, so many workers hitting one struggling API spread out instead of
// retrying in lock step.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace renderer::worker {

struct RetryPolicy {
    int max_attempts = 4;  // including the first
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{8000};
    std::chrono::milliseconds max_total{30000};  // from the first attempt's start
    // No retry comes sooner than this, whatever a server's Retry-After says: `Retry-After: 0`
    // (or full jitter drawing 0) must not turn a retry loop into a busy loop.
    std::chrono::milliseconds min_delay{100};
};

// Uniform in [min_delay, max(min_delay, min(max_delay, base_delay * 2^(attempt-1)))]; `attempt`
// is the one that failed (1 for the first).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt);

// The wait before the next attempt: the back-off, or the server's Retry-After when that is
// longer. Retry-After may lengthen the wait, never shorten it below the back-off's floor.
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after);

// A Retry-After header in delta-seconds ("120"). HTTP dates are not honoured (nullopt): the
// caller falls back to its own back-off.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header);

// `nominal` ± `fraction` (0.2 = ±20 %), uniformly; spreads the polls of many workers.
std::chrono::milliseconds jittered(std::chrono::milliseconds nominal, double fraction);

}  // namespace renderer::worker

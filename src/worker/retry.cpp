#include "worker/retry.h"

#include <algorithm>
#include <charconv>
#include <random>

namespace renderer::worker {
namespace {

std::mt19937_64& rng() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return engine;
}

}  // namespace

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) {
    const int shift = std::clamp(attempt - 1, 0, 30);
    const auto base = std::max<std::int64_t>(policy.base_delay.count(), 1);
    const auto cap = std::min<std::int64_t>(policy.max_delay.count(), base << std::min(shift, 20));
    const auto floor = std::max<std::int64_t>(policy.min_delay.count(), 0);
    std::uniform_int_distribution<std::int64_t> dist(floor, std::max(cap, floor));
    return std::chrono::milliseconds(dist(rng()));
}

std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after) {
    const auto backoff = backoff_delay(policy, attempt);
    return retry_after ? std::max(*retry_after, backoff) : backoff;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header) {
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\r'))
        header.remove_suffix(1);
    std::int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    if (header.empty() || ec != std::errc{} || end != header.data() + header.size() ||
        seconds < 0) {
        return std::nullopt;
    }
    // A day is far beyond any retry budget; clamping keeps the arithmetic safe.
    return std::chrono::milliseconds(std::min<std::int64_t>(seconds, 86400) * 1000);
}

std::chrono::milliseconds jittered(std::chrono::milliseconds nominal, double fraction) {
    std::uniform_real_distribution<double> dist(1.0 - fraction, 1.0 + fraction);
    return std::chrono::milliseconds(std::max<std::int64_t>(
        1, static_cast<std::int64_t>(static_cast<double>(nominal.count()) * dist(rng()))));
}

}  // namespace renderer::worker

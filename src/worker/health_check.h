// The client side of /livez and /readyz, for `renderer healthcheck` (the container HEALTHCHECK):
// one GET to the worker's own metrics server, no retries, a short timeout.
#pragma once

#include <chrono>
#include <string>

#include "worker/metrics_server.h"

namespace renderer::worker {

// GETs `url`; ok only for a 200 answer. `detail` says what was seen: the answer's first line,
// or why no answer came (refused, timed out, ...). Never throws.
ProbeResult check_health(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace renderer::worker

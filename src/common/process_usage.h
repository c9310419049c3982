// What this process has spent so far: CPU time of all its threads and peak resident memory,
// with a way to restart the peak so one piece of work can be measured on its own.
#pragma once

#include <cstdint>
#include <optional>

namespace renderer {

// User + system CPU seconds of every thread of the process so far (getrusage RUSAGE_SELF).
double process_cpu_seconds();

// Restarts the process's peak RSS (VmHWM) at its current RSS by writing "5" to
// /proc/self/clear_refs (Linux >= 4.0). False when the kernel refuses it; the peak then counts
// from process start.
bool reset_peak_rss();

// Peak resident set size (VmHWM in /proc/self/status) in bytes; nullopt when unavailable.
std::optional<std::uint64_t> peak_rss_bytes();

}  // namespace renderer

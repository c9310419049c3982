// Reduces `renderer bench` runs to one row per setting: medians with their spread over the
// repeats, and which settings are Pareto-optimal in speed, size and quality.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bench/bench_runner.h"

namespace renderer::bench {

struct Spread {
    double median = 0;
    double min = 0;
    double max = 0;
    // Half the range relative to the median, in percent: "±3%" in the table.
    double half_range_pct() const { return median > 0 ? (max - min) / 2.0 / median * 100.0 : 0; }
};

Spread spread_of(std::vector<double> values);

struct BenchSummary {
    BenchSetting setting;
    int runs = 0;
    Spread wall_sec, cpu_sec, encode_fps, speed;
    std::optional<Spread> peak_rss_bytes;  // absent when the kernel cannot reset the peak
    std::uint64_t bytes = 0;               // median; equal settings give equal bytes anyway
    double kbps = 0;
    double video_kbps = 0;  // the video stream alone (BD-rate's rate)
    QualityScore quality;   // median of each score
    // No other setting is at least as fast (wall time), as small (bytes) and as good (SSIM)
    // while strictly better in one of them.
    bool pareto = false;
};

// One summary per setting, in the order of `settings`; settings without runs are left out.
std::vector<BenchSummary> summarize(const std::vector<BenchRun>& runs,
                                    const std::vector<BenchSetting>& settings);

// Sets `pareto` on every summary.
void mark_pareto(std::vector<BenchSummary>& summaries);

}  // namespace renderer::bench

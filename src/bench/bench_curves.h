// `renderer bench`'s codec comparison: the settings grouped into rate-quality curves (one per
// codec, preset and thread count, its points the crfs) and each curve's Bjøntegaard deltas
// against the anchor curve, on PSNR-Y and on SSIM.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/bench_summary.h"

namespace renderer::bench {

struct CurveComparison {
    BenchSetting curve;  // codec, preset and threads; crf is not part of a curve
    std::string name;    // "hevc:medium" ("/t2" when the report compares threads)
    bool anchor = false;
    std::vector<BenchSummary> points;  // in order of rising video rate
    // Against the anchor: average video-rate difference at equal PSNR-Y and at equal SSIM, in
    // percent (negative: this curve needs less), and average PSNR-Y difference at equal rate,
    // in dB. Absent when the metric is not defined for the pair, and `note` says why.
    std::optional<double> bd_rate_psnr_y;
    std::optional<double> bd_rate_ssim;
    std::optional<double> bd_psnr_y;
    std::string note;
};

// Curves in the order their first setting appears; `anchor` names the anchor curve by codec and
// preset (its threads: the first the grid has for it). Empty when there is no anchor.
std::vector<CurveComparison> compare_curves(const std::vector<BenchSummary>& summaries,
                                            const std::optional<BenchSetting>& anchor,
                                            bool with_threads);

}  // namespace renderer::bench

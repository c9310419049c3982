// `renderer bench --plot`: the trade-off as an SVG scatter plot, size against speed, one point
// per setting labelled with its preset/crf and SSIM, the Pareto front drawn through the
// settings nothing beats.
#pragma once

#include <string>

#include "bench/bench_report.h"

namespace renderer::bench {

// A standalone SVG document (well-formed XML, every text escaped). Each setting is one
// <circle class="point …"> carrying data-setting="<id>".
std::string bench_plot_svg(const BenchReport& report);

}  // namespace renderer::bench

// Bjøntegaard delta metrics: how much less rate one rate-quality curve needs than another for the
// same quality (BD-rate), and how much more quality it gives for the same rate (BD-PSNR), with
// the piecewise cubic Hermite (PCHIP) interpolation of the JCT-VC/JVET common test conditions.
#pragma once

#include <span>
#include <stdexcept>

namespace renderer::bench {

// One encode of a curve: its rate (any unit, the same for both curves; > 0) and its quality
// (PSNR in dB, SSIM, ...; higher is better).
struct RdPoint {
    double rate;
    double quality;
};

// Fewer than kBdMinPoints points, a curve whose quality does not rise with its rate, a rate that
// is not positive, two rates too close for their log10 to differ, two curves whose quality
// (rate) ranges do not overlap, or a rate ratio beyond a double: the metric is not defined, and
// the message says which of these it was.
class BdUndefined : public std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

inline constexpr std::size_t kBdMinPoints = 4;

// Average rate difference of `test` against `anchor` over the qualities both reach, in percent
// (negative: `test` needs less rate). log10(rate) is interpolated as a function of quality.
double bd_rate_percent(std::span<const RdPoint> anchor, std::span<const RdPoint> test);

// Average quality difference of `test` against `anchor` over the rates both span (BD-PSNR when
// the quality is PSNR), in the quality's unit; quality is interpolated over log10(rate).
double bd_quality(std::span<const RdPoint> anchor, std::span<const RdPoint> test);

}  // namespace renderer::bench

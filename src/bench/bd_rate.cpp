#include "bench/bd_rate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace renderer::bench {
namespace {

struct Knot {
    double x;
    double y;
};

// The sign the PCHIP rules compare: 0 for 0.
int sign(double v) { return (v > 0) - (v < 0); }

// The slope at an end knot: a three-point estimate, then held to the data's shape (zero when it
// points against the first secant, at most three secants when the secants change sign), as
// Fritsch-Carlson's method and the CTC spreadsheet do.
double end_slope(double h1, double h2, double delta1, double delta2) {
    double d = ((2 * h1 + h2) * delta1 - h1 * delta2) / (h1 + h2);
    if (sign(d) != sign(delta1)) return 0;
    if (sign(delta1) != sign(delta2) && std::abs(d) > std::abs(3 * delta1)) return 3 * delta1;
    return d;
}

// The integral from lo to hi of the PCHIP interpolant through `knots` (x strictly increasing,
// at least 3 knots); [lo, hi] lies within the knots' range.
double pchip_integral(const std::vector<Knot>& knots, double lo, double hi) {
    const std::size_t n = knots.size();
    std::vector<double> h(n - 1), delta(n - 1), d(n);
    for (std::size_t k = 0; k + 1 < n; ++k) {
        h[k] = knots[k + 1].x - knots[k].x;
        delta[k] = (knots[k + 1].y - knots[k].y) / h[k];
    }
    // Interior slopes: a weighted harmonic mean of the neighbouring secants, zero at a local
    // extremum, so the interpolant never overshoots the data (what a polynomial fit can do).
    for (std::size_t k = 1; k + 1 < n; ++k) {
        if (sign(delta[k - 1]) * sign(delta[k]) <= 0) {
            d[k] = 0;
            continue;
        }
        const double w1 = 2 * h[k] + h[k - 1];
        const double w2 = h[k] + 2 * h[k - 1];
        d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]);
    }
    d[0] = end_slope(h[0], h[1], delta[0], delta[1]);
    d[n - 1] = end_slope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);

    // On segment k, with s = x - x_k: y_k + d_k s + c s^2 + b s^3.
    double sum = 0;
    for (std::size_t k = 0; k + 1 < n; ++k) {
        const double s0 = std::clamp(knots[k].x, lo, hi) - knots[k].x;
        const double s1 = std::clamp(knots[k + 1].x, lo, hi) - knots[k].x;
        if (s1 <= s0) continue;
        const double c = (3 * delta[k] - 2 * d[k] - d[k + 1]) / h[k];
        const double b = (d[k] - 2 * delta[k] + d[k + 1]) / (h[k] * h[k]);
        const auto primitive = [&](double s) {
            return s * (knots[k].y + s * (d[k] / 2 + s * (c / 3 + s * b / 4)));
        };
        sum += primitive(s1) - primitive(s0);
    }
    return sum;
}

// The curve as knots sorted by rate, each rate as log10; refused with the reason when the metric
// is not defined for it.
std::vector<Knot> log_rate_curve(std::span<const RdPoint> points, const char* which) {
    if (points.size() < kBdMinPoints) {
        throw BdUndefined(
            fmt::format("BD metrics need at least {} rate-quality points per curve; the {} has {}",
                        kBdMinPoints, which, points.size()));
    }
    std::vector<RdPoint> sorted(points.begin(), points.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const RdPoint& a, const RdPoint& b) { return a.rate < b.rate; });
    std::vector<Knot> knots;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        if (!(sorted[i].rate > 0) || !std::isfinite(sorted[i].rate) ||
            !std::isfinite(sorted[i].quality)) {
            throw BdUndefined(fmt::format("the {} has a point with rate {} and quality {}", which,
                                          sorted[i].rate, sorted[i].quality));
        }
        if (i > 0 &&
            !(sorted[i].rate > sorted[i - 1].rate && sorted[i].quality > sorted[i - 1].quality)) {
            throw BdUndefined(fmt::format(
                "the {}'s quality does not rise with its rate (rate {} gives {}, rate {} gives {})",
                which, sorted[i - 1].rate, sorted[i - 1].quality, sorted[i].rate,
                sorted[i].quality));
        }
        knots.push_back({.x = std::log10(sorted[i].rate), .y = sorted[i].quality});
        // Distinct rates can share a log10 (1e6 and the next double): a knot spacing of zero
        // would be a vertical step the interpolation divides by.
        if (i > 0 && !(knots[i].x > knots[i - 1].x)) {
            throw BdUndefined(fmt::format("the {}'s rates {} and {} are too close to tell apart",
                                          which, sorted[i - 1].rate, sorted[i].rate));
        }
    }
    return knots;
}

std::vector<Knot> swapped(std::vector<Knot> knots) {
    for (auto& k : knots) std::swap(k.x, k.y);
    return knots;
}

// The mean of test minus anchor over the x both cover.
double mean_difference(const std::vector<Knot>& anchor, const std::vector<Knot>& test,
                       const char* axis) {
    const double lo = std::max(anchor.front().x, test.front().x);
    const double hi = std::min(anchor.back().x, test.back().x);
    if (!(hi > lo)) {
        throw BdUndefined(
            fmt::format("the anchor's and the test's {} ranges do not overlap ({:.5g}..{:.5g} and "
                        "{:.5g}..{:.5g})",
                        axis, anchor.front().x, anchor.back().x, test.front().x, test.back().x));
    }
    return (pchip_integral(test, lo, hi) - pchip_integral(anchor, lo, hi)) / (hi - lo);
}

}  // namespace

double bd_rate_percent(std::span<const RdPoint> anchor, std::span<const RdPoint> test) {
    // Rate as a function of quality: both rise together, so the swapped knots stay sorted.
    const auto a = swapped(log_rate_curve(anchor, "anchor"));
    const auto t = swapped(log_rate_curve(test, "test curve"));
    const double ratio = std::pow(10.0, mean_difference(a, t, "quality"));
    // Finite rates can still differ by more than a double holds (1e-300 against 1e300).
    if (!std::isfinite(ratio)) {
        throw BdUndefined("the test curve's rates are beyond a double's range of the anchor's");
    }
    return (ratio - 1) * 100;
}

double bd_quality(std::span<const RdPoint> anchor, std::span<const RdPoint> test) {
    return mean_difference(log_rate_curve(anchor, "anchor"), log_rate_curve(test, "test curve"),
                           "log-rate");
}

}  // namespace renderer::bench

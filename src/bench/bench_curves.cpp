#include "bench/bench_curves.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "bench/bd_rate.h"

namespace renderer::bench {
namespace {

bool same_curve(const BenchSetting& a, const BenchSetting& b) {
    return a.codec == b.codec && a.preset == b.preset && a.threads == b.threads &&
           a.timing == b.timing;
}

std::vector<RdPoint> rd_points(const CurveComparison& c, double QualityScore::*metric) {
    std::vector<RdPoint> out;
    for (const auto& s : c.points)
        out.push_back({.rate = s.video_kbps, .quality = s.quality.*metric});
    return out;
}

}  // namespace

std::vector<CurveComparison> compare_curves(const std::vector<BenchSummary>& summaries,
                                            const std::optional<BenchSetting>& anchor,
                                            bool with_threads) {
    std::vector<CurveComparison> curves;
    for (const auto& s : summaries) {
        auto it = std::find_if(curves.begin(), curves.end(), [&](const CurveComparison& c) {
            return same_curve(c.curve, s.setting);
        });
        if (it == curves.end()) {
            curves.push_back({.curve = s.setting, .name = s.setting.curve(with_threads)});
            it = curves.end() - 1;
        }
        it->points.push_back(s);
    }
    for (auto& c : curves) {
        std::sort(c.points.begin(), c.points.end(),
                  [](const BenchSummary& a, const BenchSummary& b) {
                      return a.video_kbps < b.video_kbps;
                  });
    }
    if (!anchor) return curves;
    const auto a = std::find_if(curves.begin(), curves.end(), [&](const CurveComparison& c) {
        return c.curve.codec == anchor->codec && c.curve.preset == anchor->preset &&
               c.curve.timing == anchor->timing;
    });
    if (a == curves.end()) return curves;
    a->anchor = true;
    for (auto& c : curves) {
        if (c.anchor) continue;
        // Each metric on its own: a curve whose SSIM saturates may still have a PSNR-Y delta.
        std::vector<std::string> why;
        const auto delta = [&](const char* what, auto&& compute) -> std::optional<double> {
            try {
                return compute();
            } catch (const BdUndefined& e) {
                why.push_back(fmt::format("{}: {}", what, e.what()));
                return std::nullopt;
            }
        };
        c.bd_rate_psnr_y = delta("BD-rate PSNR-Y", [&] {
            return bd_rate_percent(rd_points(*a, &QualityScore::psnr_y),
                                   rd_points(c, &QualityScore::psnr_y));
        });
        c.bd_rate_ssim = delta("BD-rate SSIM", [&] {
            return bd_rate_percent(rd_points(*a, &QualityScore::ssim),
                                   rd_points(c, &QualityScore::ssim));
        });
        c.bd_psnr_y = delta("BD-PSNR-Y", [&] {
            return bd_quality(rd_points(*a, &QualityScore::psnr_y),
                              rd_points(c, &QualityScore::psnr_y));
        });
        if (!why.empty()) {
            // The same reason for all three reads once.
            std::string note = why.front();
            for (std::size_t i = 1; i < why.size(); ++i) note += "; " + why[i];
            c.note = note;
        }
    }
    return curves;
}

}  // namespace renderer::bench

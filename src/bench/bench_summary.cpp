#include "bench/bench_summary.h"

#include <algorithm>
#include <cmath>

namespace renderer::bench {
namespace {

double median_of(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// SSIM of 1.0 and PSNR of +inf (identical output) compare and sort like any other value.
bool dominates(const BenchSummary& a, const BenchSummary& b) {
    const double a_wall = a.wall_sec.median, b_wall = b.wall_sec.median;
    const double a_ssim = a.quality.ssim, b_ssim = b.quality.ssim;
    const bool no_worse = a_wall <= b_wall && a.bytes <= b.bytes && a_ssim >= b_ssim;
    const bool better = a_wall < b_wall || a.bytes < b.bytes || a_ssim > b_ssim;
    return no_worse && better;
}

}  // namespace

Spread spread_of(std::vector<double> values) {
    Spread s;
    if (values.empty()) return s;
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    s.min = *lo;
    s.max = *hi;
    s.median = median_of(std::move(values));
    return s;
}

std::vector<BenchSummary> summarize(const std::vector<BenchRun>& runs,
                                    const std::vector<BenchSetting>& settings) {
    std::vector<BenchSummary> out;
    for (const BenchSetting& setting : settings) {
        std::vector<double> wall, cpu, fps, speed, rss, bytes, kbps, video_kbps, psnr_y, psnr_avg,
            ssim;
        bool rss_known = true;
        for (const BenchRun& r : runs) {
            if (!(r.setting == setting)) continue;
            wall.push_back(r.wall_sec);
            cpu.push_back(r.cpu_sec);
            fps.push_back(r.encode_fps);
            speed.push_back(r.speed);
            if (r.peak_rss_bytes) {
                rss.push_back(static_cast<double>(*r.peak_rss_bytes));
            } else {
                rss_known = false;
            }
            bytes.push_back(static_cast<double>(r.bytes));
            kbps.push_back(r.kbps);
            video_kbps.push_back(r.video_kbps);
            psnr_y.push_back(r.quality.psnr_y);
            psnr_avg.push_back(r.quality.psnr_avg);
            ssim.push_back(r.quality.ssim);
        }
        if (wall.empty()) continue;
        BenchSummary s;
        s.setting = setting;
        s.runs = static_cast<int>(wall.size());
        s.wall_sec = spread_of(wall);
        s.cpu_sec = spread_of(cpu);
        s.encode_fps = spread_of(fps);
        s.speed = spread_of(speed);
        if (rss_known) s.peak_rss_bytes = spread_of(rss);
        s.bytes = static_cast<std::uint64_t>(std::llround(median_of(bytes)));
        s.kbps = median_of(kbps);
        s.video_kbps = median_of(video_kbps);
        s.quality.psnr_y = median_of(psnr_y);
        s.quality.psnr_avg = median_of(psnr_avg);
        s.quality.ssim = median_of(ssim);
        for (const BenchRun& r : runs) {
            if (r.setting == setting) s.quality.frames = r.quality.frames;
        }
        out.push_back(std::move(s));
    }
    mark_pareto(out);
    return out;
}

void mark_pareto(std::vector<BenchSummary>& summaries) {
    for (auto& s : summaries) {
        s.pareto = std::none_of(summaries.begin(), summaries.end(), [&](const BenchSummary& other) {
            return &other != &s && dominates(other, s);
        });
    }
}

}  // namespace renderer::bench

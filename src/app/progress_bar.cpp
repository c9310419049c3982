#include "app/progress_bar.h"

#include <cstdio>

#include <fmt/format.h>

namespace renderer::app {

void ProgressBar::update(const media::Progress& p) {
    if (!enabled_ || p.frames_total <= 0) return;
    constexpr int kWidth = 30;
    const double frac = static_cast<double>(p.frames_done) / static_cast<double>(p.frames_total);
    const int filled = static_cast<int>(frac * kWidth);
    const double eta = p.fps > 0 ? static_cast<double>(p.frames_total - p.frames_done) / p.fps : 0;
    const auto line =
        fmt::format("\r{} [{}{}] {:3.0f}% {}/{} frames {:.1f} fps ETA {:.0f}s ", label_,
                    std::string(filled, '#'), std::string(kWidth - filled, '.'), frac * 100,
                    p.frames_done, p.frames_total, p.fps, eta);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressBar::finish() {
    if (drawn_) std::fputs("\n", stderr);
    drawn_ = false;
}

}  // namespace renderer::app

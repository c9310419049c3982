#include "bench/bench_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace renderer::bench {
namespace {

constexpr double kWidth = 900, kHeight = 600;
// Room for point labels on the right and for the legend below the axis title.
constexpr double kLeft = 90, kRight = 210, kTop = 64, kBottom = 104;

std::string xml_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// An axis: the data range widened to round tick values (1, 2 or 5 times a power of ten).
struct Axis {
    double lo = 0, hi = 1, step = 1;

    static Axis fit(double min, double max) {
        if (!(max > min)) {  // one value (or none): give it some room
            const double pad = min != 0 ? std::fabs(min) * 0.1 : 1.0;
            min -= pad;
            max += pad;
        }
        const double raw = (max - min) / 5.0;
        const double mag = std::pow(10.0, std::floor(std::log10(raw)));
        double step = mag;
        for (const double m : {1.0, 2.0, 5.0, 10.0}) {
            step = m * mag;
            if (step >= raw) break;
        }
        Axis a;
        a.step = step;
        a.lo = std::floor(min / step) * step;
        a.hi = std::ceil(max / step) * step;
        return a;
    }

    double map(double v, double from, double to) const {
        return from + (v - lo) / (hi - lo) * (to - from);
    }
    std::vector<double> ticks() const {
        std::vector<double> t;
        for (double v = lo; v <= hi + step * 1e-6; v += step)
            t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
        return t;
    }
};

// Long paths keep their end, the part that names the frames.
std::string shorten(const std::string& s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t cut = s.size() - (max - 3);
    while (cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        ++cut;  // UTF-8 boundary
    return "..." + s.substr(cut);
}

struct Box {
    double x0, y0, x1, y1;
    bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

struct Placed {
    double x, y;
    const char* anchor;
};

// Greedy label placement: the first spot around the point (right above, right below, left
// above, left below, then further out) whose box overlaps nothing placed yet. Text width is
// estimated, which is enough to keep clustered settings readable.
Placed place_label(double px, double py, const std::string& label, std::vector<Box>& taken) {
    constexpr double kCharWidth = 6.6, kAscent = 10, kDescent = 3;
    const double w = kCharWidth * static_cast<double>(label.size());
    struct Spot {
        double dx, dy;
        bool left;
    };
    const Spot spots[] = {{8, -6, false},  {8, 14, false}, {-8, -6, true},  {-8, 14, true},
                          {8, -20, false}, {8, 28, false}, {-8, -20, true}, {-8, 28, true},
                          {8, -34, false}, {8, 42, false}, {-8, -34, true}, {-8, 42, true}};
    for (const Spot& s : spots) {
        const double x = px + s.dx, y = py + s.dy;
        const Box box{s.left ? x - w : x, y - kAscent, s.left ? x : x + w, y + kDescent};
        const bool inside = box.x0 >= 0 && box.x1 <= kWidth && box.y0 >= 0 && box.y1 <= kHeight;
        if (inside && std::none_of(taken.begin(), taken.end(),
                                   [&](const Box& b) { return b.overlaps(box); })) {
            taken.push_back(box);
            return {x, y, s.left ? "end" : "start"};
        }
    }
    taken.push_back({px + 8, py - 6 - kAscent, px + 8 + w, py - 6 + kDescent});
    return {px + 8, py - 6, "start"};
}

std::string tick_text(double v, double step) {
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step)));
    return fmt::format("{:.{}f}", v, decimals);
}

// Below the speed/size plot: rate-distortion curves, video rate against PSNR-Y, one line per
// codec:preset (its crfs as points), the way codec comparisons are drawn.
constexpr double kRdHeight = 460;
constexpr std::array<const char*, 8> kCurveColours = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                                      "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

std::string rd_panel(const BenchReport& r, double top) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const auto& c : r.curves) {
        for (const auto& p : c.points) {
            if (!std::isfinite(p.quality.psnr_y) || !(p.video_kbps > 0)) continue;
            xmin = std::min(xmin, p.video_kbps);
            xmax = std::max(xmax, p.video_kbps);
            ymin = std::min(ymin, p.quality.psnr_y);
            ymax = std::max(ymax, p.quality.psnr_y);
        }
    }
    if (!(xmax >= xmin)) xmin = xmax = ymin = ymax = 0;
    const Axis ax = Axis::fit(xmin, xmax), ay = Axis::fit(ymin, ymax);
    const double x0 = kLeft, x1 = kWidth - kRight, y0 = top + kRdHeight - 70, y1 = top + 40;
    std::string svg = fmt::format(
        "<g class=\"rd\">\n<text x=\"{}\" y=\"{:.1f}\" font-size=\"15\" "
        "font-weight=\"bold\">{}</text>\n",
        kLeft, top + 20,
        xml_escape("rate-distortion: PSNR-Y against video rate, one "
                   "line per codec:preset (higher and further left is "
                   "better)"));
    svg += "<g class=\"axes\" stroke=\"#ddd\">\n";
    for (const double t : ax.ticks()) {
        const double x = ax.map(t, x0, x1);
        svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>\n",
                           x, y0, y1);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\" stroke=\"none\" "
            "text-anchor=\"middle\">{}</text>\n",
            x, y0 + 18, tick_text(t, ax.step));
    }
    for (const double t : ay.ticks()) {
        const double y = ay.map(t, y0, y1);
        svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>\n",
                           x0, y, x1);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\" stroke=\"none\" "
            "text-anchor=\"end\">{}</text>\n",
            x0 - 8, y + 4, tick_text(t, ay.step));
    }
    svg += "</g>\n";
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
        "stroke=\"#333\"/>\n",
        x0, y1, x1 - x0, y0 - y1);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                       (x0 + x1) / 2, y0 + 40, xml_escape("video rate (kbit/s)"));
    svg += fmt::format(
        "<text transform=\"translate(24 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        (y0 + y1) / 2, xml_escape("PSNR-Y (dB)"));
    for (std::size_t i = 0; i < r.curves.size(); ++i) {
        const auto& c = r.curves[i];
        const char* colour = kCurveColours[i % kCurveColours.size()];
        std::string coords;
        std::string dots;
        for (const auto& p : c.points) {
            if (!std::isfinite(p.quality.psnr_y) || !(p.video_kbps > 0)) continue;
            const double px = ax.map(p.video_kbps, x0, x1), py = ay.map(p.quality.psnr_y, y0, y1);
            coords += fmt::format("{:.1f},{:.1f} ", px, py);
            dots += fmt::format(
                "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{}</title>"
                "</circle>\n",
                px, py, colour,
                xml_escape(fmt::format("{} crf {}: {:.0f} kbit/s, PSNR-Y {:.2f} dB, SSIM {:.4f}",
                                       c.name, p.setting.crf, p.video_kbps, p.quality.psnr_y,
                                       p.quality.ssim)));
        }
        if (!coords.empty()) coords.pop_back();
        svg += fmt::format(
            "<polyline class=\"rd-curve\" data-curve=\"{}\" points=\"{}\" fill=\"none\" "
            "stroke=\"{}\" stroke-width=\"1.8\"/>\n",
            xml_escape(c.name), coords, colour);
        svg += dots;
        // Legend on the right, one row per curve, with its BD-rate when there is one.
        const double ly = y1 + 14 + 18 * static_cast<double>(i);
        std::string legend = c.name;
        if (c.anchor) legend += " (anchor)";
        if (c.bd_rate_psnr_y) legend += fmt::format(" {:+.1f}%", *c.bd_rate_psnr_y);
        svg += fmt::format(
            "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
            "stroke-width=\"2\"/><text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
            x1 + 10, ly, x1 + 30, ly, colour, x1 + 36, ly + 4, xml_escape(legend));
    }
    svg += "</g>\n";
    return svg;
}

}  // namespace

std::string bench_plot_svg(const BenchReport& r) {
    struct Point {
        double x, y;    // data: speed (x realtime), size (KiB)
        double px, py;  // canvas
        const BenchSummary* s;
    };
    std::vector<Point> points;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const auto& s : r.settings) {
        const double x = s.speed.median, y = static_cast<double>(s.bytes) / 1024.0;
        points.push_back({x, y, 0, 0, &s});
        xmin = std::min(xmin, x);
        xmax = std::max(xmax, x);
        ymin = std::min(ymin, y);
        ymax = std::max(ymax, y);
    }
    if (points.empty()) xmin = xmax = ymin = ymax = 0;
    const Axis ax = Axis::fit(xmin, xmax), ay = Axis::fit(ymin, ymax);
    const double x0 = kLeft, x1 = kWidth - kRight, y0 = kHeight - kBottom, y1 = kTop;
    for (auto& p : points) {
        p.px = ax.map(p.x, x0, x1);
        p.py = ay.map(p.y, y0, y1);  // bigger files higher up: smaller is lower
    }

    // The rate-distortion panel when some curve has two or more crfs to draw a line through.
    const bool rd = std::any_of(r.curves.begin(), r.curves.end(),
                                [](const CurveComparison& c) { return c.points.size() > 1; });
    std::string svg = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
        "{1}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        kWidth, rd ? kHeight + kRdHeight : kHeight);
    svg += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
                       kLeft, xml_escape("renderer bench: size against speed"));
    svg += fmt::format(
        "<text x=\"{}\" y=\"42\" fill=\"#555\">{}</text>\n", kLeft,
        xml_escape(fmt::format("{} frames {}x{} from {}; {}", r.frames, r.width, r.height,
                               shorten(r.frames_dir, 60),
                               r.repeat > 1 ? fmt::format("medians of {} runs", r.repeat)
                                            : std::string("one run per setting"))));
    svg += fmt::format(
        "<text x=\"{}\" y=\"57\" fill=\"#555\">{}</text>\n", kLeft,
        xml_escape("faster is right, smaller is lower: the best settings sit bottom right; "
                   "labels give preset/crf and SSIM"));

    // Grid, ticks and axis titles.
    svg += "<g class=\"axes\" stroke=\"#ddd\">\n";
    for (const double t : ax.ticks()) {
        const double x = ax.map(t, x0, x1);
        svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>\n",
                           x, y0, y1);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\" stroke=\"none\" "
            "text-anchor=\"middle\">{}x</text>\n",
            x, y0 + 18, tick_text(t, ax.step));
    }
    for (const double t : ay.ticks()) {
        const double y = ay.map(t, y0, y1);
        svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>\n",
                           x0, y, x1);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\" stroke=\"none\" "
            "text-anchor=\"end\">{}</text>\n",
            x0 - 8, y + 4, tick_text(t, ay.step));
    }
    svg += "</g>\n";
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
        "stroke=\"#333\"/>\n",
        x0, y1, x1 - x0, y0 - y1);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                       (x0 + x1) / 2, y0 + 44,
                       xml_escape("speed (× realtime: output duration / wall time)"));
    svg += fmt::format(
        "<text transform=\"translate(24 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        (y0 + y1) / 2, xml_escape("size (KiB)"));

    // The front: Pareto-optimal settings joined in order of speed.
    std::vector<const Point*> front;
    for (const auto& p : points) {
        if (p.s->pareto) front.push_back(&p);
    }
    std::sort(front.begin(), front.end(),
              [](const Point* a, const Point* b) { return a->x < b->x; });
    if (front.size() > 1) {
        std::string coords;
        for (const Point* p : front) coords += fmt::format("{:.1f},{:.1f} ", p->px, p->py);
        coords.pop_back();
        svg += fmt::format(
            "<polyline class=\"pareto-front\" points=\"{}\" fill=\"none\" stroke=\"#d62728\" "
            "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
            coords);
    }

    // Points first, then labels placed where they overlap no label or point drawn so far.
    std::vector<Box> taken;
    for (const auto& p : points) taken.push_back({p.px - 6, p.py - 6, p.px + 6, p.py + 6});
    svg += "<g class=\"points\">\n";
    for (const auto& p : points) {
        const auto& s = *p.s;
        const std::string label =
            fmt::format("{} SSIM {:.4f}", setting_label(r, s.setting), s.quality.ssim);
        svg += fmt::format(
            "<circle class=\"point{}\" data-setting=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" "
            "fill=\"{}\" "
            "stroke=\"{}\" stroke-width=\"1.5\"><title>{}</title></circle>\n",
            s.pareto ? " pareto" : "", xml_escape(s.setting.id()), p.px, p.py,
            s.pareto ? "#d62728" : "white", s.pareto ? "#d62728" : "#1f77b4",
            xml_escape(fmt::format("{}: {:.2f}x realtime, {:.1f} KiB, PSNR {:.2f} dB", label, p.x,
                                   p.y, s.quality.psnr_avg)));
        const Placed at = place_label(p.px, p.py, label, taken);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\" fill=\"{}\">{}</text>\n", at.x,
            at.y, at.anchor, s.pareto ? "#a01010" : "#333", xml_escape(label));
    }
    svg += "</g>\n";

    // Legend, one row under the axis title: points can sit anywhere inside the plot.
    const double ly = y0 + 76;
    svg += fmt::format(
        "<g class=\"legend\">\n"
        "<circle cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"5\" fill=\"#d62728\" stroke=\"#d62728\"/>"
        "<text x=\"{2:.1f}\" y=\"{3:.1f}\">Pareto-optimal (no other is as fast, as small and as "
        "good at once)</text>\n"
        "<circle cx=\"{4:.1f}\" cy=\"{1:.1f}\" r=\"5\" fill=\"white\" stroke=\"#1f77b4\" "
        "stroke-width=\"1.5\"/><text x=\"{5:.1f}\" y=\"{3:.1f}\">dominated</text>\n"
        "<line x1=\"{6:.1f}\" y1=\"{1:.1f}\" x2=\"{7:.1f}\" y2=\"{1:.1f}\" stroke=\"#d62728\" "
        "stroke-dasharray=\"6 4\"/><text x=\"{8:.1f}\" y=\"{3:.1f}\">Pareto front</text>\n"
        "</g>\n",
        x0 + 6, ly, x0 + 16, ly + 4, x0 + 436, x0 + 446, x0 + 530, x0 + 560, x0 + 566);
    if (rd) svg += rd_panel(r, kHeight);
    svg += "</svg>\n";
    return svg;
}

}  // namespace renderer::bench

#include "bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

namespace renderer::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

bool compares_timings(const BenchReport& r) {
    std::set<media::FrameTiming> timings;
    for (const auto& s : r.settings) timings.insert(s.setting.timing);
    return timings.size() > 1;
}

bool compares_threads(const BenchReport& r) {
    std::set<int> threads;
    for (const auto& s : r.settings) threads.insert(s.setting.threads);
    return threads.size() > 1;
}

std::string fixed(double v, int decimals) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (std::isnan(v)) return "nan";
    return fmt::format("{:.{}f}", v, decimals);
}

// Shortest text that reads back as the same double; "inf" for PSNR of identical output.
std::string exact(double v) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{}", v);
}

std::string with_spread(const Spread& s, int decimals, int repeat) {
    std::string text = fixed(s.median, decimals);
    if (repeat > 1) text += fmt::format(" ±{:.0f}%", s.half_range_pct());
    return text;
}

// Columns: header, right-aligned?, one cell per row.
struct Column {
    std::string header;
    bool right = true;
    std::vector<std::string> cells;
};

// Display width: the cells hold UTF-8 ("±", "×"), one column per code point.
std::size_t width_of(const std::string& s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(const std::string& s, std::size_t width, bool right) {
    const std::string fill(width - std::min(width, width_of(s)), ' ');
    return right ? fill + s : s + fill;
}

template <typename W>
void write_number(W& w, double v) {
    if (std::isfinite(v)) {
        w.Double(v);
    } else {
        w.Null();
    }
}

template <typename W>
void write_spread(W& w, const char* key, const Spread& s) {
    w.Key(key);
    w.StartObject();
    w.Key("median");
    write_number(w, s.median);
    w.Key("min");
    write_number(w, s.min);
    w.Key("max");
    write_number(w, s.max);
    w.EndObject();
}

template <typename W>
void write_optional(W& w, const std::optional<double>& v) {
    if (v) {
        write_number(w, *v);
    } else {
        w.Null();
    }
}

template <typename W>
void write_setting_fields(W& w, const BenchSetting& s) {
    w.Key("id");
    w.String(s.id().c_str());
    w.Key("codec");
    w.String(std::string(media::codec_name(s.codec)).c_str());
    w.Key("preset");
    w.String(s.preset.c_str());
    w.Key("crf");
    w.Int(s.crf);
    w.Key("threads");
    w.Int(s.threads);
    w.Key("frame_timing");
    w.String(std::string(media::to_string(s.timing)).c_str());
}

template <typename W>
void write_quality(W& w, const QualityScore& q) {
    w.Key("psnr_y");
    write_number(w, q.psnr_y);
    w.Key("psnr_avg");
    write_number(w, q.psnr_avg);
    w.Key("ssim");
    write_number(w, q.ssim);
}

}  // namespace

BenchReport make_bench_report(const BenchPlan& plan, std::vector<BenchRun> runs) {
    BenchReport r;
    r.frames_dir = plan.frames_dir.string();
    r.fps = plan.base.fps;
    r.repeat = plan.repeat;
    if (!runs.empty()) {
        const BenchRun& first = runs.front();
        r.audio_track = first.audio_track;
        r.frames = first.frames;
        r.duration_sec = first.duration_sec;
        r.width = first.width;
        r.height = first.height;
    }
    r.settings = summarize(runs, plan.settings);
    r.runs = std::move(runs);
    for (const auto& s : plan.settings) {
        if (s.codec != media::VideoCodec::H264) r.compares_codecs = true;
    }
    r.curves = compare_curves(r.settings, plan.anchor, compares_threads(r));
    return r;
}

std::string setting_label(const BenchReport& report, const BenchSetting& s) {
    const std::string preset = report.compares_codecs
                                   ? fmt::format("{}:{}", media::codec_name(s.codec), s.preset)
                                   : s.preset;
    std::string label = fmt::format("{}/crf{}", preset, s.crf);
    if (compares_threads(report)) label += fmt::format("/t{}", s.threads);
    if (compares_timings(report)) label += fmt::format("/{}", media::to_string(s.timing));
    return label;
}

// "-23.4%", or "-" with the reason given below the table.
std::string percent_cell(const std::optional<double>& v) {
    return v ? fmt::format("{:+.1f}%", *v) : "-";
}

std::string format_table(const BenchReport& r) {
    std::vector<Column> cols = {
        {"", false, {}},        {"codec", false, {}},  {"preset", false, {}},  {"crf", true, {}},
        {"threads", true, {}},  {"timing", false, {}}, {"wall s", true, {}},   {"cpu s", true, {}},
        {"fps", true, {}},      {"speed", true, {}},   {"size KiB", true, {}}, {"kbps", true, {}},
        {"peak MiB", true, {}}, {"PSNR-Y", true, {}},  {"PSNR", true, {}},     {"SSIM", true, {}},
    };
    for (const BenchSummary& s : r.settings) {
        const std::vector<std::string> cells = {
            s.pareto ? "*" : "",
            std::string(media::codec_name(s.setting.codec)),
            s.setting.preset,
            std::to_string(s.setting.crf),
            std::to_string(s.setting.threads),
            std::string(media::to_string(s.setting.timing)),
            with_spread(s.wall_sec, 3, r.repeat),
            with_spread(s.cpu_sec, 2, r.repeat),
            fixed(s.encode_fps.median, 1),
            fixed(s.speed.median, 2) + "x",
            fixed(static_cast<double>(s.bytes) / 1024.0, 1),
            fixed(s.kbps, 0),
            s.peak_rss_bytes ? fixed(s.peak_rss_bytes->median / kMiB, 1) : "-",
            fixed(s.quality.psnr_y, 2),
            fixed(s.quality.psnr_avg, 2),
            fixed(s.quality.ssim, 4),
        };
        for (std::size_t i = 0; i < cols.size(); ++i) cols[i].cells.push_back(cells[i]);
    }
    std::vector<std::size_t> widths;
    for (const auto& c : cols) {
        std::size_t w = width_of(c.header);
        for (const auto& cell : c.cells) w = std::max(w, width_of(cell));
        widths.push_back(w);
    }
    const auto line = [&](auto&& cell_at) {
        std::string out;
        for (std::size_t i = 0; i < cols.size(); ++i) {
            if (i > 0) out += "  ";
            out += pad(cell_at(i), widths[i], cols[i].right);
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        return out + "\n";
    };

    std::string out =
        fmt::format("{} frames {}x{} at {} fps ({:.2f} s) from {}, music {}; ", r.frames, r.width,
                    r.height, r.fps, r.duration_sec, r.frames_dir, r.audio_track);
    out += r.repeat > 1
               ? fmt::format("medians of {} interleaved runs (± half the range)\n\n", r.repeat)
               : "one run per setting\n\n";
    out += line([&](std::size_t i) { return cols[i].header; });
    for (std::size_t row = 0; row < r.settings.size(); ++row) {
        out += line([&](std::size_t i) { return cols[i].cells[row]; });
    }
    out +=
        "\n* Pareto-optimal: no other setting is at once as fast, as small and as good (SSIM).\n";
    out +=
        "speed = output duration / wall time; quality against the source frames in yuv420p "
        "BT.709.\n";
    const auto anchor = std::find_if(r.curves.begin(), r.curves.end(),
                                     [](const CurveComparison& c) { return c.anchor; });
    if (anchor != r.curves.end()) {
        out += fmt::format(
            "\nAgainst {} (Bjøntegaard deltas, PCHIP, on the video rate; negative BD-rate: "
            "less rate for the same quality):\n",
            anchor->name);
        std::size_t name_width = 5;
        for (const auto& c : r.curves) name_width = std::max(name_width, width_of(c.name));
        out += fmt::format("{}  points  BD-rate PSNR-Y  BD-rate SSIM  BD-PSNR-Y\n",
                           pad("curve", name_width, false));
        for (const auto& c : r.curves) {
            if (c.anchor) continue;
            out += fmt::format("{}  {:>6}  {:>14}  {:>12}  {:>9}\n", pad(c.name, name_width, false),
                               c.points.size(), percent_cell(c.bd_rate_psnr_y),
                               percent_cell(c.bd_rate_ssim),
                               c.bd_psnr_y ? fmt::format("{:+.2f} dB", *c.bd_psnr_y) : "-");
        }
        for (const auto& c : r.curves) {
            if (!c.note.empty()) out += fmt::format("{}: {}\n", c.name, c.note);
        }
    }
    return out;
}

std::string format_csv(const BenchReport& r) {
    // Every cell is a number, a preset name or cfr/vfr: nothing needs quoting.
    std::string out =
        "preset,crf,threads,frame_timing,runs,pareto,wall_sec,wall_sec_min,wall_sec_max,cpu_sec,"
        "cpu_sec_min,cpu_"
        "sec_max,"
        "encode_fps,speed,bytes,kbps,peak_rss_bytes,psnr_y,psnr_avg,ssim,codec,video_kbps,curve,"
        "bd_rate_psnr_y_pct,bd_rate_ssim_pct,bd_psnr_y_db\n";
    const auto optional_cell = [](const std::optional<double>& v) {
        return v ? exact(*v) : std::string();
    };
    for (const BenchSummary& s : r.settings) {
        // The setting's curve's deltas against the anchor, on each of its rows (empty for the
        // anchor's own rows and where undefined).
        const auto curve = std::find_if(r.curves.begin(), r.curves.end(), [&](const auto& c) {
            return c.curve.codec == s.setting.codec && c.curve.preset == s.setting.preset &&
                   c.curve.threads == s.setting.threads && c.curve.timing == s.setting.timing;
        });
        const bool has_curve = curve != r.curves.end();
        out += fmt::format(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},", s.setting.preset,
            s.setting.crf, s.setting.threads, media::to_string(s.setting.timing), s.runs,
            s.pareto ? 1 : 0, exact(s.wall_sec.median), exact(s.wall_sec.min),
            exact(s.wall_sec.max), exact(s.cpu_sec.median), exact(s.cpu_sec.min),
            exact(s.cpu_sec.max), exact(s.encode_fps.median), exact(s.speed.median), s.bytes,
            exact(s.kbps), s.peak_rss_bytes ? fmt::format("{:.0f}", s.peak_rss_bytes->median) : "",
            exact(s.quality.psnr_y), exact(s.quality.psnr_avg), exact(s.quality.ssim));
        out += fmt::format("{},{},{},{},{},{}\n", media::codec_name(s.setting.codec),
                           exact(s.video_kbps), has_curve ? curve->name : "",
                           has_curve ? optional_cell(curve->bd_rate_psnr_y) : "",
                           has_curve ? optional_cell(curve->bd_rate_ssim) : "",
                           has_curve ? optional_cell(curve->bd_psnr_y) : "");
    }
    return out;
}

std::string format_json(const BenchReport& r) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("input");
    w.StartObject();
    w.Key("frames_dir");
    w.String(r.frames_dir.c_str());
    w.Key("audio_track");
    w.String(r.audio_track.c_str());
    w.Key("frames");
    w.Int64(r.frames);
    w.Key("duration_sec");
    write_number(w, r.duration_sec);
    w.Key("width");
    w.Int(r.width);
    w.Key("height");
    w.Int(r.height);
    w.Key("fps");
    w.Int(r.fps);
    w.EndObject();
    w.Key("repeat");
    w.Int(r.repeat);

    w.Key("settings");
    w.StartArray();
    for (const BenchSummary& s : r.settings) {
        w.StartObject();
        write_setting_fields(w, s.setting);
        w.Key("runs");
        w.Int(s.runs);
        w.Key("pareto");
        w.Bool(s.pareto);
        write_spread(w, "wall_sec", s.wall_sec);
        write_spread(w, "cpu_sec", s.cpu_sec);
        write_spread(w, "encode_fps", s.encode_fps);
        write_spread(w, "speed", s.speed);
        if (s.peak_rss_bytes) {
            write_spread(w, "peak_rss_bytes", *s.peak_rss_bytes);
        } else {
            w.Key("peak_rss_bytes");
            w.Null();
        }
        w.Key("bytes");
        w.Uint64(s.bytes);
        w.Key("kbps");
        write_number(w, s.kbps);
        w.Key("video_kbps");
        write_number(w, s.video_kbps);
        write_quality(w, s.quality);
        w.EndObject();
    }
    w.EndArray();

    w.Key("curves");
    w.StartArray();
    for (const CurveComparison& c : r.curves) {
        w.StartObject();
        w.Key("curve");
        w.String(c.name.c_str());
        w.Key("codec");
        w.String(std::string(media::codec_name(c.curve.codec)).c_str());
        w.Key("preset");
        w.String(c.curve.preset.c_str());
        w.Key("threads");
        w.Int(c.curve.threads);
        w.Key("anchor");
        w.Bool(c.anchor);
        w.Key("points");
        w.Uint64(c.points.size());
        w.Key("bd_rate_psnr_y_pct");
        write_optional(w, c.bd_rate_psnr_y);
        w.Key("bd_rate_ssim_pct");
        write_optional(w, c.bd_rate_ssim);
        w.Key("bd_psnr_y_db");
        write_optional(w, c.bd_psnr_y);
        if (!c.note.empty()) {
            w.Key("note");
            w.String(c.note.c_str());
        }
        w.EndObject();
    }
    w.EndArray();

    w.Key("runs");
    w.StartArray();
    for (const BenchRun& run : r.runs) {
        w.StartObject();
        w.Key("order");
        w.Int(run.order);
        w.Key("repeat");
        w.Int(run.repeat);
        write_setting_fields(w, run.setting);
        w.Key("wall_sec");
        write_number(w, run.wall_sec);
        w.Key("cpu_sec");
        write_number(w, run.cpu_sec);
        w.Key("encode_fps");
        write_number(w, run.encode_fps);
        w.Key("speed");
        write_number(w, run.speed);
        w.Key("bytes");
        w.Uint64(run.bytes);
        w.Key("kbps");
        write_number(w, run.kbps);
        w.Key("video_kbps");
        write_number(w, run.video_kbps);
        w.Key("peak_rss_bytes");
        if (run.peak_rss_bytes) {
            w.Uint64(*run.peak_rss_bytes);
        } else {
            w.Null();
        }
        write_quality(w, run.quality);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace renderer::bench

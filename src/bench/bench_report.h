// `renderer bench` results as text: an aligned table for people, CSV and JSON for tools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_curves.h"
#include "bench/bench_summary.h"

namespace renderer::bench {

struct BenchReport {
    std::string frames_dir;
    std::string audio_track;
    std::int64_t frames = 0;  // rendered, after the cut to the music's length
    double duration_sec = 0;
    int width = 0, height = 0, fps = 0;
    int repeat = 1;
    std::vector<BenchRun> runs;          // in the order they ran
    std::vector<BenchSummary> settings;  // in the requested order, Pareto marked
    // Rate-quality curves, with Bjøntegaard deltas when the plan named an anchor.
    std::vector<CurveComparison> curves;
    bool compares_codecs = false;  // more than one codec, or one other than h264
};

// Fills the input fields from the first run.
BenchReport make_bench_report(const BenchPlan& plan, std::vector<BenchRun> runs);

// One row per setting, columns aligned, Pareto-optimal rows marked '*', a legend below.
std::string format_table(const BenchReport& report);
// Header plus one row per setting; timing columns are medians with _min/_max companions.
std::string format_csv(const BenchReport& report);
// {"input": …, "repeat": N, "settings": [...], "runs": [...]}; non-finite numbers (PSNR of an
// identical encode) are null.
std::string format_json(const BenchReport& report);

// "ultrafast/crf18" or, when the report compares thread counts, "ultrafast/crf18/t2"; with
// codecs other than h264 in the report, "hevc:medium/crf28".
std::string setting_label(const BenchReport& report, const BenchSetting& setting);

}  // namespace renderer::bench

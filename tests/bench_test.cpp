// `renderer bench` through the real binary on a tiny fixture: the grid, repeats, quality
// ordering, the three output formats, the SVG plot and argument errors; plus the summary's
// statistics and Pareto marking called directly.
#include <gtest/gtest.h>

#include <expat.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "bench/bench_summary.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/process.h"

namespace renderer::testing {
namespace {

// Expat 2.9 (Debian 13's security update) deprecates the line getter for a 64-bit one that
// Debian 12's 2.5 does not have.
std::uint64_t xml_line(XML_Parser parser) {
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 9)
    return XML_GetCurrentLineNumber64(parser);
#else
    return XML_GetCurrentLineNumber(parser);
#endif
}

constexpr int kFrames = 10;

class BenchTest : public ::testing::Test {
  protected:
    void SetUp() override { write_textured_frames(tmp_ / "frames", kFrames, 64, 36); }

    RunResult bench(std::vector<std::string> args,
                    std::vector<std::pair<std::string, std::string>> env = {},
                    const std::string& frames = {}) {
        std::vector<std::string> argv = {renderer_bin(), "bench", "--frames",
                                         frames.empty() ? (tmp_ / "frames").string() : frames};
        argv.insert(argv.end(), args.begin(), args.end());
        env.emplace_back("MIN_FREE_BYTES", "1M");
        env.emplace_back("TMP_DIR", (tmp_ / "tmp").string());
        return run_process(argv, env);
    }

    static std::string music() { return (testdata() / "audio/music/background.mp3").string(); }

    // The scratch dir under TMP_DIR is gone after every run, successful or not.
    void expect_no_scratch_left() {
        std::error_code ec;
        if (fs::is_directory(tmp_ / "tmp", ec)) {
            EXPECT_TRUE(dir_entries(tmp_ / "tmp").empty());
        }
    }

    TempDir tmp_;
};

// Items between separators, empty ones included (a CSV row's empty last cell too); a
// separator at the very end (the text's last newline) ends the last item.
std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < s.size()) {
        const auto at = s.find(sep, start);
        if (at == std::string::npos) {
            out.push_back(s.substr(start));
            break;
        }
        out.push_back(s.substr(start, at - start));
        start = at + 1;
        if (start == s.size() && sep != '\n') out.emplace_back();
    }
    return out;
}

TEST_F(BenchTest, EveryCombinationRunsOncePerRepeatInterleaved) {
    const auto r = bench({"--music", music(), "--preset", "ultrafast,veryfast", "--crf", "20,38",
                          "--repeat", "2", "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    rapidjson::Document doc;
    ASSERT_FALSE(doc.Parse(r.out.c_str()).HasParseError()) << r.out;

    const auto& runs = doc["runs"].GetArray();
    ASSERT_EQ(runs.Size(), 8u);
    std::map<std::string, std::set<int>> repeats_of;
    std::vector<std::string> order;
    for (const auto& run : runs) {
        const std::string id = run["id"].GetString();
        EXPECT_TRUE(repeats_of[id].insert(run["repeat"].GetInt()).second)
            << id << " ran twice in one repeat";
        order.push_back(id);
    }
    EXPECT_EQ(repeats_of.size(), 4u);
    for (const auto& [id, reps] : repeats_of) EXPECT_EQ(reps, (std::set<int>{1, 2})) << id;
    // Interleaved: each pass runs every setting, and the second pass starts elsewhere.
    EXPECT_EQ(std::set<std::string>(order.begin(), order.begin() + 4).size(), 4u);
    EXPECT_NE(order[0], order[4]);

    const auto& settings = doc["settings"].GetArray();
    ASSERT_EQ(settings.Size(), 4u);
    std::map<std::string, const rapidjson::Value*> by_id;
    int pareto = 0;
    for (const auto& s : settings) {
        by_id[s["id"].GetString()] = &s;
        EXPECT_EQ(s["runs"].GetInt(), 2);
        for (const char* key : {"psnr_y", "psnr_avg", "ssim", "kbps"}) {
            ASSERT_TRUE(s[key].IsNumber()) << key;
            EXPECT_TRUE(std::isfinite(s[key].GetDouble())) << key;
            EXPECT_GT(s[key].GetDouble(), 0) << key;
        }
        EXPECT_LE(s["ssim"].GetDouble(), 1.0);
        EXPECT_GT(s["bytes"].GetUint64(), 0u);
        const auto& wall = s["wall_sec"];
        EXPECT_LE(wall["min"].GetDouble(), wall["median"].GetDouble());
        EXPECT_LE(wall["median"].GetDouble(), wall["max"].GetDouble());
        EXPECT_GT(s["speed"]["median"].GetDouble(), 0);
        EXPECT_GT(s["cpu_sec"]["median"].GetDouble(), 0);
        EXPECT_TRUE(s["peak_rss_bytes"].IsObject());
        pareto += s["pareto"].GetBool() ? 1 : 0;
    }
    EXPECT_GE(pareto, 1);
    for (const char* preset : {"ultrafast", "veryfast"}) {
        const auto& hi = *by_id[std::string(preset) + "_crf20_t3"];
        const auto& lo = *by_id[std::string(preset) + "_crf38_t3"];
        EXPECT_GT(hi["psnr_y"].GetDouble(), lo["psnr_y"].GetDouble()) << preset;
        EXPECT_GT(hi["psnr_avg"].GetDouble(), lo["psnr_avg"].GetDouble()) << preset;
        EXPECT_GT(hi["ssim"].GetDouble(), lo["ssim"].GetDouble()) << preset;
        EXPECT_GT(hi["bytes"].GetUint64(), lo["bytes"].GetUint64()) << preset;
    }

    // No terminal: progress is logged as JSON events on stderr, one bench_run per run.
    int bench_runs = 0;
    for (const auto& d : json_lines(r.err)) {
        if (std::string(d["event"].GetString()) == "bench_run") ++bench_runs;
    }
    EXPECT_EQ(bench_runs, 8);
    expect_no_scratch_left();
}

TEST_F(BenchTest, CsvHasAHeaderAndOneParsableRowPerSetting) {
    const auto r = bench({"--music", music(), "--preset", "ultrafast", "--crf", "18,30",
                          "--threads", "1,2", "--format", "csv"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto lines = split(r.out, '\n');
    ASSERT_EQ(lines.size(), 5u) << r.out;  // header + 4 settings (threads are a dimension too)
    const auto header = split(lines[0], ',');
    EXPECT_EQ(header.front(), "preset");
    std::set<std::string> seen;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto cells = split(lines[i], ',');
        ASSERT_EQ(cells.size(), header.size()) << lines[i];
        std::map<std::string, std::string> row;
        for (std::size_t c = 0; c < cells.size(); ++c) row[header[c]] = cells[c];
        seen.insert(row["crf"] + "/" + row["threads"]);
        EXPECT_EQ(row["preset"], "ultrafast");
        EXPECT_EQ(row["codec"], "h264");
        EXPECT_EQ(row["frame_timing"], "cfr");
        for (const auto& key : header) {
            if (key == "preset" || key == "codec" || key == "curve" || key == "frame_timing")
                continue;
            // The Bjøntegaard deltas are empty where undefined: here each curve (one per
            // thread count) has two crfs, fewer than the four they need.
            if (key.rfind("bd_", 0) == 0) {
                EXPECT_EQ(row[key], "") << key;
                continue;
            }
            char* end = nullptr;
            const double v = std::strtod(row[key].c_str(), &end);
            EXPECT_TRUE(end != row[key].c_str() && *end == '\0') << key << "='" << row[key] << "'";
            if (key != "pareto") {
                EXPECT_TRUE(std::isfinite(v) && v > 0) << key << "=" << v;
            }
        }
    }
    EXPECT_EQ(seen, (std::set<std::string>{"18/1", "18/2", "30/1", "30/2"}));
    expect_no_scratch_left();
}

TEST_F(BenchTest, FrameTimingIsAnAxisAndVfrQualityIsMeasuredAtEveryFramesTime) {
    // The demo's held slides in cfr and vfr: the vfr file holds fewer frames, each compared with
    // every source frame it stands for, so its quality is close to cfr's, not a failure.
    const auto demo = (testdata() / "stories/demo/part1/frames").string();
    const auto r = bench({"--music", music(), "--preset", "ultrafast", "--crf", "30",
                          "--frame-timing", "cfr,vfr", "--format", "csv"},
                         {}, demo);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto lines = split(r.out, '\n');
    ASSERT_EQ(lines.size(), 3u) << r.out;
    const auto header = split(lines[0], ',');
    std::map<std::string, std::map<std::string, std::string>> by_timing;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto cells = split(lines[i], ',');
        ASSERT_EQ(cells.size(), header.size()) << lines[i];
        std::map<std::string, std::string> row;
        for (std::size_t c = 0; c < cells.size(); ++c) row[header[c]] = cells[c];
        by_timing[row["frame_timing"]] = row;
    }
    ASSERT_EQ(by_timing.size(), 2u) << r.out;
    const double cfr_psnr = std::stod(by_timing["cfr"]["psnr_y"]);
    const double vfr_psnr = std::stod(by_timing["vfr"]["psnr_y"]);
    EXPECT_GT(cfr_psnr, 20);
    EXPECT_NEAR(vfr_psnr, cfr_psnr, 2.0) << "the vfr render shows the same pictures";
    EXPECT_LT(std::stoll(by_timing["vfr"]["bytes"]), std::stoll(by_timing["cfr"]["bytes"]));
    const auto bad = bench(
        {"--music", music(), "--preset", "ultrafast", "--crf", "30", "--frame-timing", "cfr,fast"});
    EXPECT_EQ(bad.exit_code, 64) << bad.out << bad.err;
    EXPECT_NE((bad.out + bad.err).find("--frame-timing"), std::string::npos) << bad.out << bad.err;
    expect_no_scratch_left();
}

// vfr forces its keyframes by time and SVT-AV1 ignores a forced key picture, so av1 in vfr is
// refused (DECISIONS, frame timing). The bench's grid bypassed that check: `--codec av1
// --frame-timing vfr` (or FRAME_TIMING=vfr in the env) rendered and reported an av1 vfr row
// whose keyframes KEYINT_SEC did not bound.
TEST_F(BenchTest, Av1InVfrIsRefusedBeforeAnyRenderNamingBothFlags) {
    const std::vector<
        std::pair<std::vector<std::string>, std::vector<std::pair<std::string, std::string>>>>
        cases = {
            {{"--codec", "av1", "--preset", "12", "--crf", "40", "--frame-timing", "vfr"}, {}},
            {{"--codec", "h264,av1", "--preset", "ultrafast,av1:12", "--crf", "h264:30,av1:40",
              "--frame-timing", "cfr,vfr"},
             {}},
            {{"--codec", "av1", "--preset", "12", "--crf", "40"}, {{"FRAME_TIMING", "vfr"}}},
        };
    // The demo's frames: large enough for SVT-AV1 (64 rows at least), so a render would succeed.
    const auto demo = (testdata() / "stories/demo/part1/frames").string();
    for (const auto& [args, env] : cases) {
        std::vector<std::string> a = args;
        a.insert(a.begin(), {"--music", music()});
        const auto r = bench(a, env, demo);
        EXPECT_EQ(r.exit_code, 64) << r.out << r.err;
        EXPECT_TRUE(r.out.empty()) << "no report: " << r.out;
        const std::string said = r.out + r.err;
        EXPECT_NE(said.find("--frame-timing"), std::string::npos) << said;
        EXPECT_NE(said.find("--codec"), std::string::npos) << said;
        EXPECT_EQ(said.find("bench_run"), std::string::npos) << "nothing rendered: " << said;
    }
    expect_no_scratch_left();
}

TEST_F(BenchTest, TableIsAlignedAndMarksTheParetoRows) {
    // No --music: the first track of MUSIC_DIR, as render picks it.
    const auto r = bench({"--preset", "ultrafast,veryfast", "--crf", "20,38"},
                         {{"MUSIC_DIR", (testdata() / "audio/music").string()}});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto lines = split(r.out, '\n');
    std::size_t header = 0;
    while (header < lines.size() && lines[header].find("preset") == std::string::npos) ++header;
    ASSERT_LT(header + 4, lines.size()) << r.out;
    EXPECT_NE(lines[0].find("background.mp3"), std::string::npos) << lines[0];
    for (const char* col : {"crf", "wall s", "cpu s", "fps", "speed", "size KiB", "kbps",
                            "peak MiB", "PSNR-Y", "SSIM"}) {
        EXPECT_NE(lines[header].find(col), std::string::npos) << col;
    }
    int starred = 0;
    for (std::size_t i = header + 1; i <= header + 4; ++i) {
        // The last column is right-aligned, so every row is as long as the header.
        EXPECT_EQ(lines[i].size(), lines[header].size()) << lines[i];
        if (lines[i].front() == '*') ++starred;
    }
    EXPECT_GE(starred, 1);
    EXPECT_NE(r.out.find("Pareto-optimal"), std::string::npos);
}

// Counts <circle class="point …"> elements and checks the document is well-formed XML.
struct SvgScan {
    std::string root;
    int points = 0;
    int fronts = 0;
    std::string text;
};

TEST_F(BenchTest, PlotIsWellFormedSvgWithOnePointPerSetting) {
    // The frames dir is shown in the plot: a name with markup characters must come out escaped.
    const fs::path frames = tmp_ / "<story> & \"part\"";
    write_textured_frames(frames, kFrames, 64, 36);
    const fs::path svg = tmp_ / "plot.svg";
    const auto r = bench({"--music", music(), "--preset", "ultrafast,veryfast", "--crf", "20,38",
                          "--plot", svg.string(), "--format", "csv"},
                         {}, frames.string());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string doc = read_text(svg);

    SvgScan scan;
    std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(XML_ParserCreate("UTF-8"),
                                                                        &XML_ParserFree);
    XML_SetUserData(parser.get(), &scan);
    XML_SetElementHandler(
        parser.get(),
        [](void* data, const XML_Char* name, const XML_Char** attrs) {
            auto* s = static_cast<SvgScan*>(data);
            if (s->root.empty()) s->root = name;
            for (int i = 0; attrs[i] != nullptr; i += 2) {
                const std::string key = attrs[i], value = attrs[i + 1];
                if (key != "class") continue;
                if (std::string(name) == "circle" && value.rfind("point", 0) == 0) ++s->points;
                if (std::string(name) == "polyline" && value == "pareto-front") ++s->fronts;
            }
        },
        [](void*, const XML_Char*) {});
    XML_SetCharacterDataHandler(parser.get(), [](void* data, const XML_Char* s, int len) {
        static_cast<SvgScan*>(data)->text.append(s, static_cast<std::size_t>(len));
    });
    ASSERT_EQ(XML_Parse(parser.get(), doc.data(), static_cast<int>(doc.size()), XML_TRUE),
              XML_STATUS_OK)
        << XML_ErrorString(XML_GetErrorCode(parser.get())) << " at line " << xml_line(parser.get());
    EXPECT_EQ(scan.root, "svg");
    EXPECT_NE(scan.text.find("<story> & \"part\""), std::string::npos)
        << "the frames dir, unescaped by the parser";
    EXPECT_EQ(scan.points, 4);
    for (const char* label : {"ultrafast/crf20 SSIM 0.", "veryfast/crf38 SSIM 0."}) {
        EXPECT_NE(scan.text.find(label), std::string::npos) << label;
    }
    const auto rows = split(r.out, '\n');
    int pareto = 0;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        const auto cells = split(rows[i], ',');
        ASSERT_GT(cells.size(), 4u) << rows[i];
        pareto += cells[4] == "1" ? 1 : 0;  // the "pareto" column
    }
    EXPECT_EQ(scan.fronts, pareto > 1 ? 1 : 0);
}

TEST_F(BenchTest, KeepLeavesTheRendersAndNothingIsWrittenOtherwise) {
    const auto r = bench({"--music", music(), "--preset", "ultrafast", "--crf", "23,30", "--keep",
                          (tmp_ / "kept").string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(
        dir_entries(tmp_ / "kept"),
        (std::vector<std::string>{"bench_ultrafast_crf23_t3.mp4", "bench_ultrafast_crf30_t3.mp4"}));
    EXPECT_EQ(dir_entries(tmp_ / "frames").size(), static_cast<std::size_t>(kFrames));
    expect_no_scratch_left();
}

TEST_F(BenchTest, BadArgumentsExit64WithAClearMessage) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--preset", "turbo", "--crf", "23"}, "turbo"},
        {{"--preset", "ultrafast", "--crf", "52"}, "--crf"},
        {{"--preset", "ultrafast", "--crf", "-1"}, "--crf"},
        {{"--preset", "ultrafast", "--crf", "abc"}, "--crf"},
        {{"--preset", "ultrafast", "--crf", "18,,23"}, "empty"},
        {{"--preset", "ultrafast,", "--crf", "23"}, "empty"},
        {{"--preset", "ultrafast", "--crf", "23", "--threads", "0"}, "--threads"},
        {{"--preset", "ultrafast", "--crf", "23", "--repeat", "0"}, "--repeat"},
        {{"--preset", "ultrafast", "--crf", "23", "--format", "xml"}, "--format"},
        {{"--preset", "ultrafast", "--crf", "23", "--music", "notes.txt"}, "--music"},
        {{"--preset", "ultrafast", "--crf", "23", "--plot", "/no/such/dir/p.svg"}, "--plot"},
        {{"--crf", "23"}, "--preset"},
        {{"--preset", "ultrafast"}, "--crf"},
    };
    for (const auto& [args, word] : cases) {
        std::vector<std::string> a = args;
        if (std::find(a.begin(), a.end(), "--music") == a.end()) {
            a.insert(a.begin(), {"--music", music()});
        }
        const auto r = bench(a);
        EXPECT_EQ(r.exit_code, 64) << word << "\n" << r.out << r.err;
        EXPECT_NE((r.out + r.err).find(word), std::string::npos)
            << "the message names " << word << ":\n"
            << r.err;
    }
    expect_no_scratch_left();
}

// Codecs side by side on a tiny workload: every codec x preset x crf rendered and measured,
// each codec:preset a rate-quality curve, the Bjøntegaard deltas of each against the anchor in
// JSON and CSV, and the plot's rate-distortion lines.
TEST_F(BenchTest, CodecsAreComparedByBdRateAgainstTheAnchor) {
    // SVT-AV1 wants 64 lines or more.
    write_textured_frames(tmp_ / "frames128", kFrames, 128, 72);
    const std::vector<std::string> grid = {
        "--music",
        music(),
        "--codec",
        "h264,hevc,av1",
        "--preset",
        "ultrafast,av1:12",
        "--crf",
        "h264:18,h264:26,h264:34,h264:42,hevc:18,hevc:26,hevc:34,hevc:42,av1:20,av1:32,"
        "av1:44,av1:56",
        "--anchor",
        "h264:ultrafast"};
    auto args = grid;
    args.insert(args.end(), {"--format", "json", "--plot", (tmp_ / "rd.svg").string()});
    const auto r = bench(args, {}, (tmp_ / "frames128").string());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    rapidjson::Document doc;
    ASSERT_FALSE(doc.Parse(r.out.c_str()).HasParseError()) << r.out;
    ASSERT_EQ(doc["settings"].Size(), 12u);
    std::set<std::string> codecs;
    for (const auto& s : doc["settings"].GetArray()) {
        codecs.insert(s["codec"].GetString());
        EXPECT_GT(s["video_kbps"].GetDouble(), 0);
        // The video's own rate: the whole file's less the audio's.
        EXPECT_LT(s["video_kbps"].GetDouble(), s["kbps"].GetDouble());
    }
    EXPECT_EQ(codecs, (std::set<std::string>{"h264", "hevc", "av1"}));
    const auto& curves = doc["curves"].GetArray();
    ASSERT_EQ(curves.Size(), 3u);
    std::map<std::string, const rapidjson::Value*> by_name;
    for (const auto& c : curves) {
        by_name[c["curve"].GetString()] = &c;
        EXPECT_EQ(c["points"].GetUint64(), 4u);
    }
    ASSERT_EQ(by_name.count("h264:ultrafast"), 1u);
    ASSERT_EQ(by_name.count("hevc:ultrafast"), 1u);
    ASSERT_EQ(by_name.count("av1:12"), 1u);
    const auto& anchor = *by_name["h264:ultrafast"];
    EXPECT_TRUE(anchor["anchor"].GetBool());
    EXPECT_TRUE(anchor["bd_rate_psnr_y_pct"].IsNull());
    for (const char* name : {"hevc:ultrafast", "av1:12"}) {
        const auto& c = *by_name[name];
        EXPECT_FALSE(c["anchor"].GetBool());
        for (const char* key : {"bd_rate_psnr_y_pct", "bd_rate_ssim_pct", "bd_psnr_y_db"}) {
            ASSERT_TRUE(c[key].IsNumber())
                << name << " " << key << ": " << (c.HasMember("note") ? c["note"].GetString() : "");
            EXPECT_TRUE(std::isfinite(c[key].GetDouble())) << name << " " << key;
            // A BD-rate is a rate ratio less one: never -100 % or below.
            if (std::string(key) != "bd_psnr_y_db") {
                EXPECT_GT(c[key].GetDouble(), -100.0);
            }
        }
        // Less rate for the same quality goes with more quality for the same rate.
        EXPECT_EQ(c["bd_rate_psnr_y_pct"].GetDouble() < 0, c["bd_psnr_y_db"].GetDouble() > 0)
            << name;
    }

    // The plot draws one rate-distortion line per curve.
    const std::string svg = read_text(tmp_ / "rd.svg");
    for (const char* name : {"h264:ultrafast", "hevc:ultrafast", "av1:12"}) {
        EXPECT_NE(svg.find(std::string("class=\"rd-curve\" data-curve=\"") + name + "\""),
                  std::string::npos)
            << name;
    }

    // CSV: the curve's deltas on each of its rows, empty on the anchor's.
    auto csv_args = grid;
    csv_args.insert(csv_args.end(), {"--format", "csv"});
    const auto csv = bench(csv_args, {}, (tmp_ / "frames128").string());
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    const auto lines = split(csv.out, '\n');
    const auto header = split(lines.at(0), ',');
    const auto col = [&](const std::string& name) {
        return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) -
                                        header.begin());
    };
    ASSERT_LT(col("bd_rate_psnr_y_pct"), header.size());
    ASSERT_LT(col("curve"), header.size());
    int with_delta = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (lines[i].empty()) continue;
        auto row = split(lines[i], ',');
        row.resize(header.size());
        if (row[col("curve")] == "h264:ultrafast") {
            EXPECT_EQ(row[col("bd_rate_psnr_y_pct")], "");
        } else {
            EXPECT_NE(row[col("bd_rate_psnr_y_pct")], "") << lines[i];
            ++with_delta;
        }
    }
    EXPECT_EQ(with_delta, 8);
    expect_no_scratch_left();
}

// Three crfs are too few for a curve: the report says so instead of a number.
TEST_F(BenchTest, BdRateNeedsFourPointsAndSaysSo) {
    const auto r = bench({"--music", music(), "--codec", "h264", "--preset", "ultrafast,veryfast",
                          "--crf", "20,30,40", "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    rapidjson::Document doc;
    ASSERT_FALSE(doc.Parse(r.out.c_str()).HasParseError()) << r.out;
    const auto& curves = doc["curves"].GetArray();
    ASSERT_EQ(curves.Size(), 2u);
    EXPECT_TRUE(curves[0]["anchor"].GetBool()) << "the first curve is the default anchor";
    EXPECT_TRUE(curves[1]["bd_rate_psnr_y_pct"].IsNull());
    ASSERT_TRUE(curves[1].HasMember("note"));
    EXPECT_NE(std::string(curves[1]["note"].GetString()).find("at least 4"), std::string::npos)
        << curves[1]["note"].GetString();
}

TEST_F(BenchTest, BadCodecArgumentsExit64NamingTheValidValues) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--codec", "vp9", "--preset", "medium", "--crf", "23"}, "h264, hevc, av1"},
        {{"--codec", "av1", "--preset", "av1:veryfast", "--crf", "30"}, "0 to 13"},
        {{"--codec", "av1", "--preset", "medium", "--crf", "30"}, "0 to 13"},
        {{"--codec", "av1", "--preset", "8", "--crf", "0"}, "--crf for av1"},
        {{"--codec", "h264", "--preset", "hevc:medium", "--crf", "23"}, "--codec does not name"},
        {{"--codec", "h264,av1", "--preset", "medium,av1:8", "--crf", "h264:23"}, "no crf for av1"},
        {{"--codec", "h264,hevc", "--preset", "medium", "--crf", "23", "--anchor", "av1:8"},
         "--anchor"},
        {{"--preset", "medium", "--crf", "vp8:23"}, "names no codec"},
    };
    for (const auto& [args, word] : cases) {
        std::vector<std::string> a = args;
        a.insert(a.begin(), {"--music", music()});
        const auto r = bench(a);
        EXPECT_EQ(r.exit_code, 64) << word << "\n" << r.out << r.err;
        EXPECT_NE((r.out + r.err).find(word), std::string::npos)
            << "the message names " << word << ":\n"
            << r.err;
    }
    expect_no_scratch_left();
}

TEST_F(BenchTest, EmptyFramesDirFailsPreflightBeforeAnyRender) {
    fs::create_directories(tmp_ / "empty");
    const auto r = run_process({renderer_bin(), "bench", "--frames", (tmp_ / "empty").string(),
                                "--music", music(), "--preset", "ultrafast", "--crf", "23"},
                               {{"MIN_FREE_BYTES", "1M"}, {"TMP_DIR", (tmp_ / "tmp").string()}});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << "no report: " << r.out;
    const auto docs = json_lines(r.err);
    ASSERT_FALSE(docs.empty());
    const auto& last = docs.back();
    EXPECT_STREQ(last["event"].GetString(), "error");
    EXPECT_STREQ(last["error_class"].GetString(), "PreflightError");
    EXPECT_NE(std::string(last["error_message"].GetString()).find("holds no .png frames"),
              std::string::npos);
    for (const auto& d : docs) EXPECT_STRNE(d["event"].GetString(), "bench_run");

    const auto missing =
        bench({"--music", (tmp_ / "nope.mp3").string(), "--preset", "ultrafast", "--crf", "23"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("nope.mp3"), std::string::npos) << missing.err;
    expect_no_scratch_left();
}

// The summary alone, on made-up runs.

bench::BenchRun fake_run(const std::string& preset, int crf, double wall, std::uint64_t bytes,
                         double ssim) {
    bench::BenchRun r;
    r.setting = {preset, crf, 3};
    r.wall_sec = wall;
    r.bytes = bytes;
    r.quality.ssim = ssim;
    r.peak_rss_bytes = 1000;
    return r;
}

TEST(BenchSummary, ParetoKeepsOnlySettingsNothingBeatsOnAllThree) {
    const std::vector<bench::BenchSetting> grid = {
        {"a", 1, 3}, {"b", 1, 3}, {"c", 1, 3}, {"d", 1, 3}, {"e", 1, 3}};
    const std::vector<bench::BenchRun> runs = {
        fake_run("a", 1, 1.0, 100, 0.95),  // fastest
        fake_run("b", 1, 2.0, 80, 0.95),   // smallest
        fake_run("c", 1, 3.0, 120, 0.99),  // best
        fake_run("d", 1, 2.0, 100, 0.95),  // beaten by a (as fast or faster, same size, same SSIM)
        fake_run("e", 1, 3.0, 120, 0.98),  // beaten by c
    };
    const auto s = bench::summarize(runs, grid);
    ASSERT_EQ(s.size(), 5u);
    EXPECT_TRUE(s[0].pareto);
    EXPECT_TRUE(s[1].pareto);
    EXPECT_TRUE(s[2].pareto);
    EXPECT_FALSE(s[3].pareto);
    EXPECT_FALSE(s[4].pareto);
}

TEST(BenchSummary, MedianAndSpreadOverRepeats) {
    const std::vector<bench::BenchSetting> grid = {{"a", 1, 3}};
    const auto s = bench::summarize({fake_run("a", 1, 3.0, 10, 0.9), fake_run("a", 1, 1.0, 10, 0.9),
                                     fake_run("a", 1, 2.0, 10, 0.9)},
                                    grid);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].runs, 3);
    EXPECT_DOUBLE_EQ(s[0].wall_sec.median, 2.0);
    EXPECT_DOUBLE_EQ(s[0].wall_sec.min, 1.0);
    EXPECT_DOUBLE_EQ(s[0].wall_sec.max, 3.0);
    EXPECT_DOUBLE_EQ(s[0].wall_sec.half_range_pct(), 50.0);
    EXPECT_DOUBLE_EQ(bench::spread_of({4.0, 1.0}).median, 2.5);
}

TEST(BenchSummary, EachPassStartsOneSettingFurther) {
    const std::vector<bench::BenchSetting> grid = {{"a", 1, 3}, {"b", 1, 3}, {"c", 1, 3}};
    EXPECT_EQ(bench::bench_order(grid, 0).front().preset, "a");
    EXPECT_EQ(bench::bench_order(grid, 1).front().preset, "b");
    EXPECT_EQ(bench::bench_order(grid, 2).front().preset, "c");
    EXPECT_EQ(bench::bench_order(grid, 3).front().preset, "a");
    EXPECT_EQ(bench::bench_order(grid, 1).size(), 3u);
}

}  // namespace
}  // namespace renderer::testing

// The real `renderer` binary: help, exit codes, one-shot renders and probe, JSON on stdout.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <sstream>

#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/process.h"

namespace renderer::testing {
namespace {

const rapidjson::Document* find_event(const std::vector<rapidjson::Document>& docs,
                                      const char* event) {
    for (const auto& d : docs) {
        if (d.IsObject() && d.HasMember("event") && std::string(d["event"].GetString()) == event)
            return &d;
    }
    return nullptr;
}

class CliTest : public ::testing::Test {
  protected:
    RunResult run(std::vector<std::string> args,
                  std::vector<std::pair<std::string, std::string>> env = {}) {
        args.insert(args.begin(), renderer_bin());
        env.emplace_back("MIN_FREE_BYTES", "1M");
        env.emplace_back("TMP_DIR", (tmp_ / "tmp").string());
        return run_process(args, env);
    }

    using Cases = std::vector<std::pair<std::string, std::string>>;
    // A render of the demo with each flag value in `flags` exits 64 naming the flag, and with
    // each variable value in `vars` exits 78 naming the variable; nothing is written.
    void expect_setting_errors(const Cases& flags, const Cases& vars) {
        fs::create_directories(tmp_ / "out");
        const std::vector<std::string> base = {"render",
                                               "--frames",
                                               (testdata() / "stories/demo/part1/frames").string(),
                                               "--story",
                                               "s",
                                               "--part",
                                               "p",
                                               "--music-dir",
                                               (testdata() / "audio/music").string(),
                                               "--output",
                                               (tmp_ / "out").string(),
                                               "--json-logs"};
        for (const auto& [flag, value] : flags) {
            auto args = base;
            args.insert(args.end(), {flag, value});
            const auto r = run(args);
            EXPECT_EQ(r.exit_code, 64) << flag << " " << value << "\n" << r.out << r.err;
            EXPECT_NE(r.out.find(flag), std::string::npos)
                << "the message names the flag: " << r.out;
        }
        for (const auto& [var, value] : vars) {
            const auto r = run(base, {{var, value}});
            EXPECT_EQ(r.exit_code, 78) << var << "=" << value << "\n" << r.out << r.err;
            EXPECT_NE(r.out.find(var), std::string::npos)
                << "the message names the variable: " << r.out;
        }
        EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
    }

    TempDir tmp_;
};

TEST_F(CliTest, HelpTeaches) {
    const auto r = run({"--help"});
    EXPECT_EQ(r.exit_code, 0);
    for (const char* word :
         {"render", "probe", "worker", "--json-logs", "--log-level", "--debug", "Exit codes"}) {
        EXPECT_NE(r.out.find(word), std::string::npos) << word;
    }
    const auto rh = run({"render", "--help"});
    EXPECT_EQ(rh.exit_code, 0);
    for (const char* word :
         {"--stories-path", "--music-dir", "MUSIC_DIR", "--music-select", "--size", "--crf"}) {
        EXPECT_NE(rh.out.find(word), std::string::npos) << word;
    }
}

TEST_F(CliTest, VersionPrints) {
    const auto r = run({"--version"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("renderer "), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExit64) {
    fs::create_directories(tmp_ / "out");
    EXPECT_EQ(run({"--no-such-flag"}).exit_code, 64);
    EXPECT_EQ(run({"render", "--output", (tmp_ / "out").string()}).exit_code,
              64);  // nothing to render
    EXPECT_EQ(run({"--log-level", "loud", "probe", "x"}).exit_code, 64);
    for (const char* size : {"abc", "100x", "101x100", "0x0", "99999x100"}) {
        const auto r = run({"render", "--frames",
                            (testdata() / "stories/demo/part1/frames").string(), "--story", "s",
                            "--part", "p", "--music-dir", (testdata() / "audio/music").string(),
                            "--output", (tmp_ / "out").string(), "--size", size, "--json-logs"});
        EXPECT_EQ(r.exit_code, 64) << size << "\n" << r.out << r.err;
        EXPECT_NE(r.out.find("--size"), std::string::npos) << "the message names the flag";
    }
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
}

TEST_F(CliTest, AudioSettingsOutOfRangeExit64NamingTheFlagAnd78NamingTheVariable) {
    expect_setting_errors({{"--audio-fit", "forever"},
                           {"--audio-fade-out-ms", "-5"},
                           {"--audio-fade-in-ms", "70000"},
                           {"--audio-loudness", "-90"},
                           {"--audio-loudness", "loud"},
                           {"--audio-true-peak", "3"}},
                          {{"AUDIO_FIT", "repeat"},
                           {"AUDIO_FADE_OUT_MS", "99999999"},
                           {"AUDIO_LOUDNESS", "-2"},
                           {"AUDIO_TRUE_PEAK", "-20"}});
}

TEST_F(CliTest, FrameTimingSettingsOutOfRangeExit64NamingTheFlagAnd78NamingTheVariable) {
    expect_setting_errors({{"--keyint-sec", "0"},
                           {"--keyint-sec", "301"},
                           {"--keyint-sec", "2.5x"},
                           {"--frame-timing", "variable"},
                           {"--vfr-max-hold-ms", "0"},
                           {"--vfr-max-hold-ms", "60001"}},
                          {{"KEYINT_SEC", "0"},
                           {"KEYINT_SEC", "1000"},
                           {"FRAME_TIMING", "VFR!"},
                           {"VFR_MAX_HOLD_MS", "-1"},
                           {"VFR_MAX_HOLD_MS", "100000"}});
}

TEST_F(CliTest, ProbeLoudnessMeasuresAnyFileAndReadsTheRendersGain) {
    fs::create_directories(tmp_ / "out");
    const auto r = run({"render", "--frames", (testdata() / "stories/demo/part1/frames").string(),
                        "--story", "s", "--part", "p", "--music-dir",
                        (testdata() / "audio/music").string(), "--output", (tmp_ / "out").string(),
                        "--preset", "ultrafast", "--audio-loudness", "-18", "--json-logs"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    double reported = 0;
    for (const auto& d : json_lines(r.out)) {
        if (std::string(d["event"].GetString()) == "done")
            reported = d["loudness_lufs"].GetDouble();
    }
    EXPECT_NEAR(reported, -18, 0.5);
    const auto p = run({"probe", "--loudness", "--compact", (tmp_ / "out/s_p.mp4").string()});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    rapidjson::Document d;
    ASSERT_FALSE(d.Parse(p.out.c_str()).HasParseError()) << p.out;
    EXPECT_NEAR(d["loudness_lufs"].GetDouble(), reported, 0.05);
    EXPECT_TRUE(d["gain_db"].IsNumber());
    const auto mp3 = run(
        {"probe", "--loudness", "--compact", (testdata() / "audio/music/background.mp3").string()});
    ASSERT_EQ(mp3.exit_code, 0) << mp3.err;
    ASSERT_FALSE(d.Parse(mp3.out.c_str()).HasParseError()) << mp3.out;
    EXPECT_TRUE(d["loudness_lufs"].IsNumber());
    EXPECT_FALSE(d.HasMember("gain_db")) << "a file the renderer did not gain has no gain to state";
}

TEST_F(CliTest, BadConfigExits78WithOneMessage) {
    fs::create_directories(tmp_ / "out");
    const std::vector<std::string> args = {
        "render",   "--stories-path",        (testdata() / "stories").string(),
        "--output", (tmp_ / "out").string(), "--json-logs"};
    for (const auto& [k, v] :
         std::vector<std::pair<std::string, std::string>>{{"FPS", "abc"},
                                                          {"X264_CRF", "99"},
                                                          {"OUTPUT_DIR", "relative/out"},
                                                          {"X264_PRESET", "warp"}}) {
        const auto r = run(args, {{k, v}});
        EXPECT_EQ(r.exit_code, 78) << k << "=" << v << "\n" << r.out << r.err;
        const auto docs = json_lines(r.out);
        ASSERT_EQ(docs.size(), 1u) << r.out;
        EXPECT_STREQ(docs[0]["error_class"].GetString(), "ConfigError");
        EXPECT_NE(std::string(docs[0]["error_message"].GetString()).find(k), std::string::npos);
    }
}

TEST_F(CliTest, RendersTheStoriesDirAndProbesTheResult) {
    fs::create_directories(tmp_ / "out");
    const auto r = run({"render", "--stories-path", (testdata() / "stories").string(),
                        "--music-dir", (testdata() / "audio/music").string(), "--output",
                        (tmp_ / "out").string(), "--preset", "ultrafast", "--json-logs"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto docs = json_lines(r.out);
    int done = 0;
    for (const auto& d : docs) {
        EXPECT_STREQ(d["service"].GetString(), "renderer");
        if (std::string(d["event"].GetString()) == "done") {
            ++done;
            EXPECT_TRUE(d.HasMember("story_id") && d.HasMember("part_id"));
            EXPECT_TRUE(fs::exists(d["path"].GetString()));
            EXPECT_EQ(d["bytes"].GetUint64(), fs::file_size(d["path"].GetString()));
            EXPECT_STREQ(d["audio_track"].GetString(), "background.mp3");
        }
    }
    EXPECT_EQ(done, 2);
    ASSERT_TRUE(fs::exists(tmp_ / "out/demo_part1.mp4"));
    ASSERT_TRUE(fs::exists(tmp_ / "out/demo_part2.mp4"));

    const auto p = run({"probe", "--compact", (tmp_ / "out/demo_part1.mp4").string()});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    rapidjson::Document d;
    ASSERT_FALSE(d.Parse(p.out.c_str()).HasParseError()) << p.out;
    ASSERT_EQ(d["streams"].Size(), 2u);
    EXPECT_STREQ(d["streams"][0]["codec"].GetString(), "h264");
    EXPECT_EQ(d["streams"][0]["frames"].GetInt(), 60);
    EXPECT_EQ(d["streams"][0]["width"].GetInt(), 320);
    EXPECT_STREQ(d["streams"][1]["codec"].GetString(), "aac");
    EXPECT_EQ(d["streams"][1]["channels"].GetInt(), 2);
    EXPECT_NEAR(d["duration_sec"].GetDouble(), 2.0, 1.0 / 30);
}

TEST_F(CliTest, FailedRenderExitsNonZeroWithClassAndLeavesNothing) {
    fs::create_directories(tmp_ / "out");
    fs::create_directories(tmp_ / "empty");
    const auto r = run({"render", "--frames", (tmp_ / "empty").string(), "--story", "s", "--part",
                        "p", "--music-dir", (testdata() / "audio/music").string(), "--output",
                        (tmp_ / "out").string(), "--json-logs"});
    EXPECT_EQ(r.exit_code, 1);
    const auto docs = json_lines(r.out);
    const auto* err = find_event(docs, "error");
    ASSERT_NE(err, nullptr) << r.out;
    EXPECT_STREQ((*err)["error_class"].GetString(), "PreflightError");
    EXPECT_STREQ((*err)["story_id"].GetString(), "s");
    EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
}

TEST_F(CliTest, DebugLogsFfmpegCmdAndWritesALibavReport) {
    fs::create_directories(tmp_ / "out");
    const auto r =
        run({"render", "--frames", (testdata() / "stories/demo/part2/frames").string(), "--story",
             "s", "--part", "p", "--music-dir", (testdata() / "audio/music").string(), "--output",
             (tmp_ / "out").string(), "--preset", "ultrafast", "--json-logs", "--debug"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto docs = json_lines(r.out);
    const auto* cmd = find_event(docs, "ffmpeg_cmd");
    ASSERT_NE(cmd, nullptr);
    EXPECT_TRUE((*cmd)["argv"].IsArray());
    const auto* report = find_event(docs, "ffreport");
    ASSERT_NE(report, nullptr);
    const std::string text = read_text((*report)["ffreport"].GetString());
    EXPECT_NE(text.find("x264"), std::string::npos) << "the report holds libav's own log";
}

TEST_F(CliTest, ProbeOfAMissingFileFails) {
    const auto r = run({"probe", (tmp_ / "nope.mp4").string()});
    EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace renderer::testing

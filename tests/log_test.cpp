// Logging: one JSON object per line, escaped by the writer, ids attached, secrets redacted.
#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include "common/log.h"
#include "support/capture_sink.h"

namespace renderer::testing {
namespace {

TEST(Log, JsonLinesCarryTheRequiredFields) {
    auto sink = capture_json_logs();
    log::Context ctx({{"job_id", "J123"}, {"story_id", "S45"}, {"part_id", "P2"}});
    ctx.info("claim", {{"attempt", 1}, {"lease_sec", 120}, {"ok", true}, {"ratio", 0.5}});
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 1u);
    rapidjson::Document d;
    ASSERT_FALSE(d.Parse(lines[0].c_str()).HasParseError()) << lines[0];
    EXPECT_STREQ(d["service"].GetString(), "renderer");
    EXPECT_STREQ(d["event"].GetString(), "claim");
    EXPECT_STREQ(d["level"].GetString(), "info");
    EXPECT_TRUE(d["ts"].IsString());
    EXPECT_STREQ(d["job_id"].GetString(), "J123");
    EXPECT_STREQ(d["story_id"].GetString(), "S45");
    EXPECT_STREQ(d["part_id"].GetString(), "P2");
    EXPECT_EQ(d["attempt"].GetInt(), 1);
    EXPECT_TRUE(d["ok"].GetBool());
    EXPECT_DOUBLE_EQ(d["ratio"].GetDouble(), 0.5);
}

TEST(Log, EveryValueIsEscaped) {
    auto sink = capture_json_logs();
    const std::string nasty = "quote\" backslash\\ newline\n tab\t ctrl\x01 unicode é {\"json\":1}";
    log::info("error",
              {{"error_message", nasty}, {"argv", std::vector<std::string>{"a\"b", "c\nd"}}});
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].find('\n'), std::string::npos) << "one line per event";
    rapidjson::Document d;
    ASSERT_FALSE(d.Parse(lines[0].c_str()).HasParseError()) << lines[0];
    EXPECT_EQ(std::string(d["error_message"].GetString()), nasty);
    EXPECT_STREQ(d["argv"][1].GetString(), "c\nd");
}

TEST(Log, RegisteredSecretsNeverAppear) {
    auto sink = capture_json_logs();
    log::add_secret("tok-SECRET-123");
    log::info("start", {{"api_base", "http://api"}, {"oops", "Bearer tok-SECRET-123"}});
    log::warn("retry", {{"reason", "tok-SECRET-123 tok-SECRET-123"}});
    const auto all = sink->joined();
    EXPECT_EQ(all.find("tok-SECRET-123"), std::string::npos) << all;
    EXPECT_NE(all.find("[REDACTED]"), std::string::npos);
}

TEST(Log, LevelFilters) {
    auto sink = capture_json_logs(false);
    log::debug("noise");
    log::info("kept");
    EXPECT_EQ(sink->events().size(), 1u);
}

TEST(Log, TextModeIsReadable) {
    auto sink = std::make_shared<CaptureSink>();
    log::init(log::Options{false, log::Level::info}, sink);
    log::Context(log::Fields{{"job_id", "J1"}})
        .info("done", {{"bytes", 42}, {"path", "/output/a.mp4"}});
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("info  done job_id=J1 bytes=42 path=/output/a.mp4"), std::string::npos)
        << lines[0];
}

TEST(Log, ParseLevel) {
    log::Level l{};
    EXPECT_TRUE(log::parse_level("debug", l));
    EXPECT_EQ(l, log::Level::debug);
    EXPECT_TRUE(log::parse_level("error", l));
    EXPECT_EQ(l, log::Level::err);
    EXPECT_FALSE(log::parse_level("loud", l));
}

}  // namespace
}  // namespace renderer::testing

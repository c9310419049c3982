// The bad-input matrix for what reaches the worker from outside the media: answers from a job
// API that is broken, hostile or slow (a scripted server on loopback), and misconfiguration
// (the real binary, which must exit 78 with one actionable line). Each case ends with a clear
// error_class, claims and writes nothing it should not, and never shows the token.
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/process.h"
#include "support/secret_scan.h"
#include "support/stub_api.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace renderer::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "matrix-token-3c9a1f77e2";
const std::string kList = "GET /api/render-jobs";

std::string job_json(const std::string& id_json, const std::string& story_json = R"("s")",
                     const std::string& part_json = R"("p")") {
    return R"({"id":)" + id_json + R"(,"story_id":)" + story_json + R"(,"part_id":)" + part_json +
           "}";
}

const std::string kGoodList = "[" + job_json(R"("j1")") + "]";

struct ApiCase {
    std::string name;
    // Scripts the API; `other` is a second server on another origin (redirect targets).
    std::function<void(StubApi& api, StubApi& other)> script;
    // The event that must carry error_class ApiError: poll_failed (the list call failed),
    // error (a listed job was refused) or claim_failed (the claim answer was unusable).
    std::string event;
    bool claims = false;  // whether a claim may be sent at all
    int http_timeout_sec = 5;
};

std::vector<ApiCase> api_cases() {
    const auto list = [](std::vector<Answer> answers) {
        return [answers](StubApi& api, StubApi&) { api.script(kList, answers); };
    };
    const auto listed = [](const std::string& job) {
        return [job](StubApi& api, StubApi&) { api.script(kList, {{200, "[" + job + "]"}}); };
    };
    const auto claim_answer = [](const std::string& body) {
        return [body](StubApi& api, StubApi&) {
            api.script(kList, {{200, kGoodList}});
            api.script("POST /api/render-jobs/j1/claim", {{200, body}});
        };
    };
    return {
        {"list_not_json", list({{200, "<html><body>502 Bad Gateway</body></html>"}}),
         "poll_failed"},
        {"list_truncated_json", list({{200, R"({"jobs":[{"id":"j1","story_id")"}}), "poll_failed"},
        {"list_is_a_string", list({{200, R"("jobs")"}}), "poll_failed"},
        {"list_jobs_not_an_array", list({{200, R"({"jobs":{"id":"j1"}})"}}), "poll_failed"},
        {"list_queue_depth_not_a_number", list({{200, R"({"jobs":[],"queue_depth":"many"})"}}),
         "poll_failed"},
        {"list_unauthorized", list({{401, R"({"error":"unauthorized"})"}}), "poll_failed"},
        {"list_always_5xx", list({{503, "{}"}}), "poll_failed"},
        {"list_body_100_mb", list({{200, "", {}, 0ms, 100u << 20}}), "poll_failed"},
        {"list_slower_than_timeout", list({{200, "[]", {}, 2500ms}}), "poll_failed", false, 1},
        {"list_redirects_to_other_host",
         [](StubApi& api, StubApi& other) {
             other.script(kList, {{200, kGoodList}});
             api.script(kList, {{302, "", {{"Location", other.url() + "/api/render-jobs"}}}});
         },
         "poll_failed"},
        {"job_not_an_object", listed("42"), "error"},
        {"job_fields_of_wrong_types", listed(job_json("7", "true", "null")), "error"},
        {"job_missing_id", listed(R"({"story_id":"s","part_id":"p"})"), "error"},
        {"job_id_with_slash", listed(job_json(R"("a/b")")), "error"},
        {"job_id_dotdot", listed(job_json(R"("..")")), "error"},
        {"job_id_with_nul", listed(job_json(R"("j\u0000x")")), "error"},
        {"job_id_10_kb", listed(job_json("\"" + std::string(10 * 1024, 'a') + "\"")), "error"},
        {"job_story_id_traversal", listed(job_json(R"("j1")", R"("../../etc")")), "error"},
        {"claim_answer_not_json", claim_answer("lease granted"), "claim_failed", true},
        {"claim_answer_without_expiry", claim_answer(R"({"lease_token":"t"})"), "claim_failed",
         true},
        {"claim_answer_bad_time", claim_answer(R"({"lease_expires_at":"tomorrow"})"),
         "claim_failed", true},
    };
}

void PrintTo(const ApiCase& c, std::ostream* os) { *os << c.name; }

class BadApiTest : public ::testing::TestWithParam<ApiCase> {};

TEST_P(BadApiTest, EndsWithApiErrorClaimsNothingLeaksNothing) {
    const ApiCase& c = GetParam();
    auto logs = capture_json_logs();
    TempDir dir;
    StubApi api, other;
    c.script(api, other);
    for (const char* d : {"content/audio/music", "output", "tmp"}) fs::create_directories(dir / d);

    worker::WorkerConfig config;
    config.api_base_url = api.url();
    config.api_token = kToken;
    config.poll_interval_ms = 50;
    config.http_timeout_sec = c.http_timeout_sec;
    config.min_free_bytes = 1;
    config.paths.content_dir = dir / "content";
    config.paths.music_dir = dir / "content/audio/music";
    config.paths.output_dir = dir / "output";
    config.paths.tmp_dir = dir / "tmp";
    worker::Worker w(
        config,
        [](const auto&, const auto&, const auto&, const auto&, const auto&) -> media::RenderResult {
            ADD_FAILURE() << "nothing may be rendered";
            throw Error(ErrorClass::Cancelled, "no render in this test");
        });

    // Until the event shows up (for a refused job, two polls more: it must be logged once,
    // not at every poll), bounded in time.
    const auto t0 = std::chrono::steady_clock::now();
    std::thread runner([&] { w.run(); });
    const auto polls = [&] { return logs->events("poll").size(); };
    while (std::chrono::steady_clock::now() - t0 < 30s && logs->events(c.event).empty()) {
        std::this_thread::sleep_for(10ms);
    }
    const auto polls_then = polls();
    while (c.event == "error" && std::chrono::steady_clock::now() - t0 < 30s &&
           polls() < polls_then + 2) {
        std::this_thread::sleep_for(10ms);
    }
    w.request_stop();
    runner.join();
    const auto elapsed = std::chrono::steady_clock::now() - t0;

    const auto events = logs->events(c.event);
    ASSERT_FALSE(events.empty()) << logs->joined();
    EXPECT_STREQ(events[0]["error_class"].GetString(), "ApiError") << logs->joined();
    EXPECT_GT(std::string(events[0]["error_message"].GetString()).size(), 10u);
    if (c.event == "error") {
        EXPECT_EQ(events.size(), 1u) << "a refused job is logged once, not at every poll";
        // The id is quoted for the operator, bounded in length.
        EXPECT_LE(std::string(events[0]["listed_id"].GetString()).size(), 128u);
    }
    const int claims = api.total_hits() - api.hits(kList);
    if (!c.claims) {
        EXPECT_EQ(claims, 0) << "nothing may be claimed";
    }
    EXPECT_EQ(other.total_hits(), 0) << "the token must never travel to another origin";
    EXPECT_LT(elapsed, 30s);
    EXPECT_TRUE(dir_entries(dir / "output").empty());
    EXPECT_TRUE(dir_entries(dir / "tmp").empty());
    expect_no_secret(kToken, SecretScan{{{"logs", logs->joined()}}, {dir.path()}, {}});
    EXPECT_EQ(logs->joined().find("[REDACTED]"), std::string::npos)
        << "something tried to log the token";
}

INSTANTIATE_TEST_SUITE_P(Matrix, BadApiTest, ::testing::ValuesIn(api_cases()),
                         [](const auto& param) { return param.param.name; });

// ---- configuration: the real binary ----

struct ConfigCase {
    std::string name;
    std::vector<std::pair<std::string, std::string>> env;  // over a good configuration
    std::string mentions;  // the variable (or fact) the one-line message must name
};

std::vector<ConfigCase> config_cases() {
    return {
        {"relative_output_dir", {{"OUTPUT_DIR", "output"}}, "OUTPUT_DIR"},
        {"relative_content_dir", {{"CONTENT_DIR", "./content"}}, "CONTENT_DIR"},
        {"relative_token_file",
         {{"API_AUTH_TOKEN", ""}, {"API_AUTH_TOKEN_FILE", "token"}},
         "API_AUTH_TOKEN_FILE"},
        {"missing_token", {{"API_AUTH_TOKEN", ""}}, "API_AUTH_TOKEN"},
        {"empty_token_file",
         {{"API_AUTH_TOKEN", ""}, {"API_AUTH_TOKEN_FILE", "@empty"}},
         "is empty"},
        {"endless_token_file",
         {{"API_AUTH_TOKEN", ""}, {"API_AUTH_TOKEN_FILE", "/dev/zero"}},
         "larger than"},
        {"token_with_spaces", {{"API_AUTH_TOKEN", std::string(kToken) + " x"}}, "token"},
        // A token of a few characters cannot be redacted: every '"' (or 'e', or '1') in every
        // line was replaced by the marker, so no log line was JSON any more, this one included.
        {"one_character_token", {{"API_AUTH_TOKEN", "\""}}, "API_AUTH_TOKEN"},
        {"short_token_file",
         {{"API_AUTH_TOKEN", ""}, {"API_AUTH_TOKEN_FILE", "@short"}},
         "API_AUTH_TOKEN_FILE"},
        {"missing_api_url", {{"API_BASE_URL", ""}}, "API_BASE_URL"},
        {"api_url_not_http", {{"API_BASE_URL", "ftp://127.0.0.1/"}}, "API_BASE_URL"},
        {"poll_interval_not_a_number", {{"POLL_INTERVAL_MS", "soon"}}, "POLL_INTERVAL_MS"},
        {"lease_seconds_not_a_number", {{"LEASE_SECONDS", "1e3"}}, "LEASE_SECONDS"},
        {"min_free_bytes_not_a_number", {{"MIN_FREE_BYTES", "lots"}}, "MIN_FREE_BYTES"},
        {"fps_not_a_number", {{"FPS", "thirty"}}, "FPS"},
        {"negative_poll_interval", {{"POLL_INTERVAL_MS", "-100"}}, "POLL_INTERVAL_MS"},
        {"negative_lease_seconds", {{"LEASE_SECONDS", "-5"}}, "LEASE_SECONDS"},
        {"negative_heartbeat_interval",
         {{"HEARTBEAT_INTERVAL_SEC", "-1"}},
         "HEARTBEAT_INTERVAL_SEC"},
        {"negative_job_timeout", {{"JOB_TIMEOUT_SEC", "-10"}}, "JOB_TIMEOUT_SEC"},
        {"negative_shutdown_grace", {{"SHUTDOWN_GRACE_SEC", "-1"}}, "SHUTDOWN_GRACE_SEC"},
    };
}

void PrintTo(const ConfigCase& c, std::ostream* os) { *os << c.name; }

class BadConfigTest : public ::testing::TestWithParam<ConfigCase> {};

TEST_P(BadConfigTest, ExitsWithConfigErrorNamingTheSettingWithoutTheToken) {
    const ConfigCase& c = GetParam();
    TempDir dir;
    for (const char* d : {"content/audio/music", "output", "tmp"}) fs::create_directories(dir / d);
    write_bytes(dir / "empty-token", "");
    write_bytes(dir / "short-token", "e1\n");
    // A good configuration (an API nobody listens on: the worker must fail before calling it),
    // then the case's changes. Empty values unset a variable.
    std::vector<std::pair<std::string, std::string>> env = {
        {"API_BASE_URL", "http://127.0.0.1:9"},
        {"API_AUTH_TOKEN", kToken},
        {"API_AUTH_TOKEN_FILE", ""},
        {"CONTENT_DIR", (dir / "content").string()},
        {"MUSIC_DIR", ""},
        {"OUTPUT_DIR", (dir / "output").string()},
        {"TMP_DIR", (dir / "tmp").string()},
        {"MIN_FREE_BYTES", "1"},
        {"METRICS_ADDR", ""},
    };
    for (auto [k, v] : c.env) {
        if (v == "@empty") v = (dir / "empty-token").string();
        if (v == "@short") v = (dir / "short-token").string();
        bool replaced = false;
        for (auto& kv : env) {
            if (kv.first == k) {
                kv.second = v;
                replaced = true;
            }
        }
        if (!replaced) env.emplace_back(k, v);
    }
    const auto r = run_process({renderer_bin(), "--json-logs", "worker"}, env, 30s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, kExitConfig) << r.out << r.err;
    const auto all = r.out + r.err;
    for (const auto& line : json_lines(r.out)) EXPECT_TRUE(line.IsObject());
    EXPECT_NE(all.find(R"("error_class":"ConfigError")"), std::string::npos) << all;
    EXPECT_NE(all.find(c.mentions), std::string::npos) << all;
    EXPECT_TRUE(dir_entries(dir / "output").empty());
    EXPECT_TRUE(dir_entries(dir / "tmp").empty());
    expect_no_secret(kToken, SecretScan{{{"stdout", r.out}, {"stderr", r.err}}, {dir.path()}, {}});
}

INSTANTIATE_TEST_SUITE_P(Matrix, BadConfigTest, ::testing::ValuesIn(config_cases()),
                         [](const auto& param) { return param.param.name; });

}  // namespace
}  // namespace renderer::testing

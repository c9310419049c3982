// The API client, job model and worker configuration against a scripted HTTP server on
// loopback: exact status codes, headers and bodies that the reference API does not produce on
// demand (400, 429 + Retry-After, redirects, oversized answers, unsafe ids, 409 on status).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/time_format.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/stub_api.h"
#include "worker/api_client.h"
#include "worker/api_messages.h"
#include "worker/http_client.h"
#include "worker/job_request.h"
#include "worker/lease.h"
#include "worker/url.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace renderer::worker {
namespace {

using namespace std::chrono_literals;
using testing::CaptureSink;

constexpr const char* kToken = "stub-token-8f2e61";

using testing::Answer;
using testing::StubApi;

const char* kList = "GET /api/render-jobs";

ApiClient::Options fast_options(const std::string& base) {
    ApiClient::Options o;
    o.base_url = base;
    o.token = kToken;
    o.worker_name = "t";
    o.http_timeout = 5s;
    const RetryPolicy quick{.max_attempts = 4,
                            .base_delay = 10ms,
                            .max_delay = 50ms,
                            .max_total = 5000ms,
                            .min_delay = 5ms};
    o.poll_retry = quick;
    o.claim_retry = quick;
    o.lease_retry = RetryPolicy{.max_attempts = 100,
                                .base_delay = 10ms,
                                .max_delay = 50ms,
                                .max_total = 60000ms,
                                .min_delay = 5ms};
    return o;
}

Job job(const std::string& id) {
    Job j;
    j.id = id;
    j.story_id = "s";
    j.part_id = "p";
    return j;
}

class ApiClientTest : public ::testing::Test {
  protected:
    void SetUp() override { logs_ = testing::capture_json_logs(); }
    void TearDown() override {
        const auto all = logs_->joined();
        EXPECT_EQ(all.find(kToken), std::string::npos);
    }
    std::shared_ptr<CaptureSink> logs_;
    StubApi stub_;
    log::Context ctx_;
};

TEST_F(ApiClientTest, ServerErrorsAreRetriedThenSucceed) {
    stub_.script(kList, {{503, "{}", {}},
                         {502, "{}", {}},
                         {200, R"([{"id":"j1","story_id":"s","part_id":"p"}])", {}}});
    ApiClient api(fast_options(stub_.url()));
    const auto list = api.list_jobs(2, nullptr);
    EXPECT_EQ(stub_.hits(kList), 3);
    ASSERT_EQ(list.jobs.size(), 1u);
    EXPECT_EQ(list.queue_depth, 1) << "no field and no header: the count listed";
    EXPECT_EQ(stub_.auth(), std::string("Bearer ") + kToken);
    const auto retries = logs_->events("retry");
    ASSERT_EQ(retries.size(), 2u);
    EXPECT_EQ(retries[0]["attempt"].GetInt(), 1);
    EXPECT_EQ(retries[1]["attempt"].GetInt(), 2);
    EXPECT_STREQ(retries[0]["path"].GetString(), "/api/render-jobs");
    EXPECT_NE(std::string(retries[0]["reason"].GetString()).find("503"), std::string::npos);
}

TEST_F(ApiClientTest, ClientErrorsAreNotRetried) {
    stub_.script(kList, {{400, R"({"error":"bad_request"})", {}}});
    ApiClient api(fast_options(stub_.url()));
    try {
        api.list_jobs(2, nullptr);
        FAIL() << "a 400 must throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ApiError);
        EXPECT_NE(std::string(e.what()).find("400"), std::string::npos);
    }
    EXPECT_EQ(stub_.hits(kList), 1);
    EXPECT_TRUE(logs_->events("retry").empty());
}

TEST_F(ApiClientTest, RetriesRunOutWithinTheirBudget) {
    stub_.script(kList, {{503, "{}", {}}});
    ApiClient api(fast_options(stub_.url()));
    EXPECT_THROW(api.list_jobs(2, nullptr), Error);
    EXPECT_EQ(stub_.hits(kList), 4) << "max_attempts bounds the retries";
}

TEST_F(ApiClientTest, TooManyRequestsHonoursRetryAfter) {
    stub_.script(kList, {{429, "{}", {{"Retry-After", "1"}}}, {200, "[]", {}}});
    ApiClient api(fast_options(stub_.url()));
    const auto t0 = std::chrono::steady_clock::now();
    api.list_jobs(2, nullptr);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 950ms);
    const auto retries = logs_->events("retry");
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries[0]["delay_ms"].GetInt(), 1000);
}

TEST_F(ApiClientTest, RetryAfterZeroDoesNotDisableBackoff) {
    // Issue 11.4: `Retry-After: 0` made every delay 0: 454 status posts in 20 s. The delay is
    // the larger of Retry-After and the computed back-off, which has a floor.
    ApiClient::Options o;  // the production retry policies
    o.base_url = stub_.url();
    o.token = kToken;
    o.http_timeout = 5s;
    ApiClient api(o);
    const auto key = "POST /api/render-jobs/j1/status";
    stub_.script(key, {{503, "{}", {{"Retry-After", "0"}}}});
    StatusUpdate u;
    u.status = "rendering";
    const auto result =
        api.post_status(job("j1"), u, std::string("lt"), SteadyClock::now() + 3s, nullptr, ctx_);
    EXPECT_EQ(result.answer, LeaseAnswer::Unreachable);
    const auto retries = logs_->events("retry");
    ASSERT_FALSE(retries.empty());
    for (const auto& r : retries) {
        EXPECT_GE(r["delay_ms"].GetInt64(), o.lease_retry.min_delay.count())
            << "Retry-After: 0 must not shorten the back-off below its floor";
    }
    // With the floor, 3 s hold at most 3000 / floor posts; without it there were hundreds.
    EXPECT_LE(stub_.hits(key), 1 + 3000 / o.lease_retry.min_delay.count());

    // A longer Retry-After than the back-off is honoured.
    stub_.script(kList, {{503, "{}", {{"Retry-After", "1"}}}, {200, "[]", {}}});
    const auto before = logs_->events("retry").size();
    api.list_jobs(1, nullptr);
    const auto after = logs_->events("retry");
    ASSERT_EQ(after.size(), before + 1);
    EXPECT_GE(after.back()["delay_ms"].GetInt64(), 1000);
}

TEST_F(ApiClientTest, NetworkErrorsAreRetried) {
    int closed_port = 0;
    {
        StubApi gone;
        closed_port = gone.port();
    }
    ApiClient api(fast_options("http://127.0.0.1:" + std::to_string(closed_port)));
    EXPECT_THROW(api.list_jobs(2, nullptr), Error);
    EXPECT_EQ(logs_->events("retry").size(), 3u);
}

TEST_F(ApiClientTest, RedirectsAreNeverFollowed) {
    StubApi elsewhere;
    elsewhere.script(kList, {{200, "[]", {}}});
    stub_.script(kList, {{302, "", {{"Location", elsewhere.url() + "/api/render-jobs"}}}});
    ApiClient api(fast_options(stub_.url()));
    EXPECT_THROW(api.list_jobs(2, nullptr), Error);
    EXPECT_EQ(elsewhere.hits(kList), 0) << "the token must not follow a redirect";
}

TEST_F(ApiClientTest, OversizedAnswersAreRefused) {
    stub_.script(kList, {{200, std::string(9u << 20, ' '), {}}});
    ApiClient api(fast_options(stub_.url()));
    try {
        api.list_jobs(2, nullptr);
        FAIL() << "a 9 MiB answer must throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ApiError);
    }
    EXPECT_EQ(stub_.hits(kList), 1);
}

TEST_F(ApiClientTest, QueueDepthFromFieldThenHeaderThenCount) {
    ApiClient api(fast_options(stub_.url()));
    stub_.script(kList, {{200, R"({"jobs":[],"queue_depth":7})", {{"X-Queue-Depth", "3"}}}});
    EXPECT_EQ(api.list_jobs(2, nullptr).queue_depth, 7);
    stub_.script(kList, {{200, R"([])", {{"X-Queue-Depth", "3"}}}});
    EXPECT_EQ(api.list_jobs(2, nullptr).queue_depth, 3);
}

TEST_F(ApiClientTest, ClaimConflictIsASkipAndForeignClaimUrlsAreIgnored) {
    ApiClient api(fast_options(stub_.url()));
    stub_.script("POST /api/render-jobs/j1/claim", {{409, R"({"error":"conflict"})", {}}});
    EXPECT_FALSE(api.claim(job("j1"), ctx_));
    EXPECT_EQ(stub_.hits("POST /api/render-jobs/j1/claim"), 1);

    auto foreign = job("j2");
    foreign.claim_url = "http://evil.example:9/steal";
    stub_.script(
        "POST /api/render-jobs/j2/claim",
        {{200, R"({"lease_expires_at":"2030-01-01T00:00:00Z","lease_token":"lt-1"})", {}}});
    const auto grant = api.claim(foreign, ctx_);
    ASSERT_TRUE(grant);
    EXPECT_EQ(grant->lease_token, "lt-1");
    EXPECT_EQ(stub_.hits("POST /api/render-jobs/j2/claim"), 1);
    EXPECT_EQ(logs_->events("claim_url_ignored").size(), 1u);

    auto relative = job("j3");
    relative.claim_url = "/custom/j3/claim";
    stub_.script("POST /custom/j3/claim",
                 {{200, R"({"lease_expires_at":"2030-01-01T00:00:00Z"})", {}}});
    EXPECT_TRUE(api.claim(relative, ctx_));
    EXPECT_EQ(stub_.hits("POST /custom/j3/claim"), 1);

    EXPECT_EQ(api.claim_url_for(
                  [] {
                      auto j = job("j4");
                      j.claim_url = "//evil.example/x";
                      return j;
                  }(),
                  ctx_),
              stub_.url() + "/api/render-jobs/j4/claim");
}

TEST_F(ApiClientTest, StatusConflictIsRetriedABoundedNumberOfTimesThenLost) {
    auto o = fast_options(stub_.url());
    o.status_conflict_retries = 2;
    ApiClient api(o);
    const auto key = "POST /api/render-jobs/j1/status";
    stub_.script(key, {{409, "{}", {}}});
    StatusUpdate u;
    u.status = "rendered";
    u.artifact_path = "/output/s_p.mp4";
    u.bytes = 10;
    const auto deadline = SteadyClock::now() + 30s;
    EXPECT_EQ(api.post_status(job("j1"), u, std::string("lt-9"), deadline, nullptr, ctx_).answer,
              LeaseAnswer::Lost);
    EXPECT_EQ(stub_.hits(key), 3);
    // The lease token is echoed in the body.
    EXPECT_NE(stub_.bodies(key)[0].find(R"("lease_token":"lt-9")"), std::string::npos);

    stub_.script("POST /api/render-jobs/j2/status", {{409, "{}", {}}, {200, "{}", {}}});
    EXPECT_EQ(api.post_status(job("j2"), u, std::nullopt, deadline, nullptr, ctx_).answer,
              LeaseAnswer::Ok);

    stub_.script("POST /api/render-jobs/j3/status", {{400, "{}", {}}});
    EXPECT_EQ(api.post_status(job("j3"), u, std::nullopt, deadline, nullptr, ctx_).answer,
              LeaseAnswer::Rejected);
    EXPECT_EQ(stub_.hits("POST /api/render-jobs/j3/status"), 1);
}

TEST_F(ApiClientTest, HeartbeatAnswers) {
    ApiClient api(fast_options(stub_.url()));
    const auto deadline = SteadyClock::now() + 30s;
    stub_.script("POST /api/render-jobs/j1/heartbeat",
                 {{200, R"({"lease_expires_at":"2030-01-01T00:00:00.5Z"})", {}}});
    const auto ok = api.heartbeat(job("j1"), std::string("lt"), deadline, nullptr, ctx_);
    EXPECT_EQ(ok.answer, LeaseAnswer::Ok);
    EXPECT_TRUE(ok.grant.expires_at);
    for (int code : {404, 409, 410}) {
        const auto id = "g" + std::to_string(code);
        stub_.script("POST /api/render-jobs/" + id + "/heartbeat", {{code, "{}", {}}});
        EXPECT_EQ(api.heartbeat(job(id), std::nullopt, deadline, nullptr, ctx_).answer,
                  LeaseAnswer::Lost)
            << code;
    }
    // A heartbeat never outlives the lease deadline, however the API fails.
    stub_.script("POST /api/render-jobs/j5/heartbeat", {{503, "{}", {}}});
    const auto t0 = SteadyClock::now();
    EXPECT_EQ(api.heartbeat(job("j5"), std::nullopt, t0 + 300ms, nullptr, ctx_).answer,
              LeaseAnswer::Unreachable);
    EXPECT_LT(SteadyClock::now() - t0, 1s);
}

TEST(JobModelTest, UnsafeIdsAreRejectedAndBadOptionalFieldsRemembered) {
    const auto list = parse_job_list(R"([
        {"id":"ok-1","story_id":"s","part_id":"p","lease_seconds":30,"render":{"fps":24,"preset":"fast","crf":20}},
        {"id":"../etc","story_id":"s","part_id":"p"},
        {"id":"j2","story_id":"a/b","part_id":"p"},
        {"id":"j3","story_id":"s"},
        {"id":"j4","story_id":"s","part_id":"p","render":{"fps":"fast"}},
        {"id":"j5","story_id":"s","part_id":"p","frames_dir":7},
        42
    ])",
                                     std::nullopt);
    ASSERT_EQ(list.jobs.size(), 3u);
    EXPECT_EQ(list.rejected.size(), 4u);
    EXPECT_EQ(list.jobs[0].id, "ok-1");
    EXPECT_EQ(list.jobs[0].lease_seconds, 30);
    EXPECT_EQ(list.jobs[0].render.fps, 24);
    EXPECT_EQ(list.jobs[0].render.preset, "fast");
    EXPECT_FALSE(list.jobs[0].input_error);
    EXPECT_TRUE(list.jobs[1].input_error);
    EXPECT_TRUE(list.jobs[2].input_error);
    EXPECT_EQ(list.queue_depth, 7);

    EXPECT_THROW(parse_job_list("not json", std::nullopt), Error);
    EXPECT_THROW(parse_job_list(R"({"queue_depth":1})", std::nullopt), Error);
    EXPECT_THROW(parse_lease_grant(R"({"lease_token":"x"})", true), Error);
    EXPECT_THROW(parse_lease_grant(R"({"lease_expires_at":"tomorrow"})", true), Error);
}

TEST(JobModelTest, Rfc3339) {
    const auto a = parse_rfc3339("2026-11-28T19:50:37.250Z");
    const auto b = parse_rfc3339("2026-11-28T21:50:37.25+02:00");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(
        std::chrono::duration_cast<std::chrono::milliseconds>(a->time_since_epoch()).count() % 1000,
        250);
    EXPECT_FALSE(parse_rfc3339("2026-13-28T19:50:37Z"));
    EXPECT_FALSE(parse_rfc3339("2026-11-28 19:50"));
    EXPECT_FALSE(parse_rfc3339("2026-11-28T19:50:37"));
    // Found by fuzzing: a year past 2262 overflowed the nanosecond clock (undefined behaviour).
    EXPECT_FALSE(parse_rfc3339("9336-01-01T00:00:00Z"));
    EXPECT_FALSE(parse_rfc3339("0001-01-01T00:00:00Z"));
}

TEST(JobModelTest, HttpDateHeader) {
    HttpResponse r;
    r.headers = {{"date", "Sun, 06 Nov 1994 08:49:37 GMT"}};
    ASSERT_TRUE(r.date());
    EXPECT_EQ(std::chrono::system_clock::to_time_t(*r.date()), 784111777);
    r.headers = {{"date", "yesterday-ish"}};
    EXPECT_FALSE(r.date());
    // A hostile year must not overflow the nanosecond clock (the class of bug the claim fuzzer
    // found in parse_rfc3339): refused like any malformed date.
    r.headers = {{"date", "Fri, 31 Dec 9999 23:59:59 GMT"}};
    EXPECT_FALSE(r.date());
    r.headers = {};
    EXPECT_FALSE(r.date());
}

TEST(UrlTest, OriginsAndCredentials) {
    EXPECT_EQ(strip_url_credentials("https://u:p@Api.example.com:8443/x/?token=1#f"),
              "https://Api.example.com:8443/x/");
    EXPECT_EQ(url_userinfo_secret("https://u:p@api/"), "p");
    EXPECT_FALSE(strip_url_credentials("ftp://api/"));
    EXPECT_FALSE(strip_url_credentials("api:8080"));
    EXPECT_EQ(origin_of("http://API:80/a"), origin_of("http://api/b"));
    EXPECT_NE(origin_of("https://api/"), origin_of("http://api/"));
    EXPECT_EQ(url_path("http://h/api/render-jobs?status=queued&limit=2"), "/api/render-jobs");
}

// Sets env vars for one test and restores them after.
class ScopedEnv {
  public:
    void set(const char* name, const std::string& value) {
        remember(name);
        ::setenv(name, value.c_str(), 1);
    }
    void unset(const char* name) {
        remember(name);
        ::unsetenv(name);
    }
    ~ScopedEnv() {
        for (const auto& [name, value] : saved_) {
            if (value)
                ::setenv(name.c_str(), value->c_str(), 1);
            else
                ::unsetenv(name.c_str());
        }
    }

  private:
    void remember(const char* name) {
        if (saved_.count(name) != 0) return;
        const char* v = std::getenv(name);
        saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
    }
    std::map<std::string, std::optional<std::string>> saved_;
};

std::string config_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
        return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return {};
}

TEST(WorkerConfigTest, RequiredSettingsAndTokenSources) {
    ScopedEnv env;
    for (const char* n : {"API_BASE_URL", "API_AUTH_TOKEN", "API_AUTH_TOKEN_FILE",
                          "HEARTBEAT_INTERVAL_SEC", "LEASE_SECONDS", "POLL_INTERVAL_MS"}) {
        env.unset(n);
    }
    auto msg = config_error([] { WorkerConfig::from_env().finalize(); });
    EXPECT_NE(msg.find("API_BASE_URL is required"), std::string::npos) << msg;

    env.set("API_BASE_URL", "http://api:8080");
    msg = config_error([] { WorkerConfig::from_env().finalize(); });
    EXPECT_NE(msg.find("API_AUTH_TOKEN"), std::string::npos) << msg;

    env.set("API_AUTH_TOKEN", "envtoken-1234567");
    env.set("API_AUTH_TOKEN_FILE", "/nonexistent/token");
    msg = config_error([] { WorkerConfig::from_env(); });
    EXPECT_NE(msg.find("only one"), std::string::npos) << msg;

    testing::TempDir dir;
    { std::ofstream(dir / "token") << "filetoken-4567890\n"; }
    env.unset("API_AUTH_TOKEN");
    env.set("API_AUTH_TOKEN_FILE", (dir / "token").string());
    auto c = WorkerConfig::from_env();
    c.finalize();
    EXPECT_EQ(c.api_token, "filetoken-4567890");

    env.set("API_BASE_URL", "api:8080");
    msg = config_error([] { WorkerConfig::from_env().finalize(); });
    EXPECT_NE(msg.find("http://"), std::string::npos) << msg;

    env.set("API_BASE_URL", "https://user:pw@api.example.com/?k=v");
    c = WorkerConfig::from_env();
    c.finalize();
    EXPECT_EQ(c.api_base(), "https://api.example.com");

    env.set("LEASE_SECONDS", "30");
    env.set("HEARTBEAT_INTERVAL_SEC", "30");
    msg = config_error([] { WorkerConfig::from_env().finalize(); });
    EXPECT_NE(msg.find("HEARTBEAT_INTERVAL_SEC"), std::string::npos) << msg;
    env.unset("HEARTBEAT_INTERVAL_SEC");
    c = WorkerConfig::from_env();
    c.finalize();
    EXPECT_EQ(LeasePolicy(c).nominal_interval(), 10s);

    env.set("POLL_INTERVAL_MS", "soon");
    msg = config_error([] { WorkerConfig::from_env(); });
    EXPECT_NE(msg.find("POLL_INTERVAL_MS"), std::string::npos) << msg;
}

// The worker against scripted answers: what it must not do.
class WorkerStubTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = testing::capture_json_logs();
        std::filesystem::create_directories(dir_ / "content" / "audio" / "music");
    }
    WorkerConfig config() {
        WorkerConfig c;
        c.api_base_url = stub_.url();
        c.api_token = kToken;
        c.poll_interval_ms = 50;
        c.min_free_bytes = 1;
        c.paths.content_dir = dir_ / "content";
        c.paths.music_dir = dir_ / "content" / "audio" / "music";
        c.paths.output_dir = dir_ / "output";
        c.paths.tmp_dir = dir_ / "tmp";
        return c;
    }
    // Runs the worker for about `polls` polls.
    void run(Worker& w, int polls) {
        std::thread t([&] { w.run(); });
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < end &&
               static_cast<int>(logs_->events("poll").size()) < polls) {
            std::this_thread::sleep_for(10ms);
        }
        w.request_stop();
        t.join();
    }
    std::shared_ptr<CaptureSink> logs_;
    testing::TempDir dir_;
    StubApi stub_;
};

TEST_F(WorkerStubTest, ClaimConflictSkipsTheJob) {
    stub_.script(
        kList,
        {{200, R"({"jobs":[{"id":"j1","story_id":"s","part_id":"p"}],"queue_depth":1})", {}}});
    stub_.script("POST /api/render-jobs/j1/claim", {{409, "{}", {}}});
    std::atomic<int> renders{0};
    Worker w(config(), [&](const auto&, const auto&, const auto&, const auto&, const auto&) {
        ++renders;
        return media::RenderResult{};
    });
    run(w, 3);
    EXPECT_GE(stub_.hits("POST /api/render-jobs/j1/claim"), 2);
    EXPECT_EQ(renders.load(), 0);
    EXPECT_TRUE(logs_->events("claim").empty());
    EXPECT_FALSE(logs_->events("claim_skipped").empty());
    EXPECT_EQ(logs_->joined().find(kToken), std::string::npos);
}

// A job the worker refuses (an unsafe id) at the head of the queue: the worker listed only
// MAX_CONCURRENT jobs, so that one hid every job behind it, for ever. The stub honours `limit`
// as a job API does.
TEST_F(WorkerStubTest, ARefusedJobAtTheHeadDoesNotHideTheQueue) {
    const std::string bad = R"({"id":"bad id","story_id":"s","part_id":"p"})";
    const std::string good = R"({"id":"j1","story_id":"s","part_id":"p"})";
    stub_.script(kList,
                 {{.status = 200, .headers = {{"X-Queue-Depth", "2"}}, .list_items = {bad, good}}});
    const auto claim = "POST /api/render-jobs/j1/claim";
    stub_.script(claim, {{409, "{}", {}}});
    auto c = config();
    c.max_concurrent = 1;
    Worker w(c);
    run(w, 6);
    EXPECT_GE(stub_.hits(claim), 1) << "the job behind the refused one was never claimed";
    EXPECT_EQ(logs_->events("error").size(), 1u) << "the refused job is logged once";
}

// --exit-when-idle with only refused jobs queued: no job this worker can take will come, so it
// exits as when the queue is empty (it sat forever, holding its pod, and a ScaledJob kept
// starting more).
TEST_F(WorkerStubTest, OnlyRefusedJobsQueuedCountsAsIdle) {
    stub_.script(kList, {{.status = 200,
                          .headers = {{"X-Queue-Depth", "1"}},
                          .list_items = {R"({"id":"bad id","story_id":"s","part_id":"p"})"}}});
    auto c = config();
    c.exit_when_idle_polls = 1;
    Worker w(c);
    std::atomic<bool> returned{false};
    std::thread t([&] {
        w.run();
        returned = true;
    });
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end && !returned) std::this_thread::sleep_for(10ms);
    const bool exited_by_itself = returned;
    w.request_stop();
    t.join();
    EXPECT_TRUE(exited_by_itself) << "the worker waited for a job it will never take";
}

TEST_F(WorkerStubTest, StopInterruptsAClaimInFlight) {
    // Issue 11: a claim in flight ignored the stop flag, so SIGTERM waited for the API (up to
    // HTTP_TIMEOUT_SEC, 30 s by default). The claim here is answered after 20 s; the worker must
    // have stopped long before the answer is sent.
    stub_.script(
        kList,
        {{200, R"({"jobs":[{"id":"j1","story_id":"s","part_id":"p"}],"queue_depth":1})", {}}});
    const auto claim = "POST /api/render-jobs/j1/claim";
    stub_.script(claim, {{200, R"({"lease_expires_at":"2030-01-01T00:00:00Z"})", {}, 20s}});
    Worker w(config());
    std::thread t([&] { w.run(); });
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end && stub_.hits(claim) == 0)
        std::this_thread::sleep_for(10ms);
    ASSERT_EQ(stub_.hits(claim), 1);
    w.request_stop();
    t.join();
    EXPECT_EQ(stub_.answered(claim), 0) << "run() returned only once the claim was answered";
    EXPECT_TRUE(logs_->events("claim").empty());
    EXPECT_FALSE(logs_->events("shutdown").empty());
}

TEST_F(WorkerStubTest, ALeaseNeverCountsLongerThanLeaseSeconds) {
    // Issue 11.2: an API with no Date header and no lease_seconds, whose expiry lies 600 s
    // ahead on our clock (which may be behind), made a 600 s lease with a beat every 200 s.
    // Whatever the answer claims, the lease is capped at LEASE_SECONDS (3 s here), so beats
    // come within a second.
    const auto expiry = format_utc_millis(std::chrono::system_clock::now() + 600s);
    stub_.script(
        kList, {{200, R"({"jobs":[{"id":"j1","story_id":"s","part_id":"p"}],"queue_depth":1})", {}},
                {200, R"({"jobs":[],"queue_depth":0})", {}}});
    stub_.script("POST /api/render-jobs/j1/claim",
                 {{200, R"({"lease_expires_at":")" + expiry + R"(","lease_token":"lt"})", {}}});
    stub_.script("POST /api/render-jobs/j1/heartbeat", {{200, "{}", {}}});
    stub_.script("POST /api/render-jobs/j1/status", {{200, "{}", {}}});
    auto c = config();
    c.lease_seconds = 3;
    // The render waits (bounded) for two heartbeats, as a long render would.
    Worker w(c, [&](const auto&, const auto&, const auto&, const auto&, const auto&) {
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < end &&
               stub_.hits("POST /api/render-jobs/j1/heartbeat") < 2) {
            std::this_thread::sleep_for(10ms);
        }
        throw Error(ErrorClass::DecodeError, "test render: done waiting");
        return media::RenderResult{};
    });
    std::thread t([&] { w.run(); });
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end && logs_->events("error").empty())
        std::this_thread::sleep_for(10ms);
    w.request_stop();
    t.join();
    const auto claims = logs_->events("claim");
    ASSERT_EQ(claims.size(), 1u);
    EXPECT_EQ(claims[0]["lease_sec"].GetDouble(), 3.0);
    EXPECT_GE(stub_.hits("POST /api/render-jobs/j1/heartbeat"), 2);
}

TEST_F(WorkerStubTest, UnsafeJobIdsAreSkippedAndLoggedOnce) {
    stub_.script(kList, {{200, R"([{"id":"../../etc/passwd","story_id":"s","part_id":"p"}])", {}}});
    Worker w(config());
    run(w, 4);
    EXPECT_EQ(logs_->events("error").size(), 1u);
    EXPECT_EQ(stub_.hits("POST /api/render-jobs/../../etc/passwd/claim"), 0);
    EXPECT_FALSE(std::filesystem::exists(dir_ / "tmp" / "etc"));
}

TEST_F(WorkerStubTest, DeeplyNestedJsonIsAnApiErrorNotACrash) {
    // Issue 11.1: 200 KB of '[' overflowed RapidJSON's recursive parser (SIGSEGV) at every poll.
    // Unbalanced, balanced, and nested inside a job's `render` object: each poll fails cleanly
    // with ApiError and the worker keeps polling.
    const std::string open(200 * 1024, '[');
    const std::string balanced = open + std::string(200 * 1024, ']');
    const std::string in_job =
        R"([{"id":"j1","story_id":"s","part_id":"p","render":{"x":)" + balanced + "}}]";
    stub_.script(kList, {{200, open, {}}, {200, balanced, {}}, {200, in_job, {}}});
    Worker w(config());
    std::thread t([&] { w.run(); });
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end && logs_->events("poll_failed").size() < 3)
        std::this_thread::sleep_for(10ms);
    w.request_stop();
    t.join();
    const auto failed = logs_->events("poll_failed");
    ASSERT_GE(failed.size(), 3u);
    for (const auto& f : failed) {
        EXPECT_STREQ(f["error_class"].GetString(), "ApiError");
        EXPECT_NE(std::string(f["error_message"].GetString()).find("nested"), std::string::npos)
            << f["error_message"].GetString();
    }
    EXPECT_EQ(stub_.hits("POST /api/render-jobs/j1/claim"), 0);
}

// Every string in a parsed JSON value, keys included, decoded (escapes undone).
void collect_strings(const rapidjson::Value& v, std::vector<std::string>& out) {
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
    if (v.IsArray()) {
        for (const auto& e : v.GetArray()) collect_strings(e, out);
    }
    if (v.IsObject()) {
        for (const auto& m : v.GetObject()) {
            out.emplace_back(m.name.GetString(), m.name.GetStringLength());
            collect_strings(m.value, out);
        }
    }
}

TEST_F(WorkerStubTest, NoPartOfTheTokenReachesTheLogs) {
    // Issue 11.7: API error bodies were cut to 200 characters before redaction (a cut landing
    // mid-token left its first characters in the log), and redaction ran on the escaped JSON
    // line (a token with '"' or '\' was logged in full, escaped). The stub echoes the
    // Authorization header, padded so that the cut lands 12 characters into the token; the
    // token holds both characters; the log lines are checked decoded, not as raw text.
    const std::string token = R"(Qx7"Lm\9Tz-8Wp2Kd5Rf3Hy6Jn1Bv4Gc)";
    const std::string pad(200 - std::string_view("Bearer ").size() - 12, 'x');
    const std::string unsafe_id(110, 'i');  // the 128-character cut lands 10 into the token
    stub_.script(kList, {{400, pad + testing::kEchoAuthorization, {}},
                         {400, std::string("<html>denied for ") + testing::kEchoAuthorization, {}},
                         // A listed id echoing the token: the logged id is cut to 128 characters.
                         {200,
                          R"([{"id":")" + unsafe_id +
                              R"(/{authorization_json}","story_id":"s","part_id":"p"}])",
                          {}}});
    auto c = config();
    c.api_token = token;
    Worker w(c);
    std::thread t([&] { w.run(); });
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end && logs_->events("error").empty()) {
        std::this_thread::sleep_for(10ms);
    }
    w.request_stop();
    t.join();
    ASSERT_GE(stub_.hits(kList), 3);
    const auto all = logs_->events();
    ASSERT_GE(logs_->events("poll_failed").size(), 2u);
    ASSERT_EQ(logs_->events("error").size(), 1u) << "the unsafe listed id is logged once";
    const std::string prefix = token.substr(0, 8);
    int checked = 0;
    for (const auto& line : all) {
        std::vector<std::string> strings;
        collect_strings(line, strings);
        for (const auto& s : strings) {
            ++checked;
            EXPECT_EQ(s.find(prefix), std::string::npos) << "part of the token was logged: " << s;
        }
    }
    EXPECT_GT(checked, 0);
    // The redaction marker shows the secret was found and removed where it stood.
    EXPECT_NE(logs_->joined().find("[REDACTED]"), std::string::npos);
}

// Every 8-character piece of `token` that is absent from every decoded string of every log
// line (and from the raw lines): a piece found is part of the token logged.
void expect_no_piece_of(const std::string& token, CaptureSink& logs) {
    const auto all = logs.events();
    ASSERT_FALSE(all.empty());
    const auto raw = logs.joined();
    for (std::size_t at = 0; at + 8 <= token.size(); ++at) {
        const auto piece = token.substr(at, 8);
        EXPECT_EQ(raw.find(piece), std::string::npos) << "raw log holds token piece " << piece;
        for (const auto& line : all) {
            std::vector<std::string> strings;
            collect_strings(line, strings);
            for (const auto& s : strings) {
                EXPECT_EQ(s.find(piece), std::string::npos)
                    << "token piece " << piece << " was logged: " << s;
            }
        }
    }
}

TEST_F(WorkerStubTest, AnEchoedTokenIsRedactedWhereverTheCutFalls) {
    // An API error body was cut to 800 characters before redaction and to 200 after it: a
    // body repeating the Authorization header had seven echoes redacted (each shrinking to the
    // marker) and the eighth cut at 800 mid-token, so its first 30 characters survived the
    // redaction and landed inside the final 200.
    const std::string token = "T" + [] {
        std::string s;
        for (int i = 0; i < 10; ++i) s += "abcdefghij";
        return s;
    }();
    std::string body;
    for (int i = 0; i < 40; ++i) body += std::string(testing::kEchoAuthorization) + ";";
    stub_.script(kList, {{400, body, {}}});
    auto c = config();
    c.api_token = token;
    Worker w(c);
    std::thread t([&] { w.run(); });
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end && logs_->events("poll_failed").empty())
        std::this_thread::sleep_for(10ms);
    w.request_stop();
    t.join();
    ASSERT_GE(logs_->events("poll_failed").size(), 1u);
    expect_no_piece_of(token, *logs_);
}

TEST_F(WorkerStubTest, ATokenEchoedInsideJsonIsRedacted) {
    // An API answering its errors in JSON quotes the header it got JSON-escaped: a token with
    // '"' or '\' no longer matched itself there, and the whole token was logged in its escaped
    // form (its characters after the '\' verbatim).
    const std::string token = R"(Qx7"Lm\9Tz-8Wp2Kd5Rf3Hy6Jn1Bv4Gc)";
    stub_.script(kList, {{400,
                          R"({"error":"unauthorized","got":")" +
                              std::string(testing::kEchoAuthorizationJson) + R"("})",
                          {}},
                         {503,
                          R"({"error":"unavailable","got":")" +
                              std::string(testing::kEchoAuthorizationJson) + R"("})",
                          {}}});
    auto c = config();
    c.api_token = token;
    Worker w(c);
    std::thread t([&] { w.run(); });
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end &&
           (logs_->events("poll_failed").size() < 2 || logs_->events("retry").empty())) {
        std::this_thread::sleep_for(10ms);
    }
    w.request_stop();
    t.join();
    ASSERT_GE(logs_->events("poll_failed").size(), 2u);
    ASSERT_GE(logs_->events("retry").size(), 1u);
    expect_no_piece_of(token, *logs_);
    EXPECT_NE(logs_->joined().find("[REDACTED]"), std::string::npos);
}

TEST(JobModelTest, NestingDepthIsBoundedInEveryAnswer) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_THROW(parse_job_list(deep, std::nullopt), Error);
    EXPECT_THROW(
        parse_lease_grant(R"({"lease_expires_at":"2030-01-01T00:00:00Z","x":)" + deep + "}", true),
        Error);
    // Ordinary nesting is untouched.
    EXPECT_NO_THROW(parse_job_list(R"({"jobs":[{"id":"j","story_id":"s","part_id":"p",)"
                                   R"("render":{"fps":25}}],"queue_depth":1})",
                                   std::nullopt));
}

}  // namespace
}  // namespace renderer::worker

namespace renderer::worker {
namespace {

// A job's render.codec (DESIGN 3.3): parsed with a preset given as a name or as SVT-AV1's
// number; switching codec drops the worker's preset and crf for its own codec (X264_PRESET,
// X264_CRF) so the job's codec gets its defaults; an unknown codec is refused naming the field.
TEST(JobModelTest, RenderCodecOverrides) {
    const auto list = parse_job_list(R"([
        {"id":"a","story_id":"s","part_id":"p","render":{"codec":"av1","preset":8,"crf":40}},
        {"id":"b","story_id":"s","part_id":"p","render":{"codec":"hevc"}},
        {"id":"c","story_id":"s","part_id":"p","render":{"codec":"vp9"}},
        {"id":"d","story_id":"s","part_id":"p","render":{"codec":"av1","preset":"veryfast"}}
    ])",
                                     std::nullopt);
    ASSERT_EQ(list.jobs.size(), 4u);
    EXPECT_EQ(list.jobs[0].render.codec, "av1");
    EXPECT_EQ(list.jobs[0].render.preset, "8");

    worker::WorkerConfig config;
    config.paths.content_dir = "/content";
    config.render.preset = "veryfast";  // X264_PRESET for the worker's h264
    config.render.crf = 20;
    const auto av1 = worker::render_request_for(list.jobs[0], config);
    EXPECT_EQ(av1.settings.codec, media::VideoCodec::Av1);
    EXPECT_EQ(media::effective_preset(av1.settings), "8");
    EXPECT_EQ(media::effective_crf(av1.settings), 40);
    const auto hevc = worker::render_request_for(list.jobs[1], config);
    EXPECT_EQ(hevc.settings.codec, media::VideoCodec::Hevc);
    EXPECT_EQ(media::effective_preset(hevc.settings), "medium");
    EXPECT_EQ(media::effective_crf(hevc.settings), 24);
    for (const auto& [index, words] : std::vector<std::pair<int, std::vector<std::string>>>{
             {2, {"render.codec", "h264, hevc, av1"}}, {3, {"0 to 13", "a preset of h264"}}}) {
        try {
            worker::render_request_for(list.jobs[static_cast<std::size_t>(index)], config);
            ADD_FAILURE() << "job " << index << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
            for (const auto& w : words) {
                EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
            }
        }
    }
}

}  // namespace
}  // namespace renderer::worker

namespace renderer::worker {
namespace {

// A job's render overrides out of range are the job's fault: the PreflightError names the job's
// field, not the worker's variable (whose value was fine). render.keyint_sec 0 was reported as
// "keyframe interval (seconds) (KEYINT_SEC) must be from 1 to 300", sending the operator to an
// environment that was never wrong; likewise render.crf, render.fps and the audio fields. Where
// the job's value meets the worker's (vfr from FRAME_TIMING, av1 from the job), both are named.
TEST(JobModelTest, RenderOverridesOutOfRangeNameTheJobsField) {
    const auto list = parse_job_list(R"([
        {"id":"a","story_id":"s","part_id":"p","render":{"keyint_sec":0}},
        {"id":"b","story_id":"s","part_id":"p","render":{"keyint_sec":301,"frame_timing":"vfr"}},
        {"id":"c","story_id":"s","part_id":"p","render":{"crf":99}},
        {"id":"d","story_id":"s","part_id":"p","render":{"fps":0}},
        {"id":"e","story_id":"s","part_id":"p","render":{"audio_fade_in_ms":-1}},
        {"id":"f","story_id":"s","part_id":"p","render":{"codec":"av1","frame_timing":"vfr"}},
        {"id":"g","story_id":"s","part_id":"p","render":{"codec":"av1"}}
    ])",
                                     std::nullopt);
    ASSERT_EQ(list.jobs.size(), 7u);
    worker::WorkerConfig config;
    config.paths.content_dir = "/content";
    worker::WorkerConfig vfr_config = config;
    vfr_config.render.frame_timing = media::FrameTiming::Vfr;  // FRAME_TIMING=vfr
    const std::vector<std::tuple<int, const worker::WorkerConfig*, std::vector<std::string>>>
        cases = {
            {0, &config, {"render.keyint_sec"}},
            {1, &config, {"render.keyint_sec"}},
            {2, &config, {"render.crf"}},
            {3, &config, {"render.fps"}},
            {4, &config, {"render.audio_fade_in_ms"}},
            {5, &config, {"render.frame_timing", "render.codec"}},
            {6, &vfr_config, {"FRAME_TIMING", "render.codec"}},
        };
    for (const auto& [index, cfg, words] : cases) {
        try {
            worker::render_request_for(list.jobs[static_cast<std::size_t>(index)], *cfg);
            ADD_FAILURE() << "job " << index << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
            for (const auto& w : words)
                EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace renderer::worker

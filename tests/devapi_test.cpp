// The reference job API over real HTTP on loopback: auth, list shapes, leases and their expiry,
// the status state machine, history, fault injection and seeding from a stories tree.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include "common/error.h"
#include "devapi/api_server.h"
#include "devapi/job_store.h"
#include "devapi/story_scanner.h"

namespace renderer::devapi {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kToken = "s3cret-token";

rapidjson::Document parse(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    EXPECT_FALSE(doc.HasParseError()) << body;
    return doc;
}

class DevApiTest : public ::testing::Test {
  protected:
    void SetUp() override { start({}); }
    void TearDown() override { server_->stop(); }

    // Replaces the running server with one built from `opts` (token, host and port filled in).
    void start(ApiServer::Options opts) {
        if (server_) server_->stop();
        opts.token = kToken;
        server_ = std::make_unique<ApiServer>(opts);
        const int port = server_->start();
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
        client_->set_default_headers({{"Authorization", std::string("Bearer ") + kToken}});
        anonymous_ = std::make_unique<httplib::Client>("127.0.0.1", port);
    }

    httplib::Result get(const std::string& path) { return client_->Get(path); }

    httplib::Result post(const std::string& path, const std::string& body) {
        return client_->Post(path, body, "application/json");
    }

    // Creates a job and returns its id.
    std::string create(const std::string& story, const std::string& part, int lease_seconds = 0) {
        std::string body = R"({"story_id":")" + story + R"(","part_id":")" + part + '"';
        if (lease_seconds > 0) body += ",\"lease_seconds\":" + std::to_string(lease_seconds);
        body += '}';
        const auto res = post("/api/render-jobs", body);
        EXPECT_EQ(res->status, 201) << res->body;
        return story + "-" + part;
    }

    // Claims `id` and returns the lease token.
    std::string claim(const std::string& id) {
        const auto res = post("/api/render-jobs/" + id + "/claim", R"({"worker":"w1"})");
        EXPECT_EQ(res->status, 200) << res->body;
        return parse(res->body)["lease_token"].GetString();
    }

    int post_status(const std::string& id, const std::string& body) {
        return post("/api/render-jobs/" + id + "/status", body)->status;
    }

    rapidjson::Document job(const std::string& id) {
        const auto res = get("/api/render-jobs/" + id);
        EXPECT_EQ(res->status, 200) << res->body;
        return parse(res->body);
    }

    std::unique_ptr<ApiServer> server_;
    std::unique_ptr<httplib::Client> client_;
    std::unique_ptr<httplib::Client> anonymous_;
};

TEST_F(DevApiTest, HealthzNeedsNoToken) {
    const auto res = anonymous_->Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(parse(res->body)["ok"].GetBool());
}

TEST_F(DevApiTest, MissingOrWrongTokenIs401) {
    auto res = anonymous_->Get("/api/render-jobs");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_STREQ(parse(res->body)["error"].GetString(), "unauthorized");
    EXPECT_EQ(res->body.find(kToken), std::string::npos);

    for (const char* header : {"Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-tokenX",
                               "Basic s3cret-token", "Bearer", "bearer"}) {
        res = anonymous_->Get("/api/render-jobs", {{"Authorization", header}});
        EXPECT_EQ(res->status, 401) << header;
    }
    res = anonymous_->Post("/api/render-jobs", {{"Authorization", "Bearer nope"}},
                           R"({"story_id":"s","part_id":"p"})", "application/json");
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(get("/api/render-jobs")->status, 200);
    EXPECT_EQ(server_->store().stats().total, 0u);
}

TEST_F(DevApiTest, ListAnswersBothShapesWithQueueDepth) {
    auto res = post("/api/render-jobs",
                    R"({"story_id":"S1","part_id":"P1","frames_dir":"stories/S1/P1/frames",)"
                    R"("music_track":"a.mp3","render":{"fps":25,"crf":20}})");
    ASSERT_EQ(res->status, 201) << res->body;
    create("S1", "P2");
    create("S2", "P1");

    res = get("/api/render-jobs?status=queued&limit=2");
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("X-Queue-Depth"), "3");
    auto doc = parse(res->body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(doc["queue_depth"].GetInt(), 3);
    ASSERT_EQ(doc["jobs"].Size(), 2u);
    const auto& first = doc["jobs"][0];
    EXPECT_STREQ(first["id"].GetString(), "S1-P1");
    EXPECT_STREQ(first["story_id"].GetString(), "S1");
    EXPECT_STREQ(first["part_id"].GetString(), "P1");
    EXPECT_STREQ(first["status"].GetString(), "queued");
    EXPECT_STREQ(first["claim_url"].GetString(), "/api/render-jobs/S1-P1/claim");
    EXPECT_EQ(first["lease_seconds"].GetInt(), 120);
    EXPECT_STREQ(first["frames_dir"].GetString(), "stories/S1/P1/frames");
    EXPECT_STREQ(first["music_track"].GetString(), "a.mp3");
    EXPECT_EQ(first["render"]["fps"].GetInt(), 25);
    EXPECT_FALSE(doc["jobs"][1].HasMember("frames_dir"));

    res = get("/api/render-jobs?status=queued&shape=array");
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("X-Queue-Depth"), "3");
    doc = parse(res->body);
    ASSERT_TRUE(doc.IsArray());
    EXPECT_EQ(doc.Size(), 3u);

    claim("S1-P2");
    doc = parse(get("/api/render-jobs?status=queued")->body);
    EXPECT_EQ(doc["jobs"].Size(), 2u);
    EXPECT_EQ(doc["queue_depth"].GetInt(), 2);
    doc = parse(get("/api/render-jobs?status=claimed")->body);
    ASSERT_EQ(doc["jobs"].Size(), 1u);
    EXPECT_STREQ(doc["jobs"][0]["id"].GetString(), "S1-P2");
    EXPECT_EQ(parse(get("/api/render-jobs")->body)["jobs"].Size(), 3u);  // no filter: all

    EXPECT_EQ(get("/api/render-jobs?status=done")->status, 400);
    EXPECT_EQ(get("/api/render-jobs?limit=0")->status, 400);
    EXPECT_EQ(get("/api/render-jobs?limit=x")->status, 400);
    EXPECT_EQ(get("/api/render-jobs?shape=table")->status, 400);
}

TEST_F(DevApiTest, CreateValidatesBodies) {
    const auto create_status = [this](const std::string& body) {
        return post("/api/render-jobs", body)->status;
    };
    EXPECT_EQ(create_status(R"({"story_id":"s","part_id":"p","id":"job-1","lease_seconds":5})"),
              201);
    EXPECT_EQ(create_status(R"({"story_id":"s","part_id":"p","id":"job-1"})"), 409);
    EXPECT_EQ(create_status(R"({"story_id":"s"})"), 400);
    EXPECT_EQ(create_status(R"({"story_id":1,"part_id":"p"})"), 400);
    EXPECT_EQ(create_status(R"({"story_id":"s","part_id":"p2","render":"fast"})"), 400);
    EXPECT_EQ(create_status(R"({"story_id":"s","part_id":"p2","lease_seconds":"5"})"), 400);
    EXPECT_EQ(create_status(R"({"story_id":"s","part_id":"p2","lease_seconds":0})"), 400);
    EXPECT_EQ(create_status(R"({"story_id":"s","part_id":"p2","frames_dir":7})"), 400);
    EXPECT_EQ(create_status(R"(["s","p"])"), 400);
    EXPECT_EQ(create_status("{not json"), 400);
    EXPECT_EQ(job("job-1")["lease_seconds"].GetInt(), 5);
}

TEST_F(DevApiTest, UnsafeIdsAreRejected) {
    for (const char* body :
         {R"({"story_id":"../etc","part_id":"p"})", R"({"story_id":"s","part_id":"a/b"})",
          R"({"story_id":".hidden","part_id":"p"})", R"({"story_id":"s","part_id":"p","id":"x y"})",
          R"({"story_id":"s","part_id":"p","id":""})"}) {
        const auto res = post("/api/render-jobs", body);
        EXPECT_EQ(res->status, 400) << body;
        EXPECT_STREQ(parse(res->body)["error"].GetString(), "bad_request");
    }
    EXPECT_EQ(server_->store().stats().total, 0u);
}

TEST_F(DevApiTest, SecondClaimConflicts) {
    const auto id = create("s", "p");
    auto res = post("/api/render-jobs/" + id + "/claim", "");
    ASSERT_EQ(res->status, 200) << res->body;
    const auto lease = parse(res->body);
    EXPECT_EQ(lease["lease_seconds"].GetInt(), 120);
    EXPECT_EQ(std::string(lease["lease_token"].GetString()).size(), 32u);
    const std::string expires = lease["lease_expires_at"].GetString();
    EXPECT_EQ(expires.size(), 24u) << expires;  // 2026-01-02T03:04:05.678Z
    EXPECT_EQ(expires.back(), 'Z');

    res = post("/api/render-jobs/" + id + "/claim", R"({"worker":"w2"})");
    EXPECT_EQ(res->status, 409);
    EXPECT_STREQ(parse(res->body)["error"].GetString(), "conflict");
    EXPECT_EQ(post("/api/render-jobs/nope/claim", "")->status, 404);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/claim", R"({"worker":3})")->status, 400);
    EXPECT_STREQ(job(id)["status"].GetString(), "claimed");
    EXPECT_EQ(job(id)["attempts"].GetInt(), 1);
}

TEST_F(DevApiTest, HeartbeatExtendsTheLease) {
    const auto id = create("s", "p", 2);
    const auto token = claim(id);
    const std::string first = job(id)["lease_expires_at"].GetString();
    std::this_thread::sleep_for(1200ms);

    auto res = post("/api/render-jobs/" + id + "/heartbeat", R"({"lease_token":")" + token + "\"}");
    ASSERT_EQ(res->status, 200) << res->body;
    const std::string extended = parse(res->body)["lease_expires_at"].GetString();
    EXPECT_GT(extended, first);  // same fixed-width format: string order is time order

    std::this_thread::sleep_for(1200ms);  // past the original deadline, inside the extended one
    EXPECT_STREQ(job(id)["status"].GetString(), "claimed");
    EXPECT_EQ(job(id)["heartbeats"].GetInt(), 1);

    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", R"({"lease_token":"other"})")->status,
              409);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", "")->status, 409);  // token required
    EXPECT_EQ(post("/api/render-jobs/nope/heartbeat", "")->status, 404);
    EXPECT_EQ(post("/api/render-jobs/" + create("s", "q") + "/heartbeat", "")->status, 409);
}

TEST_F(DevApiTest, LeaseTokenIsRequiredOnceIssued) {
    // Issue 11.10: a second client posted `rendered` with artifact_path /etc/passwd on another
    // worker's lease, without the lease_token. Once a token is issued, every heartbeat and
    // status post must carry it (409 otherwise), so a worker that forgets it is caught here.
    const auto id = create("s", "p");
    const auto token = claim(id);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", "")->status, 409);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", "{}")->status, 409);
    EXPECT_EQ(post_status(id, R"({"status":"rendering"})"), 409);
    EXPECT_EQ(post_status(id, R"({"status":"rendered","artifact_path":"/etc/passwd","bytes":1})"),
              409);
    EXPECT_EQ(post_status(id, R"({"status":"errored","error_class":"X"})"), 409);
    auto doc = job(id);
    EXPECT_STREQ(doc["status"].GetString(), "claimed");
    EXPECT_FALSE(doc.HasMember("artifact_path"));
    EXPECT_EQ(doc["heartbeats"].GetInt(), 0);

    // The holder, with its token, is unaffected.
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", R"({"lease_token":")" + token + "\"}")
                  ->status,
              200);
    EXPECT_EQ(post_status(id, R"({"status":"rendering","lease_token":")" + token + "\"}"), 200);
    doc = job(id);
    EXPECT_STREQ(doc["status"].GetString(), "rendering");
    EXPECT_EQ(doc["heartbeats"].GetInt(), 1);
}

// Issue 18.1: an autoscaler sized on queue_depth alone sees 0 while every worker is busy and
// scales them away; the backlog counts the work not yet finished (queued + claimed + rendering).
TEST_F(DevApiTest, ListReportsTheBacklogBesideTheQueueDepth) {
    create("S1", "P1");
    create("S1", "P2");
    create("S1", "P3");
    const auto rendering = create("S1", "P4");
    create("S1", "P5");
    claim("S1-P1");
    const auto token = claim(rendering);
    ASSERT_EQ(post_status(rendering, R"({"status":"rendering","lease_token":")" + token + "\"}"),
              200);
    const auto done_token = claim("S1-P5");
    ASSERT_EQ(post_status("S1-P5", R"({"status":"errored","error_class":"DecodeError",)"
                                   R"("lease_token":")" +
                                       done_token + "\"}"),
              200);

    const auto res = get("/api/render-jobs?status=queued&limit=1");
    ASSERT_EQ(res->status, 200);
    const auto doc = parse(res->body);
    EXPECT_EQ(doc["queue_depth"].GetInt(), 2);
    EXPECT_EQ(doc["backlog"].GetInt(), 4) << "2 queued + 1 claimed + 1 rendering; errored is done";
    EXPECT_EQ(res->get_header_value("X-Queue-Depth"), "2");
    EXPECT_EQ(res->get_header_value("X-Backlog"), "4");
}

TEST_F(DevApiTest, ExpiredLeaseRequeuesTheJob) {
    const auto id = create("s", "p", 1);
    const auto token = claim(id);
    std::this_thread::sleep_for(1500ms);

    auto doc = job(id);
    EXPECT_STREQ(doc["status"].GetString(), "queued");
    EXPECT_EQ(doc["lease_expirations"].GetInt(), 1);
    const auto& last = doc["history"][doc["history"].Size() - 1];
    EXPECT_STREQ(last["status"].GetString(), "queued");
    EXPECT_STREQ(last["reason"].GetString(), "lease_expired");
    EXPECT_STREQ(last["worker"].GetString(), "w1");

    const auto body = R"({"lease_token":")" + token + "\"}";
    auto res = post("/api/render-jobs/" + id + "/heartbeat", body);
    EXPECT_EQ(res->status, 410);
    EXPECT_STREQ(parse(res->body)["error"].GetString(), "lease_expired");
    EXPECT_EQ(post_status(id, R"({"status":"rendering","lease_token":")" + token + "\"}"), 410);
    EXPECT_EQ(post_status(id, R"({"status":"rendering"})"), 409) << "no token: not the holder";

    // Someone else takes the job; the old holder is now merely in conflict.
    const auto token2 = claim(id);
    EXPECT_NE(token2, token);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", body)->status, 409);
    EXPECT_EQ(job(id)["attempts"].GetInt(), 2);
    const auto stats = parse(get("/api/stats")->body);
    EXPECT_EQ(stats["lease_expirations"].GetInt(), 1);
    EXPECT_EQ(stats["claims"].GetInt(), 2);
    EXPECT_EQ(stats["by_status"]["claimed"].GetInt(), 1);
}

TEST_F(DevApiTest, StatusTransitionsFollowTheStateMachine) {
    const auto id = create("s", "p");
    EXPECT_EQ(post_status(id, R"({"status":"rendering"})"), 409);  // not claimed yet
    const auto token = claim(id);
    const auto with_token = [&](const std::string& fields) {
        return R"({"lease_token":")" + token + "\"," + fields + '}';
    };

    auto res = post("/api/render-jobs/" + id + "/status",
                    with_token(R"("status":"rendered","artifact_path":"/o/a.mp4","bytes":1)"));
    EXPECT_EQ(res->status, 409);  // claimed -> rendered skips rendering
    EXPECT_NE(parse(res->body)["message"].GetString(), std::string());
    EXPECT_NE(res->body.find("claimed -> rendered"), std::string::npos) << res->body;

    EXPECT_EQ(post_status(id, R"({"status":"rendering","lease_token":"other"})"), 409);
    EXPECT_EQ(post_status(id, with_token(R"("status":"rendering")")), 200);
    EXPECT_EQ(post_status(id, with_token(R"("status":"rendering")")), 200);  // idempotent
    EXPECT_EQ(post_status(id, with_token(R"("status":"done")")), 400);
    EXPECT_EQ(post_status(id, with_token(R"("status":"queued")")), 400);
    EXPECT_EQ(post_status(id, with_token(R"("status":7)")), 400);
    EXPECT_EQ(post_status(id, with_token(R"("status":"rendered")")), 400);
    EXPECT_EQ(post_status(id, with_token(R"("status":"rendered","artifact_path":"/o/a.mp4")")),
              400);
    EXPECT_EQ(post_status(id, with_token(R"("status":"rendered","bytes":10)")), 400);
    EXPECT_EQ(post_status(
                  id, with_token(R"("status":"rendered","artifact_path":"/o/a.mp4","bytes":"10")")),
              400);
    EXPECT_EQ(post_status(id, with_token(R"("status":"errored","timeout":"yes")")), 400);
    EXPECT_EQ(
        post_status(id, with_token(R"("status":"rendered","artifact_path":"/o/a.mp4",)"
                                   R"("bytes":1234,"duration_ms":5000,"audio_track":"a.mp3")")),
        200);

    // Final: nothing moves it any more.
    res = post("/api/render-jobs/" + id + "/status", with_token(R"("status":"rendering")"));
    EXPECT_EQ(res->status, 409);
    EXPECT_NE(res->body.find("rendered -> rendering"), std::string::npos) << res->body;
    EXPECT_EQ(post_status(id, with_token(R"("status":"errored")")), 409);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", "")->status, 409);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/claim", "")->status, 409);
    EXPECT_EQ(post_status("nope", R"({"status":"rendering"})"), 404);
}

TEST_F(DevApiTest, HistoryRecordsEveryAcceptedTransition) {
    const auto id = create("s", "p");
    const auto token = claim(id);
    const auto lease = R"({"lease_token":")" + token + "\",";
    ASSERT_EQ(post_status(id, lease + R"("status":"rendering"})"), 200);
    ASSERT_EQ(post_status(id, lease + R"("status":"rendered","artifact_path":"/out/s_p.mp4",)"
                                      R"("bytes":4096,"duration_ms":1500,"audio_track":"m.mp3"})"),
              200);

    const auto doc = job(id);
    EXPECT_STREQ(doc["status"].GetString(), "rendered");
    EXPECT_STREQ(doc["artifact_path"].GetString(), "/out/s_p.mp4");
    EXPECT_EQ(doc["bytes"].GetInt64(), 4096);
    EXPECT_EQ(doc["duration_ms"].GetInt64(), 1500);
    EXPECT_STREQ(doc["audio_track"].GetString(), "m.mp3");
    EXPECT_EQ(doc["attempts"].GetInt(), 1);
    EXPECT_FALSE(doc.HasMember("lease_token"));  // only the claimer ever sees it

    const auto& history = doc["history"];
    const std::vector<std::string> expected{"queued", "claimed", "rendering", "rendered"};
    ASSERT_EQ(history.Size(), expected.size());
    for (rapidjson::SizeType i = 0; i < history.Size(); ++i) {
        EXPECT_EQ(history[i]["status"].GetString(), expected[i]);
        EXPECT_EQ(std::string(history[i]["at"].GetString()).back(), 'Z');
    }
    EXPECT_STREQ(history[0]["reason"].GetString(), "created");
    EXPECT_STREQ(history[1]["worker"].GetString(), "w1");
    EXPECT_STREQ(history[3]["artifact_path"].GetString(), "/out/s_p.mp4");
    EXPECT_EQ(history[3]["bytes"].GetInt64(), 4096);
}

TEST_F(DevApiTest, ErroredKeepsTheFailureDetails) {
    const auto id = create("s", "p");
    const auto token = claim(id);
    ASSERT_EQ(
        post_status(id, R"({"lease_token":")" + token + "\"," +
                            R"("status":"errored","error_class":"Timeout","error_message":"slow",)"
                            R"("stderr_snippet":"x264 [error]: \"oops\"\n","timeout":true})"),
        200);
    const auto doc = job(id);
    EXPECT_STREQ(doc["status"].GetString(), "errored");
    EXPECT_STREQ(doc["error_class"].GetString(), "Timeout");
    EXPECT_STREQ(doc["stderr_snippet"].GetString(), "x264 [error]: \"oops\"\n");
    EXPECT_TRUE(doc["timeout"].GetBool());
    EXPECT_TRUE(server_->store().all_final());
}

TEST_F(DevApiTest, FailRateOneAnswers503BeforeAnyStateChange) {
    start({.fail_rate = 1.0});
    ASSERT_TRUE(server_->store().add({.id = "j", .story_id = "s", .part_id = "p"}).ok());

    auto res = get("/api/render-jobs?status=queued");
    EXPECT_EQ(res->status, 503);
    // No `Retry-After: 0`: it would let clients skip their back-off, so the suites would never
    // exercise real back-off against injected faults (issue 11.4).
    EXPECT_FALSE(res->has_header("Retry-After")) << res->get_header_value("Retry-After");
    EXPECT_EQ(post("/api/render-jobs/j/claim", "")->status, 503);
    EXPECT_EQ(post("/api/render-jobs", R"({"story_id":"s","part_id":"q"})")->status, 503);
    EXPECT_STREQ(job("j")["status"].GetString(), "queued");  // never faulted
    EXPECT_EQ(server_->store().stats().total, 1u);
    EXPECT_EQ(anonymous_->Get("/healthz")->status, 200);
    EXPECT_EQ(get("/api/stats")->status, 200);
    EXPECT_EQ(anonymous_->Get("/api/render-jobs")->status, 401);  // auth comes first
}

TEST_F(DevApiTest, FailRateIsDeterministicForASeed) {
    const auto run = [this] {
        start({.fail_rate = 0.5, .seed = 42});
        std::string pattern;
        for (int i = 0; i < 40; ++i) pattern += get("/api/render-jobs")->status == 503 ? 'x' : '.';
        return pattern;
    };
    const auto a = run();
    EXPECT_EQ(a, run());
    EXPECT_NE(a.find('x'), std::string::npos);
    EXPECT_NE(a.find('.'), std::string::npos);
}

TEST_F(DevApiTest, HeartbeatRefusedAfterN) {
    start({.heartbeat_refuse_after = 2});
    const auto id = create("s", "p");
    const auto beat = R"({"lease_token":")" + claim(id) + "\"}";
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", beat)->status, 200);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", beat)->status, 200);
    EXPECT_EQ(post("/api/render-jobs/" + id + "/heartbeat", beat)->status, 410);
    const auto doc = job(id);
    EXPECT_STREQ(doc["status"].GetString(), "queued");
    EXPECT_STREQ(doc["history"][doc["history"].Size() - 1]["reason"].GetString(),
                 "heartbeat_refused");
    // A fresh lease gets its N heartbeats again.
    EXPECT_EQ(
        post("/api/render-jobs/" + id + "/heartbeat", R"({"lease_token":")" + claim(id) + "\"}")
            ->status,
        200);
}

TEST_F(DevApiTest, ClockOffsetShowsInExpiriesAndTheDateHeader) {
    // Fault injection for clock skew: the API's clock runs an hour ahead in every stated time,
    // and leases are stated by their expiry alone.
    start({.clock_offset = std::chrono::hours(1), .omit_lease_seconds = true});
    const auto id = create("s", "p", 20);
    const auto listed = parse(get("/api/render-jobs?status=queued")->body);
    EXPECT_FALSE(listed["jobs"][0].HasMember("lease_seconds"));
    const auto res = post("/api/render-jobs/" + id + "/claim", "");
    ASSERT_EQ(res->status, 200);
    const auto lease = parse(res->body);
    EXPECT_FALSE(lease.HasMember("lease_seconds"));
    const auto now = std::chrono::system_clock::now();
    const auto date = std::chrono::system_clock::from_time_t(
        curl_getdate(res->get_header_value("Date").c_str(), nullptr));
    EXPECT_NEAR(std::chrono::duration<double>(date - now).count(), 3600, 5)
        << res->get_header_value("Date");
    // The expiry is 20 s after the API's own Date, whatever the host's clock says.
    std::tm tm{};
    const std::string expires = lease["lease_expires_at"].GetString();
    ASSERT_TRUE(strptime(expires.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) << expires;
    const auto expiry = std::chrono::system_clock::from_time_t(timegm(&tm));
    EXPECT_NEAR(std::chrono::duration<double>(expiry - date).count(), 20, 2) << expires;
}

TEST_F(DevApiTest, OversizedBodyIs413) {
    const std::string body(1536 * 1024, ' ');
    const auto res = post("/api/render-jobs", body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
}

TEST_F(DevApiTest, DeeplyNestedBodiesAre400NotACrash) {
    // Issue 11.1: a recursive parser runs out of stack on 200 KB of '['; and a balanced but
    // deep `render` object would recurse again when it is serialized for the job.
    const std::string open(200 * 1024, '[');
    auto res = post("/api/render-jobs", open);
    ASSERT_TRUE(res) << "the server must survive";
    EXPECT_EQ(res->status, 400);
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    res = post("/api/render-jobs", R"({"story_id":"s","part_id":"p","render":{"x":)" + deep + "}}");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_NE(parse(res->body)["message"].GetString(), std::string());
    const auto id = create("s", "q");
    res = post("/api/render-jobs/" + id + "/claim", open);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(get("/api/render-jobs")->status, 200);
}

TEST_F(DevApiTest, UnknownRoutesAnswerJson404) {
    const auto res = get("/api/nothing");
    EXPECT_EQ(res->status, 404);
    EXPECT_STREQ(parse(res->body)["error"].GetString(), "not_found");
    EXPECT_EQ(get("/api/render-jobs/nope")->status, 404);
}

class StoriesDir : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        root_ = fs::temp_directory_path() / ("devapi_test_" + std::to_string(rd()));
        stories_ = root_ / "stories";
        fs::create_directories(stories_);
    }
    void TearDown() override { fs::remove_all(root_); }

    void touch(const fs::path& rel) {
        fs::create_directories((stories_ / rel).parent_path());
        std::ofstream(stories_ / rel) << 'x';  // never decoded by the server
    }

    fs::path root_, stories_;
};

TEST_F(StoriesDir, SeedsOneJobPerPartWithPngs) {
    touch("s1/p1/frames/frame_1.png");
    touch("s1/p1/frames/frame_2.png");
    touch("s1/p2/frame_1.PNG");  // PNGs directly in the part dir
    touch("s2/p10/frames/frame_1.png");
    touch("s2/p2/frames/frame_1.png");        // natural order: p2 before p10
    touch("s2/p3/frames/notes.txt");          // no PNG: no job
    touch("bad name/p1/frames/frame_1.png");  // not a safe id: skipped
    touch(".hidden/p1/frames/frame_1.png");

    const auto specs = scan_stories(stories_, 30);
    std::vector<std::string> ids;
    for (const auto& s : specs) ids.push_back(s.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"s1-p1", "s1-p2", "s2-p2", "s2-p10"}));
    EXPECT_EQ(specs[0].story_id, "s1");
    EXPECT_EQ(specs[0].part_id, "p1");
    EXPECT_EQ(specs[0].lease_seconds, 30);
    EXPECT_FALSE(specs[0].frames_dir);
    EXPECT_EQ(specs[1].frames_dir.value_or(""), "stories/s1/p2");

    ApiServer server({.token = kToken});
    for (const auto& s : specs) ASSERT_TRUE(server.store().add(s).ok());
    httplib::Client client("127.0.0.1", server.start());
    const auto res = client.Get("/api/render-jobs?status=queued",
                                {{"Authorization", std::string("Bearer ") + kToken}});
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(parse(res->body)["queue_depth"].GetInt(), 4);
}

TEST_F(StoriesDir, MissingDirIsAConfigError) {
    try {
        scan_stories(root_ / "absent");
        FAIL() << "expected a ConfigError";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
    }
}

// The store on its own, with a clock the test moves: expiry without sleeping.
TEST(JobStoreTest, LeasesExpireOnTheInjectedClock) {
    auto now = SteadyClock::now();
    JobStore::Options opts;
    opts.default_lease_seconds = 60;
    opts.clock.steady = [&now] { return now; };
    JobStore store(opts);
    ASSERT_TRUE(store.add({.id = "j", .story_id = "s", .part_id = "p"}).ok());
    EXPECT_FALSE(store.all_final());

    JobStore::Lease lease;
    ASSERT_TRUE(store.claim("j", "w", lease).ok());
    EXPECT_EQ(lease.seconds, 60);
    now += 59s;
    EXPECT_EQ(store.expire_leases(), 0u);
    ASSERT_TRUE(store.heartbeat("j", lease.token, lease).ok());
    now += 59s;  // 118 s after the claim, 59 s after the heartbeat
    EXPECT_EQ(store.get("j")->status, JobStatus::Claimed);
    now += 2s;
    EXPECT_EQ(store.get("j")->status, JobStatus::Queued);  // lazily, on the read
    EXPECT_EQ(store.heartbeat("j", lease.token, lease).code, JobStore::Code::Gone);

    ASSERT_TRUE(store.claim("j", "w2", lease).ok());
    ASSERT_TRUE(store.post_status("j", JobStatus::Errored, lease.token, {}).ok());
    now += 1h;  // a final job holds no lease that could expire
    EXPECT_EQ(store.expire_leases(), 0u);
    EXPECT_TRUE(store.all_final());
    EXPECT_EQ(store.stats().lease_expirations, 1);
}

// Issue 18.2: a job that kills whoever renders it (an 8K job OOM-killing every pod) posts
// nothing, so its lease lapses and it was requeued for ever, killing the next pod each time.
// After max_attempts claims whose leases lapsed, it ends errored with the reason.
TEST(JobStoreTest, APoisonJobEndsErroredAfterMaxAttempts) {
    auto now = SteadyClock::now();
    JobStore::Options opts;
    opts.default_lease_seconds = 60;
    opts.max_attempts = 3;
    opts.clock.steady = [&now] { return now; };
    JobStore store(opts);
    ASSERT_TRUE(store.add({.id = "poison", .story_id = "s", .part_id = "8k"}).ok());
    ASSERT_TRUE(store.add({.id = "good", .story_id = "s", .part_id = "p"}).ok());
    JobStore::Lease lease;
    for (int attempt = 1; attempt <= 3; ++attempt) {
        ASSERT_EQ(store.get("poison")->status, JobStatus::Queued) << "attempt " << attempt;
        ASSERT_TRUE(store.claim("poison", fmt::format("pod-{}", attempt), lease).ok());
        now += 61s;  // the pod died: no heartbeat, no status
        store.expire_leases();
    }
    const auto job = store.get("poison");
    ASSERT_EQ(job->status, JobStatus::Errored);
    EXPECT_EQ(job->claims, 3);
    EXPECT_EQ(job->last_report.error_class, "AttemptsExhausted");
    ASSERT_TRUE(job->last_report.error_message);
    EXPECT_NE(job->last_report.error_message->find("3 attempts"), std::string::npos)
        << *job->last_report.error_message;
    EXPECT_EQ(job->history.back().reason, "attempts_exhausted");
    EXPECT_EQ(store.claim("poison", "pod-4", lease).code, JobStore::Code::Conflict);
    const auto listing = store.list(JobStatus::Queued, 10);
    ASSERT_EQ(listing.jobs.size(), 1u);
    EXPECT_EQ(listing.jobs[0].spec.id, "good");
    EXPECT_EQ(listing.queue_depth, 1u);
    EXPECT_EQ(listing.backlog, 1u);

    // A job whose worker reports a result is never capped, however often it was retried.
    ASSERT_TRUE(store.claim("good", "pod-5", lease).ok());
    now += 61s;
    store.expire_leases();
    ASSERT_TRUE(store.claim("good", "pod-6", lease).ok());
    ASSERT_TRUE(store.post_status("good", JobStatus::Rendering, lease.token, {}).ok());
    ASSERT_TRUE(store.post_status("good", JobStatus::Rendered, lease.token, {}).ok());
    EXPECT_TRUE(store.all_final());
}

TEST(JobStoreTest, ZeroMaxAttemptsRequeuesForEver) {
    auto now = SteadyClock::now();
    JobStore::Options opts;
    opts.default_lease_seconds = 1;
    opts.max_attempts = 0;
    opts.clock.steady = [&now] { return now; };
    JobStore store(opts);
    ASSERT_TRUE(store.add({.id = "j", .story_id = "s", .part_id = "p"}).ok());
    JobStore::Lease lease;
    for (int attempt = 1; attempt <= 20; ++attempt) {
        ASSERT_TRUE(store.claim("j", "w", lease).ok()) << attempt;
        now += 2s;
        store.expire_leases();
    }
    EXPECT_EQ(store.get("j")->status, JobStatus::Queued);
}

}  // namespace
}  // namespace renderer::devapi

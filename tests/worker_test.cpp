// The worker end to end: real renders, over real HTTP on loopback, against the reference job API
// started in process (with its fault injection). Each test bounds its own time.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "media/probe.h"
#include "media/slideshow.h"
#include "support/worker_fixture.h"
#include "worker/work_dir.h"

namespace renderer::testing {
namespace {

using namespace std::chrono_literals;
using worker::Worker;

std::string str(const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : std::string();
}

const std::vector<std::string> kRenderedHistory{"queued", "claimed", "rendering", "rendered"};

TEST(WorkerTest, RendersQueuedJobsAndReportsArtifacts) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    env.add_story("demo", "part2", "part2");
    const auto j1 = env.add_job("demo", "part1");
    const auto j2 = env.add_job("demo", "part2");

    Worker w(env.config());
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 120s));

    for (const auto& [id, part, frames] :
         {std::tuple{j1, "part1", 60}, std::tuple{j2, "part2", 45}}) {
        EXPECT_EQ(env.history(id), kRenderedHistory) << id;
        const auto job = env.job(id);
        ASSERT_TRUE(job);
        const auto& r = job->last_report;
        const auto artifact = env.output / ("demo_" + std::string(part) + ".mp4");
        ASSERT_TRUE(r.artifact_path);
        EXPECT_EQ(*r.artifact_path, artifact.string());
        ASSERT_TRUE(fs::exists(artifact));
        EXPECT_EQ(r.bytes, static_cast<std::int64_t>(fs::file_size(artifact)));
        const auto info = media::probe_file(artifact);
        ASSERT_TRUE(r.duration_ms);
        EXPECT_NEAR(static_cast<double>(*r.duration_ms), info.duration_sec * 1000, 50);
        EXPECT_NEAR(info.duration_sec, frames / 30.0, 0.1);
        EXPECT_EQ(r.audio_track, "background.mp3");
    }

    const auto start = env.logs().events("start");
    ASSERT_EQ(start.size(), 1u);
    for (const char* key : {"poll_interval_ms", "max_concurrent", "lease_seconds", "api_base",
                            "content_dir", "music_dir", "output_dir", "version"}) {
        EXPECT_TRUE(start[0].HasMember(key)) << key;
    }
    const auto claims = env.logs().events("claim");
    ASSERT_EQ(claims.size(), 2u);
    for (const auto& c : claims) {
        for (const char* key :
             {"job_id", "story_id", "part_id", "lease_expires_at", "lease_sec", "attempt"}) {
            EXPECT_TRUE(c.HasMember(key)) << key;
        }
    }
    const auto done = env.logs().events("done");
    ASSERT_EQ(done.size(), 2u);
    for (const auto& d : done) {
        for (const char* key :
             {"job_id", "path", "bytes", "duration_ms", "audio_track", "frames", "wall_sec"}) {
            EXPECT_TRUE(d.HasMember(key)) << key;
        }
    }
    EXPECT_EQ(env.count_events("error"), 0);
    // Every job's work dir is gone; the artifacts are the only files published.
    EXPECT_TRUE(dir_entries(env.tmp).empty());
    EXPECT_EQ(env.outputs().size(), 2u);
    env.expect_no_secret_logged();
}

TEST(WorkerTest, AJobsAudioSettingsApplyAndItsLoudnessIsReported) {
    // render.audio_fit/fades/loudness override the worker's settings for one job; the delivered
    // loudness comes back in the rendered status and the done event. A bad value is the job's
    // PreflightError naming the field.
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    devapi::JobSpec loud;
    loud.id = "loud";
    loud.render_json =
        R"({"audio_fit":"loop","audio_fade_in_ms":100,"audio_loudness":-20,"audio_true_peak":-2})";
    env.add_job("demo", "part1", loud);
    devapi::JobSpec bad;
    bad.id = "badfit";
    bad.render_json = R"({"audio_fit":"forever"})";
    env.add_job("demo", "part1", bad);

    Worker w(env.config());
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 120s));

    // A copy: job() answers by value, and a reference into its temporary would dangle.
    const auto loud_job = env.job("loud");
    ASSERT_TRUE(loud_job);
    const auto r = loud_job->last_report;
    EXPECT_EQ(env.history("loud"), kRenderedHistory);
    ASSERT_TRUE(r.loudness_lufs && r.true_peak_dbtp && r.gain_db);
    EXPECT_NEAR(*r.loudness_lufs, -20, 0.5);
    EXPECT_LE(*r.true_peak_dbtp, -2.0);
    const auto done = env.logs().events("done");
    ASSERT_EQ(done.size(), 1u);
    EXPECT_NEAR(done[0]["loudness_lufs"].GetDouble(), *r.loudness_lufs, 1e-9);
    EXPECT_NEAR(done[0]["gain_db"].GetDouble(), *r.gain_db, 1e-9);

    EXPECT_EQ(env.history("badfit").back(), "errored");
    EXPECT_EQ(env.job("badfit")->last_report.error_class, "PreflightError");
    EXPECT_NE(env.job("badfit")->last_report.error_message->find("render.audio_fit"),
              std::string::npos);
}

TEST(WorkerTest, AJobsFrameTimingApplies) {
    // render.frame_timing and render.keyint_sec override the worker's settings for one job
    // (DESIGN 3.2): the demo story's held slides are stored once each. A bad value is the job's
    // PreflightError naming the field.
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    devapi::JobSpec vfr;
    vfr.id = "vfr";
    vfr.render_json = R"({"frame_timing":"vfr","keyint_sec":2})";
    env.add_job("demo", "part1", vfr);
    devapi::JobSpec bad;
    bad.id = "badtiming";
    bad.render_json = R"({"frame_timing":"sometimes"})";
    env.add_job("demo", "part1", bad);

    Worker w(env.config());
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 120s));

    EXPECT_EQ(env.history("vfr"), kRenderedHistory);
    const auto vfr_job = env.job("vfr");
    ASSERT_TRUE(vfr_job && vfr_job->last_report.artifact_path);
    const auto info = media::probe_file(*vfr_job->last_report.artifact_path);
    const media::StreamInfo* video = nullptr;
    for (const auto& s : info.streams) video = s.type == "video" ? &s : video;
    ASSERT_NE(video, nullptr);
    // The demo is 4 slides held 15 frames each: 4 frames of 0.5 s, the last slide's last frame
    // a frame of its own (media/held_frames.h), cut shorter where this fixture's music ends.
    EXPECT_EQ(video->frames, 5) << "the held slides were each encoded once";
    EXPECT_NEAR(video->max_frame_duration_sec, 0.5, 1e-9);

    EXPECT_EQ(env.history("badtiming").back(), "errored");
    EXPECT_EQ(env.job("badtiming")->last_report.error_class, "PreflightError");
    EXPECT_NE(env.job("badtiming")->last_report.error_message->find("render.frame_timing"),
              std::string::npos);
}

TEST(WorkerTest, ShortCredentialsInTheBaseUrlDoNotGarbleTheLogs) {
    // The base URL's password (else its user name) is registered for redaction; a short one
    // ("p") was replaced in every line: "htt[REDACTED]://", "tm[REDACTED]_dir". The worker
    // never sends URL credentials and never logs the URL as given, so one too short to redact
    // safely is not registered.
    WorkerEnv env;
    auto cfg = env.config();
    cfg.api_base_url = "http://admin:p@127.0.0.1:" + std::to_string(env.api().port()) + "/";
    cfg.exit_when_idle_polls = 2;
    Worker w(cfg);
    WorkerEnv::run_until(
        w, [] { return false; }, 20s);
    const auto start = env.logs().events("start");
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(str(start[0], "api_base"), env.base_url());
    EXPECT_EQ(str(start[0], "tmp_dir"), env.tmp.string());
    env.expect_no_secret_logged();
}

TEST(WorkerTest, IdlePollsLogQueueDepthAndStartHidesCredentials) {
    WorkerEnv env;
    auto cfg = env.config();
    // Userinfo and a query in the base URL must never reach a log line.
    cfg.api_base_url =
        "http://user:hunter2pw@127.0.0.1:" + std::to_string(env.api().port()) + "/?sig=abc";
    cfg.exit_when_idle_polls = 3;
    Worker w(cfg);
    WorkerEnv::run_until(
        w, [] { return false; }, 20s);

    const auto polls = env.logs().events("poll");
    ASSERT_GE(polls.size(), 3u);
    for (const auto& p : polls) {
        ASSERT_TRUE(p.HasMember("queue_depth"));
        EXPECT_EQ(p["queue_depth"].GetInt64(), 0);
    }
    const auto start = env.logs().events("start");
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(str(start[0], "api_base"), env.base_url());
    const auto all = env.logs().joined();
    EXPECT_EQ(all.find("hunter2pw"), std::string::npos);
    EXPECT_EQ(all.find("sig=abc"), std::string::npos);
    EXPECT_TRUE(env.has_event("shutdown"));
    env.expect_no_secret_logged();
}

TEST(WorkerTest, InjectedServerErrorsAreRetriedWithBackoff) {
    devapi::ApiServer::Options o;
    o.fail_rate = 0.4;
    o.seed = 7;
    WorkerEnv env(o);
    env.add_story("demo", "part1", "part1");
    env.add_story("demo", "part2", "part2");
    env.add_job("demo", "part1");
    env.add_job("demo", "part2");

    Worker w(env.config());
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 120s));
    EXPECT_EQ(env.history("demo-part1").back(), "rendered");
    EXPECT_EQ(env.history("demo-part2").back(), "rendered");

    const auto retries = env.logs().events("retry");
    ASSERT_FALSE(retries.empty());
    for (const auto& r : retries) {
        EXPECT_GE(r["attempt"].GetInt64(), 1);
        EXPECT_GE(r["delay_ms"].GetInt64(), 0);
        EXPECT_NE(str(r, "reason").find("503"), std::string::npos);
        EXPECT_EQ(str(r, "path").find('?'), std::string::npos)
            << "query strings stay out of the log";
    }
    env.expect_no_secret_logged();
}

TEST(WorkerTest, HeartbeatsKeepALeaseShorterThanTheRender) {
    WorkerEnv env;
    const auto id = env.add_slow_job(1);
    auto cfg = env.config();
    cfg.render = WorkerEnv::slow_render();
    cfg.progress_log_interval_ms = 1000;

    Worker w(cfg);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 180s));
    const auto wall = std::chrono::steady_clock::now() - t0;

    EXPECT_EQ(env.history(id), kRenderedHistory);
    const auto job = env.job(id);
    ASSERT_TRUE(job);
    EXPECT_GT(wall, 2s) << "the render must outlive the 1 s lease for this test to mean anything";
    EXPECT_GE(job->heartbeats, 2);
    EXPECT_EQ(job->lease_expirations, 0);
    EXPECT_EQ(job->claims, 1);
    EXPECT_FALSE(env.has_event("lease_lost"));
    // Progress is logged while the render runs, with the job's ids.
    const auto progress = env.logs().events("rendering");
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(str(progress[0], "job_id"), id);
    EXPECT_TRUE(progress[0].HasMember("elapsed_sec"));
    EXPECT_TRUE(progress[0].HasMember("frames_total"));
    env.expect_no_secret_logged();
}

// Issue 11.2, worker clock ahead: the API grants a 10 s lease whose stated expiry, read on the
// worker's clock (8 s ahead), is 2 s away. Taking the expiry at face value lost the lease at
// 2 s without a single heartbeat (the beat was due at a third of the nominal 10 s).
TEST(WorkerTest, ClockAheadOfTheApiKeepsTheLease) {
    WorkerEnv env({.clock_offset = -8s});
    const auto id = env.add_slow_job(10);
    auto cfg = env.config();
    cfg.render = WorkerEnv::slow_render();
    Worker w(cfg);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 180s));
    EXPECT_GT(std::chrono::steady_clock::now() - t0, 2s)
        << "the render must outlive the 2 s the skewed expiry seemed to leave";

    EXPECT_EQ(env.history(id), kRenderedHistory);
    const auto job = env.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->claims, 1);
    EXPECT_EQ(job->lease_expirations, 0);
    EXPECT_FALSE(env.has_event("lease_lost"));
    const auto skew = env.logs().events("clock_skew");
    ASSERT_EQ(skew.size(), 1u) << "logged once, at the claim";
    EXPECT_EQ(str(skew[0], "job_id"), id);
    EXPECT_NEAR(skew[0]["skew_sec"].GetDouble(), -8.0, 2.0) << "the API's clock minus ours";
    EXPECT_EQ(env.logs().events("claim")[0]["lease_sec"].GetDouble(), 10.0);
    env.expect_no_secret_logged();
}

// Issue 11.2, worker clock behind: the API states no lease_seconds and an expiry 32 s ahead on
// the worker's clock (30 s behind) for a 2 s lease. Taking expiry minus our clock made a 32 s
// lease with a heartbeat every 10.7 s, so the API revoked the lease after 2 s and the worker
// published anyway. The lease is the expiry minus the answer's Date header.
TEST(WorkerTest, ClockBehindTheApiBeatsBeforeTheApiRevokes) {
    WorkerEnv env({.clock_offset = 30s, .omit_lease_seconds = true});
    const auto id = env.add_slow_job(2);
    auto cfg = env.config();
    cfg.render = WorkerEnv::slow_render();
    Worker w(cfg);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 180s));

    EXPECT_EQ(env.history(id), kRenderedHistory);
    const auto job = env.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->claims, 1);
    EXPECT_EQ(job->lease_expirations, 0) << "the API revoked the lease: no beat came in time";
    EXPECT_GE(job->heartbeats, 2);
    EXPECT_FALSE(env.has_event("lease_lost"));
    const auto skew = env.logs().events("clock_skew");
    ASSERT_EQ(skew.size(), 1u);
    EXPECT_NEAR(skew[0]["skew_sec"].GetDouble(), 30.0, 2.0);
    EXPECT_LE(env.logs().events("claim")[0]["lease_sec"].GetDouble(), 2.0);
    env.expect_no_secret_logged();
}

TEST(WorkerTest, NoHeartbeatRacesTheFinalStatus) {
    // Beats every 10 ms keep one in flight nearly all the time. Before the heartbeat stopped ahead
    // of the final status, one landing just after `rendered` was refused (the job holds no lease
    // any more) and logged a spurious lease_lost for a job that had been delivered.
    WorkerEnv env;
    std::vector<std::string> ids;
    for (const auto* part : {"part1", "part2", "part1", "part2"}) {
        const auto story = "race" + std::to_string(ids.size());
        env.add_story(story, part, part);
        ids.push_back(env.add_job(story, part));
    }
    auto cfg = env.config();
    cfg.heartbeat_interval_ms = 10;

    Worker w(cfg);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 180s));
    for (const auto& id : ids) {
        EXPECT_EQ(env.history(id), kRenderedHistory) << id;
        const auto job = env.job(id);
        ASSERT_TRUE(job);
        EXPECT_GE(job->heartbeats, 1) << id << ": the test needs beats to race";
    }
    EXPECT_FALSE(env.has_event("lease_lost"));
    EXPECT_TRUE(env.logs().events("status_failed").empty());
}

TEST(WorkerTest, RefusedHeartbeatCancelsTheRenderAndPublishesNothing) {
    devapi::ApiServer::Options o;
    o.heartbeat_refuse_after = 2;
    WorkerEnv env(o);
    const auto id = env.add_slow_job(1);
    auto cfg = env.config();
    cfg.render = WorkerEnv::slow_render();
    cfg.shutdown_grace_sec = 0;

    Worker w(cfg);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.has_event("lease_lost"); }, 120s));

    const auto lost = env.logs().events("lease_lost");
    ASSERT_FALSE(lost.empty());
    EXPECT_EQ(str(lost[0], "job_id"), id);
    EXPECT_NE(str(lost[0], "reason").find("410"), std::string::npos) << str(lost[0], "reason");
    EXPECT_FALSE(env.has_event("done"));
    for (const auto& s : env.history(id)) EXPECT_NE(s, "rendered");
    // Neither the artifact nor its temp file is left behind.
    EXPECT_TRUE(env.outputs().empty());
    EXPECT_TRUE(dir_entries(env.tmp).empty());
    env.expect_no_secret_logged();
}

TEST(WorkerTest, JobTimeoutReportsErroredWithTimeout) {
    WorkerEnv env;
    env.add_story("slow", "p1", "part1");
    const auto id = env.add_job("slow", "p1");
    auto cfg = env.config();
    cfg.render = WorkerEnv::slow_render();
    cfg.job_timeout_sec = 1;

    Worker w(cfg);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 60s));

    EXPECT_EQ(env.history(id).back(), "errored");
    const auto job = env.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->last_report.error_class, "Timeout");
    EXPECT_EQ(job->last_report.timeout, true);
    const auto errors = env.logs().events("error");
    ASSERT_EQ(errors.size(), 1u) << "a failure is logged once";
    EXPECT_TRUE(errors[0]["timeout"].GetBool());
    EXPECT_TRUE(env.outputs().empty());
    env.expect_no_secret_logged();
}

TEST(WorkerTest, PreflightFailuresReportErroredWithoutRendering) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    // No frames at all for this story part.
    const auto missing = env.add_job("ghost", "p1");
    // frames_dir escaping CONTENT_DIR, relatively and absolutely.
    devapi::JobSpec escape;
    escape.frames_dir = "stories/demo/../../../etc";
    const auto dotdot = env.add_job("demo", "part1", [&] {
        auto s = escape;
        s.id = "dotdot";
        return s;
    }());
    devapi::JobSpec abs;
    abs.id = "absolute";
    abs.frames_dir = (testdata() / "stories" / "demo" / "part1" / "frames").string();
    env.add_job("demo", "part1", abs);
    devapi::JobSpec bad_track;
    bad_track.id = "badtrack";
    bad_track.music_track = "../secrets.mp3";
    env.add_job("demo", "part1", bad_track);
    devapi::JobSpec bad_render;
    bad_render.id = "badcrf";
    bad_render.render_json = R"({"crf":99})";
    env.add_job("demo", "part1", bad_render);

    std::atomic<int> renders{0};
    worker::RenderFn counting = [&](const media::RenderRequest& req, const log::Context& log,
                                    const media::CancelToken& cancel,
                                    const media::ProgressFn& progress,
                                    const std::function<bool()>& gate) {
        ++renders;
        return media::render_slideshow(req, log, cancel, progress, gate);
    };
    Worker w(env.config(), counting);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 60s));

    for (const auto& id : {missing, dotdot, std::string("absolute"), std::string("badtrack"),
                           std::string("badcrf")}) {
        const auto job = env.job(id);
        ASSERT_TRUE(job);
        EXPECT_EQ(env.history(id).back(), "errored") << id;
        EXPECT_EQ(job->last_report.error_class, "PreflightError") << id;
        EXPECT_TRUE(job->last_report.error_message && !job->last_report.error_message->empty());
    }
    EXPECT_NE(env.job("badcrf")->last_report.error_message->find("crf"), std::string::npos);
    // Only the missing-frames job reached the media layer (its preflight refused it); the rest
    // were refused before any render began.
    EXPECT_EQ(renders.load(), 1);
    EXPECT_EQ(env.count_events("error"), 5);
    EXPECT_TRUE(env.outputs().empty());
    EXPECT_TRUE(dir_entries(env.tmp).empty());
    env.expect_no_secret_logged();
}

TEST(WorkerTest, NeverMoreThanMaxConcurrentRendersInFlight) {
    WorkerEnv env;
    std::vector<std::string> ids;
    for (int i = 1; i <= 5; ++i) {
        const auto story = "s" + std::to_string(i);
        env.add_story(story, "p", "part2");
        ids.push_back(env.add_job(story, "p"));
    }
    std::atomic<int> in_flight{0}, most{0};
    worker::RenderFn counting = [&](const media::RenderRequest& req, const log::Context& log,
                                    const media::CancelToken& cancel,
                                    const media::ProgressFn& progress,
                                    const std::function<bool()>& gate) {
        const int now = ++in_flight;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        // Long enough that two claims in one poll surely overlap.
        std::this_thread::sleep_for(300ms);
        try {
            auto r = media::render_slideshow(req, log, cancel, progress, gate);
            --in_flight;
            return r;
        } catch (...) {
            --in_flight;
            throw;
        }
    };
    auto cfg = env.config();
    cfg.max_concurrent = 2;
    Worker w(cfg, counting);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 120s));

    for (const auto& id : ids) EXPECT_EQ(env.history(id), kRenderedHistory) << id;
    EXPECT_EQ(most.load(), 2);
    EXPECT_LE(w.stats().max_in_flight, 2);
    EXPECT_EQ(w.stats().jobs_claimed, 5);
}

TEST(WorkerTest, TwoWorkersSharingOneApiRenderEveryJobExactlyOnce) {
    WorkerEnv env;
    std::vector<std::string> ids;
    for (int i = 1; i <= 6; ++i) {
        const auto story = "t" + std::to_string(i);
        env.add_story(story, "p", i % 2 ? "part1" : "part2");
        ids.push_back(env.add_job(story, "p"));
    }
    auto c1 = env.config();
    c1.worker_name = "w1";
    auto c2 = env.config();
    c2.worker_name = "w2";
    Worker w1(c1), w2(c2);
    std::thread second([&] {
        WorkerEnv::run_until(
            w2, [&] { return env.all_final(); }, 180s);
    });
    EXPECT_TRUE(WorkerEnv::run_until(
        w1, [&] { return env.all_final(); }, 180s));
    second.join();

    std::multiset<std::string> done_ids;
    for (const auto& d : env.logs().events("done")) done_ids.insert(str(d, "job_id"));
    for (const auto& id : ids) {
        const auto job = env.job(id);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->claims, 1) << id;
        EXPECT_EQ(env.history(id), kRenderedHistory) << id;
        EXPECT_EQ(done_ids.count(id), 1u) << id;
    }
    EXPECT_EQ(w1.stats().jobs_claimed + w2.stats().jobs_claimed, 6);
    EXPECT_EQ(env.outputs().size(), 6u);
    env.expect_no_secret_logged();
}

TEST(WorkerTest, TransientFailureIsRetriedUnderTheSameLease) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    env.add_story("demo", "part2", "part2");
    env.add_job("demo", "part1");
    std::atomic<int> calls{0};
    worker::RenderFn flaky = [&](const media::RenderRequest& req, const log::Context& log,
                                 const media::CancelToken& cancel,
                                 const media::ProgressFn& progress,
                                 const std::function<bool()>& gate) -> media::RenderResult {
        if (++calls == 1) throw Error(ErrorClass::IoError, "injected EIO writing the temp file");
        return media::render_slideshow(req, log, cancel, progress, gate);
    };
    auto cfg = env.config();
    cfg.max_retries = 1;
    {
        Worker w(cfg, flaky);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env.all_final(); }, 60s));
    }
    EXPECT_EQ(env.history("demo-part1"), kRenderedHistory);
    EXPECT_EQ(env.job("demo-part1")->claims, 1);
    EXPECT_EQ(calls.load(), 2);
    const auto retries = env.logs().events("retry");
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_NE(str(retries[0], "reason").find("IoError"), std::string::npos);

    // With no retries allowed the same failure is final, and permanent failures never retry.
    env.add_job("demo", "part2");
    calls = 0;
    cfg.max_retries = 0;
    {
        Worker w(cfg, flaky);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env.all_final(); }, 60s));
    }
    EXPECT_EQ(env.history("demo-part2").back(), "errored");
    EXPECT_EQ(env.job("demo-part2")->last_report.error_class, "IoError");
    EXPECT_EQ(calls.load(), 1);
}

TEST(WorkerTest, LowDiskClaimsNothingAndStaysAlive) {
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    const auto id = env.add_job("demo", "part1");
    auto cfg = env.config();
    cfg.min_free_bytes = 1ull << 60;
    Worker w(cfg);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.count_events("disk_low") >= 3; }, 20s));
    EXPECT_EQ(env.history(id), std::vector<std::string>{"queued"});
    EXPECT_FALSE(env.has_event("claim"));
    EXPECT_GE(env.count_events("poll"), 3);
}

TEST(WorkerTest, DebugReportsAreKeptWithinTheirBoundsAndNothingElseStays) {
    // Issue 11.9: with --debug every job left ffreport-<id>.log in TMP_DIR for ever. A report
    // now lives in the job's work dir while it renders (so a crash's is swept with the dir) and
    // is kept afterwards in TMP_DIR/.ffreports, the newest N within a byte budget.
    WorkerEnv env;
    std::vector<std::string> ids;
    for (const auto* part : {"part1", "part2", "part1"}) {
        const auto story = "dbg" + std::to_string(ids.size());
        env.add_story(story, part, part);
        ids.push_back(env.add_job(story, part));
    }
    auto cfg = env.config();
    cfg.debug = true;
    cfg.debug_reports_kept = 2;
    cfg.max_concurrent = 1;  // one after another, so "newest" is well defined
    {
        Worker w(cfg);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env.all_final(); }, 120s));
    }
    for (const auto& id : ids) EXPECT_EQ(env.history(id), kRenderedHistory) << id;
    EXPECT_EQ(dir_entries(env.tmp), std::vector<std::string>{".ffreports"})
        << "work dirs are gone and no report is left loose in TMP_DIR";
    const auto kept = dir_entries(env.tmp / ".ffreports");
    ASSERT_EQ(kept.size(), 2u);
    // The `done` events name the reports; the last two jobs' are the ones kept.
    const auto done = env.logs().events("done");
    ASSERT_EQ(done.size(), 3u);
    EXPECT_FALSE(fs::exists(str(done[0], "ffreport")));
    for (int i : {1, 2}) {
        const fs::path report = str(done[i], "ffreport");
        EXPECT_EQ(report.parent_path(), env.tmp / ".ffreports");
        ASSERT_TRUE(fs::exists(report)) << report;
        EXPECT_GT(fs::file_size(report), 0u);
        EXPECT_NE(read_text(report).find("libx264"), std::string::npos) << "a libav report";
    }

    // The byte budget bounds them too: with room for none, none is kept.
    env.add_story("dbg3", "part2", "part2");
    env.add_job("dbg3", "part2");
    cfg.debug_reports_max_bytes = 1;
    {
        Worker w(cfg);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env.all_final(); }, 120s));
    }
    EXPECT_TRUE(dir_entries(env.tmp / ".ffreports").empty());
    EXPECT_EQ(dir_entries(env.tmp), std::vector<std::string>{".ffreports"});
}

TEST(WorkerTest, AnUncreatableWorkDirReleasesTheJobInsteadOfFailingIt) {
    // Issue 11.8: a work dir the worker cannot create is its own machine's problem, not the
    // job's, yet the job was reported `errored` for good. Now the job is released (no status:
    // its lease lapses and the API requeues it) and the worker backs off claiming. A file where
    // the work dir should be stands in for a broken TMP_DIR; once it is gone the job renders.
    WorkerEnv env;
    env.add_story("demo", "part1", "part1");
    devapi::JobSpec spec;
    spec.lease_seconds = 2;
    const auto id = env.add_job("demo", "part1", spec);
    { std::ofstream(env.tmp / id) << "in the way"; }
    Worker w(env.config());
    std::thread remover([&] {
        // The obstacle goes once the worker has released the job; bounded like the test.
        const auto end = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < end && !env.has_event("job_released"))
            std::this_thread::sleep_for(20ms);
        fs::remove(env.tmp / id);
    });
    const bool finished = WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 120s);
    remover.join();
    ASSERT_TRUE(finished);

    const auto job = env.job(id);
    ASSERT_TRUE(job);
    for (const auto& s : env.history(id)) EXPECT_NE(s, "errored");
    EXPECT_EQ(env.history(id).back(), "rendered");
    EXPECT_GE(job->lease_expirations, 1) << "released by letting the lease lapse";
    EXPECT_GE(job->claims, 2);
    const auto released = env.logs().events("job_released");
    ASSERT_FALSE(released.empty());
    EXPECT_EQ(str(released[0], "job_id"), id);
    EXPECT_NE(str(released[0], "reason").find("work dir"), std::string::npos)
        << str(released[0], "reason");
    EXPECT_TRUE(env.has_event("claim_backoff"));
    EXPECT_EQ(env.count_events("error"), 0) << "the job did nothing wrong";
    EXPECT_TRUE(dir_entries(env.tmp).empty());
}

TEST(WorkerTest, StartSweepsStaleTempFilesAndJobDirs) {
    WorkerEnv env;
    const auto old_time = fs::file_time_type::clock::now() - 1h;
    // Work dirs as workers make them: one a crashed worker left long ago, one live.
    const auto stale_dir = env.tmp / "crashed-job";
    ASSERT_FALSE(worker::create_work_dir(stale_dir / "frames"));
    ASSERT_FALSE(worker::create_work_dir(stale_dir));
    fs::last_write_time(stale_dir, old_time);
    const auto fresh_dir = env.tmp / "live-job";
    ASSERT_FALSE(worker::create_work_dir(fresh_dir));
    const auto stale_temp = env.output / (std::string(kTempPrefix) + "abc123");
    { std::ofstream(stale_temp) << "partial"; }
    fs::last_write_time(stale_temp, old_time);

    auto cfg = env.config();
    cfg.exit_when_idle_polls = 1;
    Worker w(cfg);
    WorkerEnv::run_until(
        w, [] { return false; }, 20s);
    EXPECT_FALSE(fs::exists(stale_dir));
    EXPECT_FALSE(fs::exists(stale_temp));
    EXPECT_TRUE(fs::exists(fresh_dir)) << "another worker's live job dir is not stale";
    EXPECT_TRUE(env.has_event("sweep"));
}

TEST(WorkerTest, TheSweepTakesOnlyWorkDirsAWorkerMade) {
    // The sweep took every directory in TMP_DIR named like a job id and untouched for two
    // leases: a `renderer bench` scratch dir beside the jobs (bench-XXXXXX, in the same TMP_DIR
    // by default) while it encoded, or another program's directory in a TMP_DIR shared with
    // others (TMP_DIR=/tmp). A symlink there was judged by its target. Only what a worker made
    // is taken (StartSweepsStaleTempFilesAndJobDirs and the crash tests: a killed worker's).
    WorkerEnv env;
    const auto old_time = fs::file_time_type::clock::now() - 1h;
    const auto bench_dir = env.tmp / "bench-a1B2c3";
    fs::create_directories(bench_dir);
    { std::ofstream(bench_dir / "veryfast_crf23.mp4") << "encoding"; }
    fs::last_write_time(bench_dir, old_time);
    const auto other = env.tmp / "systemd-private-3f2a-chrony.service-Xy1";
    fs::create_directories(other / "tmp");
    fs::last_write_time(other, old_time);
    const auto elsewhere = env.dir / "elsewhere";
    fs::create_directories(elsewhere);
    fs::last_write_time(elsewhere, old_time);
    fs::create_directory_symlink(elsewhere, env.tmp / "linked-dir");

    auto cfg = env.config();
    cfg.exit_when_idle_polls = 1;
    Worker w(cfg);
    WorkerEnv::run_until(
        w, [] { return false; }, 20s);
    EXPECT_TRUE(fs::exists(bench_dir / "veryfast_crf23.mp4")) << "a bench run's dir was swept";
    EXPECT_TRUE(fs::exists(other / "tmp")) << "another program's dir was swept";
    EXPECT_TRUE(fs::is_symlink(env.tmp / "linked-dir"));
    EXPECT_FALSE(env.has_event("sweep"));
}

TEST(WorkerTest, ALiveRenderPausedPastTwoLeasesKeepsItsTempFile) {
    // The sweep takes temp files untouched for twice the lease, on the grounds that a live render
    // writes as it encodes. A render that pauses after its last write (a slow fsync, a stalled
    // read of a frame on a network volume) while its heartbeats keep the lease live lost its
    // temp file to the sweep and then failed its rename (IoError). The pause is injected in
    // the publish gate, after the MP4 is complete and before the rename: 10 s against a 2 s
    // lease (sweeps every 2 s, taking what is 4 s old).
    WorkerEnv env;
    env.add_story("paused", "p1", "part1");
    devapi::JobSpec spec;
    spec.lease_seconds = 2;
    const auto id = env.add_job("paused", "p1", spec);
    std::atomic<int> renders{0};
    worker::RenderFn pausing = [&](const media::RenderRequest& req, const log::Context& log,
                                   const media::CancelToken& cancel,
                                   const media::ProgressFn& progress,
                                   const std::function<bool()>& gate) {
        ++renders;
        const std::function<bool()> slow_gate = [&] {
            std::this_thread::sleep_for(10s);
            return gate();
        };
        return media::render_slideshow(req, log, cancel, progress, slow_gate);
    };
    auto cfg = env.config();
    cfg.lease_seconds = 2;
    cfg.max_retries = 0;
    Worker w(cfg, pausing);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 90s));
    EXPECT_EQ(env.history(id), kRenderedHistory);
    EXPECT_EQ(renders.load(), 1);
    EXPECT_EQ(env.count_events("sweep"), 0) << "nothing was stale";
    EXPECT_EQ(env.outputs(), std::vector<std::string>{"paused_p1.mp4"});
    const auto info = media::probe_file(env.output / "paused_p1.mp4");
    ASSERT_EQ(info.streams.size(), 2u);
    EXPECT_GT(info.duration_sec, 0);
}

}  // namespace
}  // namespace renderer::testing

#include "support/worker_fixture.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace renderer::testing {

namespace {

std::string random_token() {
    std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("tok-{:016x}{:016x}", rng(), rng());
}

}  // namespace

WorkerEnv::WorkerEnv(devapi::ApiServer::Options api_options)
    : content(dir / "content"),
      music(dir / "content" / "audio" / "music"),
      output(dir / "output"),
      tmp(dir / "tmp"),
      token_(random_token()) {
    logs_ = capture_json_logs();
    fs::create_directories(music);
    fs::create_directories(output);
    fs::create_directories(tmp);
    fs::copy_file(testdata() / "audio" / "music" / "background.mp3", music / "background.mp3");
    api_options.token = token_;
    api_options.host = "127.0.0.1";
    api_options.port = 0;
    api_ = std::make_unique<devapi::ApiServer>(api_options);
    api_->start();
}

WorkerEnv::~WorkerEnv() {
    api_->stop();
    // For debugging a failure: WORKER_TEST_DUMP_LOGS=1 prints what the test captured.
    if (std::getenv("WORKER_TEST_DUMP_LOGS") != nullptr)
        std::fputs(logs_->joined().c_str(), stderr);
}

void WorkerEnv::add_story(const std::string& story, const std::string& part,
                          const std::string& source_part) {
    const auto dst = content / "stories" / story / part / "frames";
    fs::create_directories(dst);
    for (const auto& e :
         fs::directory_iterator(testdata() / "stories" / "demo" / source_part / "frames")) {
        fs::copy_file(e.path(), dst / e.path().filename());
    }
}

std::string WorkerEnv::add_job(const std::string& story, const std::string& part,
                               devapi::JobSpec extra) {
    extra.story_id = story;
    extra.part_id = part;
    if (extra.id.empty()) extra.id = story + "-" + part;
    const auto outcome = api_->store().add(extra);
    EXPECT_TRUE(outcome.ok()) << outcome.message;
    return extra.id;
}

std::string WorkerEnv::add_slow_job(int lease_seconds) {
    add_story("slow", "p1", "part1");
    devapi::JobSpec spec;
    spec.lease_seconds = lease_seconds;
    return add_job("slow", "p1", spec);
}

std::string WorkerEnv::base_url() const { return fmt::format("http://127.0.0.1:{}", api_->port()); }

worker::WorkerConfig WorkerEnv::config() const {
    worker::WorkerConfig c;
    c.api_base_url = base_url();
    c.api_token = token_;
    c.poll_interval_ms = 100;
    c.max_concurrent = 2;
    c.lease_seconds = 10;
    c.min_free_bytes = 1 << 20;
    c.shutdown_grace_sec = 10;
    c.worker_name = "test-worker";
    c.paths.content_dir = content;
    c.paths.music_dir = music;
    c.paths.output_dir = output;
    c.paths.tmp_dir = tmp;
    c.render.threads = 1;
    c.render.decode_threads = 1;
    return c;
}

media::RenderSettings WorkerEnv::slow_render() {
    // 1080p veryslow on one x264 thread encodes ~8 frames/s here; 40 frames (4 s of audio at
    // 10 fps) take seconds, long enough to outlive a one-second lease several times.
    media::RenderSettings s;
    s.width = 1920;
    s.height = 1080;
    s.preset = "veryslow";
    s.threads = 1;
    s.decode_threads = 1;
    s.fps = 10;
    s.use_cache = false;
    return s;
}

bool WorkerEnv::run_until(worker::Worker& worker, const std::function<bool()>& done,
                          std::chrono::seconds limit) {
    int rc = -1;
    std::atomic<bool> returned{false};
    std::thread runner([&] {
        rc = worker.run();
        returned = true;
    });
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end && !returned && !done()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    worker.request_stop();
    runner.join();
    EXPECT_EQ(rc, 0);
    return done();
}

std::vector<std::string> WorkerEnv::history(const std::string& job_id) {
    std::vector<std::string> out;
    if (auto j = api_->store().get(job_id)) {
        for (const auto& h : j->history) out.emplace_back(devapi::to_string(h.status));
    }
    return out;
}

std::optional<devapi::Job> WorkerEnv::job(const std::string& job_id) {
    return api_->store().get(job_id);
}

bool WorkerEnv::all_final() { return api_->store().all_final(); }

int WorkerEnv::count_events(const std::string& event) {
    return static_cast<int>(logs_->events(event).size());
}

std::vector<std::string> WorkerEnv::outputs() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(output))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());  // not the filesystem's order
    return out;
}

void WorkerEnv::expect_no_secret_logged() {
    const auto all = logs_->joined();
    EXPECT_EQ(all.find(token_), std::string::npos) << "the API token leaked into the logs";
    EXPECT_EQ(all.find("[REDACTED]"), std::string::npos) << "something tried to log the token";
}

}  // namespace renderer::testing

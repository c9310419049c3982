// Shared setup for the worker suites: a temp content tree copied from testdata/, the reference
// job API started in process on a free loopback port, captured JSON logs, and a way to run a
// Worker on a thread until a condition holds (bounded in time, stopped by the test itself).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devapi/api_server.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace renderer::testing {

class WorkerEnv {
  public:
    explicit WorkerEnv(devapi::ApiServer::Options api_options = {});
    ~WorkerEnv();

    // Copies testdata's demo/<source_part> frames to content/stories/<story>/<part>/frames.
    void add_story(const std::string& story, const std::string& part,
                   const std::string& source_part = "part1");
    // Queues a job on the API; `id` defaults to <story>-<part>.
    std::string add_job(const std::string& story, const std::string& part,
                        devapi::JobSpec extra = {});
    // The story slow/p1 (demo/part1's frames) and its job with a lease of `lease_seconds`, for
    // tests that need a render to outlive a lease (with slow_render()); returns the job id.
    std::string add_slow_job(int lease_seconds);

    // A worker configuration aimed at this env: fast polls, tiny disk threshold, default lease.
    worker::WorkerConfig config() const;
    // Render settings that make one render of demo/part1 take several seconds on one core.
    static media::RenderSettings slow_render();

    // Runs `worker` on a thread until `done()` is true, run() returns by itself or `limit`
    // passes; then request_stop()s it and joins. Returns `done()` at the end.
    static bool run_until(worker::Worker& worker, const std::function<bool()>& done,
                          std::chrono::seconds limit);

    std::vector<std::string> history(const std::string& job_id);
    std::optional<devapi::Job> job(const std::string& job_id);
    bool all_final();
    int count_events(const std::string& event);
    bool has_event(const std::string& event) { return count_events(event) > 0; }
    // Names in OUTPUT_DIR, sorted, hidden temp files included.
    std::vector<std::string> outputs() const;

    // The token, or a sign that something tried to log it, appears nowhere in the logs.
    void expect_no_secret_logged();

    const std::string& token() const { return token_; }
    devapi::ApiServer& api() { return *api_; }
    CaptureSink& logs() { return *logs_; }
    std::string base_url() const;

    TempDir dir;
    std::filesystem::path content, music, output, tmp;

  private:
    std::string token_;
    std::unique_ptr<devapi::ApiServer> api_;
    std::shared_ptr<CaptureSink> logs_;
};

}  // namespace renderer::testing

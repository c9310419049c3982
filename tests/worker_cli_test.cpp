// The real `renderer` binary as the service runs it: configuration errors exit 78 with one
// actionable line, --exit-when-idle renders the queue and exits, SIGTERM drains (or, past the
// grace period, cancels) and exits 0. The token never shows in anything the process prints.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "support/process.h"
#include "support/worker_fixture.h"

namespace renderer::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> base_env() {
    std::vector<std::string> env{"PATH=/usr/bin:/bin", "LC_ALL=C"};
    for (auto& kv : sanitizer_env()) env.push_back(std::move(kv));
    return env;
}

std::vector<std::string> worker_env(const WorkerEnv& w) {
    auto env = base_env();
    for (const auto& kv : {"API_BASE_URL=" + w.base_url(), "API_AUTH_TOKEN=" + w.token(),
                           "CONTENT_DIR=" + w.content.string(), "OUTPUT_DIR=" + w.output.string(),
                           "TMP_DIR=" + w.tmp.string(), std::string("MIN_FREE_BYTES=1M"),
                           std::string("POLL_INTERVAL_MS=100"), std::string("X264_THREADS=1"),
                           std::string("DECODE_THREADS=1")}) {
        env.push_back(kv);
    }
    return env;
}

// Settings that make one render take seconds, so a signal lands mid-render.
void add_slow_render(std::vector<std::string>& env) {
    for (const char* kv :
         {"RENDER_SIZE=1920x1080", "X264_PRESET=veryslow", "FPS=10", "RENDER_CACHE=0"}) {
        env.emplace_back(kv);
    }
}

TEST(WorkerCliTest, MissingUrlOrTokenIsAConfigErrorWithoutLeakingTheToken) {
    TempDir dir;
    const std::string secret = "cli-secret-token-7d1c";
    {
        auto env = base_env();
        env.push_back("API_AUTH_TOKEN=" + secret);
        Child c({renderer_bin(), "--json-logs", "worker"}, env, dir / "out1");
        EXPECT_EQ(c.wait(30s), 78);
        EXPECT_NE(c.output().find("API_BASE_URL is required"), std::string::npos) << c.output();
        EXPECT_EQ(c.output().find(secret), std::string::npos);
    }
    {
        auto env = base_env();
        env.push_back("API_BASE_URL=http://127.0.0.1:9");
        // No subcommand: the default runner is the worker too.
        Child c({renderer_bin(), "--json-logs"}, env, dir / "out2");
        EXPECT_EQ(c.wait(30s), 78);
        EXPECT_NE(c.output().find("API_AUTH_TOKEN"), std::string::npos) << c.output();
    }
    {
        auto env = base_env();
        env.push_back("API_BASE_URL=http://127.0.0.1:9");
        env.push_back("API_AUTH_TOKEN=" + secret);
        env.push_back("API_AUTH_TOKEN_FILE=/run/secrets/token");
        Child c({renderer_bin(), "worker"}, env, dir / "out3");
        EXPECT_EQ(c.wait(30s), 78);
        EXPECT_EQ(c.output().find(secret), std::string::npos) << c.output();
    }
}

TEST(WorkerCliTest, HelpNamesEveryEnvVarAndDefault) {
    TempDir dir;
    Child c({renderer_bin(), "worker", "--help"}, base_env(), dir / "out");
    EXPECT_EQ(c.wait(30s), 0);
    const auto help = c.output();
    for (const char* s : {"API_BASE_URL", "API_AUTH_TOKEN_FILE", "POLL_INTERVAL_MS", "default 5000",
                          "MAX_CONCURRENT", "LEASE_SECONDS", "SHUTDOWN_GRACE_SEC", "MIN_FREE_BYTES",
                          "--exit-when-idle"}) {
        EXPECT_NE(help.find(s), std::string::npos) << s;
    }
}

TEST(WorkerCliTest, ExitWhenIdleRendersTheQueueAndExits) {
    WorkerEnv w;
    w.add_story("demo", "part1", "part1");
    w.add_story("demo", "part2", "part2");
    w.add_job("demo", "part1");
    w.add_job("demo", "part2");
    // Flags override env: the base URL comes from the flag, the env one is unusable.
    auto env = worker_env(w);
    env.push_back("MAX_CONCURRENT=1");
    for (auto& kv : env) {
        if (kv.rfind("API_BASE_URL=", 0) == 0) kv = "API_BASE_URL=http://127.0.0.1:9";
    }
    Child c({renderer_bin(), "--json-logs", "worker", "--exit-when-idle", "--api-base-url",
             w.base_url(), "--max-concurrent", "2"},
            env, w.dir / "out");
    ASSERT_EQ(c.wait(120s), 0) << c.output();
    EXPECT_EQ(w.history("demo-part1").back(), "rendered");
    EXPECT_EQ(w.history("demo-part2").back(), "rendered");
    const auto out = c.output();
    EXPECT_NE(out.find(R"("event":"start")"), std::string::npos);
    EXPECT_NE(out.find(R"("max_concurrent":2)"), std::string::npos);
    EXPECT_NE(out.find(R"("event":"shutdown")"), std::string::npos);
    EXPECT_EQ(out.find(w.token()), std::string::npos);
}

TEST(WorkerCliTest, SigtermLetsTheRunningJobFinishThenExitsZero) {
    WorkerEnv w;
    const auto id = w.add_slow_job(5);
    auto env = worker_env(w);
    add_slow_render(env);
    env.emplace_back("SHUTDOWN_GRACE_SEC=120");
    Child c({renderer_bin(), "--json-logs", "worker"}, env, w.dir / "out");
    ASSERT_TRUE(c.wait_for_output(R"("event":"claim")", 60s)) << c.output();
    c.signal(SIGTERM);
    ASSERT_EQ(c.wait(150s), 0) << c.output();
    const auto out = c.output();
    EXPECT_NE(out.find(R"("event":"shutdown")"), std::string::npos);
    EXPECT_NE(out.find(R"("event":"done")"), std::string::npos) << "the running job was drained";
    EXPECT_EQ(w.history(id).back(), "rendered");
    EXPECT_EQ(w.job(id)->claims, 1);
    EXPECT_EQ(out.find(w.token()), std::string::npos);
}

TEST(WorkerCliTest, SigtermPastTheGracePeriodCancelsAndLetsTheLeaseLapse) {
    WorkerEnv w;
    const auto id = w.add_slow_job(5);
    auto env = worker_env(w);
    add_slow_render(env);
    env.emplace_back("SHUTDOWN_GRACE_SEC=0");
    Child c({renderer_bin(), "--json-logs", "worker"}, env, w.dir / "out");
    ASSERT_TRUE(c.wait_for_output(R"("event":"preflight")", 60s)) << c.output();
    c.signal(SIGTERM);
    ASSERT_EQ(c.wait(60s), 0) << c.output();
    const auto out = c.output();
    EXPECT_NE(out.find(R"("event":"shutdown")"), std::string::npos);
    EXPECT_NE(out.find(R"("event":"cancelled")"), std::string::npos) << out;
    EXPECT_EQ(out.find(R"("event":"done")"), std::string::npos);
    // No final status: the job stays leased until the lease lapses and the API requeues it.
    EXPECT_EQ(w.history(id).back(), "rendering");
    EXPECT_TRUE(w.outputs().empty());
    EXPECT_TRUE(dir_entries(w.tmp).empty());
    EXPECT_EQ(out.find(w.token()), std::string::npos);
}

}  // namespace
}  // namespace renderer::testing

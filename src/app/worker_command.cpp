// `renderer worker` (and `renderer` with no subcommand): the service. Env configuration with
// flag overrides, SIGTERM/SIGINT turned into a graceful drain, the worker run to its end.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "app/commands.h"
#include "common/env.h"
#include "common/error.h"
#include "common/log.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace renderer::app {
namespace {

struct WorkerFlags {
    std::optional<std::string> api_base_url, api_token_file, api_ca_bundle, worker_name;
    std::optional<std::int64_t> poll_interval_ms;
    std::optional<int> max_concurrent, lease_seconds, heartbeat_interval_sec, job_timeout_sec,
        max_retries, shutdown_grace_sec, http_timeout_sec;
    std::optional<std::string> min_free_bytes, music_select, output_name_template, metrics_addr;
    std::optional<std::string> content_dir, music_dir, output_dir, tmp_dir;
    bool exit_when_idle = false;
};

worker::WorkerConfig build_config(const WorkerFlags& f, const GlobalOptions& global) {
    auto c = worker::WorkerConfig::from_env();
    if (f.api_base_url) c.api_base_url = *f.api_base_url;
    if (f.api_token_file) {
        // The flag wins over an API_AUTH_TOKEN from the environment.
        c.api_token.clear();
        c.api_token_file = parse_abs_path("--api-token-file", *f.api_token_file);
    }
    if (f.api_ca_bundle) c.api_ca_bundle = parse_abs_path("--api-ca-bundle", *f.api_ca_bundle);
    if (f.worker_name) c.worker_name = *f.worker_name;
    if (f.poll_interval_ms) c.poll_interval_ms = *f.poll_interval_ms;
    if (f.max_concurrent) c.max_concurrent = *f.max_concurrent;
    if (f.lease_seconds) c.lease_seconds = *f.lease_seconds;
    if (f.heartbeat_interval_sec)
        c.heartbeat_interval_ms = std::int64_t{*f.heartbeat_interval_sec} * 1000;
    if (f.job_timeout_sec) c.job_timeout_sec = *f.job_timeout_sec;
    if (f.max_retries) c.max_retries = *f.max_retries;
    if (f.shutdown_grace_sec) c.shutdown_grace_sec = *f.shutdown_grace_sec;
    if (f.http_timeout_sec) c.http_timeout_sec = *f.http_timeout_sec;
    if (f.min_free_bytes) c.min_free_bytes = parse_bytes("--min-free-bytes", *f.min_free_bytes);
    if (f.music_select) c.music_select = *f.music_select;
    if (f.output_name_template) c.output_name_template = *f.output_name_template;
    if (f.metrics_addr) c.metrics_addr = *f.metrics_addr;
    if (f.content_dir) {
        c.paths.content_dir = parse_abs_path("--content-dir", *f.content_dir);
        // As with the env vars, the music dir follows the content dir unless named itself.
        if (!f.music_dir && !env_get("MUSIC_DIR"))
            c.paths.music_dir = c.paths.content_dir / "audio" / "music";
    }
    if (f.music_dir) c.paths.music_dir = parse_abs_path("--music-dir", *f.music_dir);
    if (f.output_dir) c.paths.output_dir = parse_abs_path("--output-dir", *f.output_dir);
    if (f.tmp_dir) c.paths.tmp_dir = parse_abs_path("--tmp-dir", *f.tmp_dir);
    if (f.exit_when_idle) c.exit_when_idle_polls = 1;
    c.debug = global.debug;
    c.finalize();
    return c;
}

// Turns SIGTERM/SIGINT into stop requests. The signals are blocked in every thread and taken
// by sigtimedwait on a thread of our own, so no work happens in a signal handler.
class StopSignals {
  public:
    explicit StopSignals(worker::Worker& w) : worker_(w) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set_, &previous_);
        thread_ = std::thread([this] { wait_loop(); });
    }
    ~StopSignals() {
        done_ = true;
        thread_.join();
        pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

  private:
    void wait_loop() {
        int received = 0;
        const timespec tick{.tv_sec = 0, .tv_nsec = 200'000'000};
        while (!done_) {
            siginfo_t info{};
            const int sig = sigtimedwait(&set_, &info, &tick);
            if (sig < 0) continue;
            const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
            if (++received == 1) {
                log::info("signal",
                          {{"signal", name}, {"action", "stop claiming; draining running jobs"}});
                worker_.request_stop();
            } else {
                log::warn("signal", {{"signal", name}, {"action", "cancelling running jobs now"}});
                worker_.request_stop_now();
            }
        }
    }

    worker::Worker& worker_;
    sigset_t set_{};
    sigset_t previous_{};
    std::atomic<bool> done_{false};
    std::thread thread_;
};

int run_worker(const WorkerFlags& flags, const GlobalOptions& global) {
    // Signals are blocked before any thread exists, so every thread inherits the mask.
    worker::Worker w(build_config(flags, global));
    StopSignals signals(w);
    return w.run();
}

}  // namespace

void add_worker_command(CLI::App& app, const GlobalOptions& global, Runner& runner,
                        Runner& default_runner) {
    auto* cmd = app.add_subcommand(
        "worker", "Run the render worker: poll the job API, claim, render, report");
    cmd->footer(
        "Every setting comes from an env var (in brackets); a flag overrides it. Required: "
        "API_BASE_URL\n"
        "and one of API_AUTH_TOKEN / API_AUTH_TOKEN_FILE (the token never appears in logs). "
        "Render\n"
        "settings come from FPS, VIDEO_CODEC, X264_PRESET, X264_CRF, AUDIO_BITRATE, ... as for "
        "`renderer "
        "render`.\n\n"
        "Examples:\n"
        "  API_BASE_URL=http://api:8080 API_AUTH_TOKEN_FILE=/run/secrets/api_token renderer "
        "--json-logs\n"
        "  renderer worker --api-base-url http://127.0.0.1:8080 --api-token-file ./token "
        "--exit-when-idle\n\n"
        "SIGTERM/SIGINT: stop claiming, let running jobs finish within SHUTDOWN_GRACE_SEC, then "
        "cancel\n"
        "them (their leases lapse and the API requeues them); exit 0. A second signal cancels at "
        "once.");
    auto f = std::make_shared<WorkerFlags>();
    cmd->add_option("--api-base-url", f->api_base_url,
                    "Job API base URL, http(s)://host[:port] [API_BASE_URL, required]");
    cmd->add_option("--api-token-file", f->api_token_file,
                    "File holding the bearer token [API_AUTH_TOKEN_FILE; or the token itself in "
                    "API_AUTH_TOKEN]. "
                    "There is no token flag: argv is visible to every user of the host");
    cmd->add_option("--api-ca-bundle", f->api_ca_bundle,
                    "PEM CA bundle for an https API [API_CA_BUNDLE, default system CAs]");
    cmd->add_option("--poll-interval-ms", f->poll_interval_ms,
                    "Poll the API every N ms, ±20% jitter [POLL_INTERVAL_MS, default 5000]");
    cmd->add_option("--max-concurrent", f->max_concurrent,
                    "Jobs rendered at once [MAX_CONCURRENT, default 2]");
    cmd->add_option("--lease-seconds", f->lease_seconds,
                    "Lease length when the API does not state one [LEASE_SECONDS, default 120]");
    cmd->add_option(
        "--heartbeat-interval-sec", f->heartbeat_interval_sec,
        "Extend the lease every N s [HEARTBEAT_INTERVAL_SEC, default a third of the lease]");
    cmd->add_option("--job-timeout-sec", f->job_timeout_sec,
                    "Cancel a job after N s and report errored with timeout=true [JOB_TIMEOUT_SEC, "
                    "default 1800]");
    cmd->add_option("--max-retries", f->max_retries,
                    "Retries of a transient (I/O) render failure under the same lease "
                    "[MAX_RETRIES, default 2]");
    cmd->add_option("--shutdown-grace-sec", f->shutdown_grace_sec,
                    "On SIGTERM, time running jobs get to finish [SHUTDOWN_GRACE_SEC, default 30]");
    cmd->add_option("--min-free-bytes", f->min_free_bytes,
                    "Claim nothing while OUTPUT_DIR or TMP_DIR has less free space, e.g. 2G "
                    "[MIN_FREE_BYTES, default 2G]");
    cmd->add_option("--http-timeout-sec", f->http_timeout_sec,
                    "Timeout of one API request [HTTP_TIMEOUT_SEC, default 30]");
    cmd->add_option("--worker-name", f->worker_name,
                    "Name sent with claims [WORKER_NAME, default the host name]");
    cmd->add_option(
        "--music-select", f->music_select,
        "first | hash | named:FILE.mp3; a job's music_track wins [MUSIC_SELECT, default first]");
    cmd->add_option("--output-name", f->output_name_template,
                    "File name template: {story_id} {part_id} {ts} [OUTPUT_NAME_TEMPLATE, default "
                    "{story_id}_{part_id}.mp4]");
    cmd->add_option(
        "--content-dir", f->content_dir,
        "Frames live under DIR/stories/<story>/<part>/frames [CONTENT_DIR, default /content]");
    cmd->add_option("--music-dir", f->music_dir,
                    "Background tracks (*.mp3) [MUSIC_DIR, default $CONTENT_DIR/audio/music]");
    cmd->add_option("--output-dir", f->output_dir,
                    "Where MP4s are published atomically [OUTPUT_DIR, default /output]");
    cmd->add_option("--tmp-dir", f->tmp_dir, "Per-job work dirs [TMP_DIR, default /tmp/renderer]");
    cmd->add_option("--metrics-addr", f->metrics_addr,
                    "Serve /livez, /readyz and /metrics on host:port, e.g. 0.0.0.0:9090 "
                    "[METRICS_ADDR, default off]");
    cmd->add_flag(
        "--exit-when-idle", f->exit_when_idle,
        "Exit 0 after a poll finds the queue empty and no job running (demos, batch runs); "
        "with METRICS_ADDR set, first serve /metrics until one scrape has read the final "
        "counts, for at most FINAL_SCRAPE_WAIT_SEC (default 0: exit at once)");
    cmd->callback(
        [&runner, &global, f] { runner = [&global, f] { return run_worker(*f, global); }; });
    default_runner = [&global] { return run_worker(WorkerFlags{}, global); };
}

}  // namespace renderer::app

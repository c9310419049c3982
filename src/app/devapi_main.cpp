// renderer-devapi: the reference job API for development, demos and tests (never production).
// CLI wiring only; the server lives in src/devapi.
#include <cctype>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/cli_parse.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/log.h"
#include "devapi/api_server.h"
#include "devapi/bucket_seeder.h"
#include "devapi/story_scanner.h"
#include "renderer_version.h"
#include "storage/remote_url.h"
#include "storage/s3_client.h"
#include "storage/storage_config.h"

namespace {

using namespace renderer;

const char* kDescription =
    "renderer-devapi: the reference job API (a development server, never production).\n"
    "Serves /api/render-jobs with real leases over HTTP so the worker can be run and tested\n"
    "end to end; faults can be injected. Every /api/ call needs `Authorization: Bearer "
    "<token>`.\n\n"
    "Examples:\n"
    "  API_AUTH_TOKEN=dev renderer-devapi --seed-stories ./content/stories\n"
    "  renderer-devapi --token-file tok --port 0 --port-file port --fail-rate 0.2 --seed 7\n"
    "  AWS_ENDPOINT_URL=http://127.0.0.1:4568 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\\n"
    "    renderer-devapi --seed-stories ./content/stories --seed-bucket s3://stories/demo \\\n"
    "    --seed-music ./content/audio/music/track.mp3\n";

struct Settings {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string token;
    std::string token_file;
    std::string seed_stories;
    std::string seed_bucket;
    std::string seed_music;
    int lease_seconds = 120;
    double fail_rate = 0.0;
    int latency_ms = 0;
    int threads = 0;
    int heartbeat_refuse_after = 0;
    int max_attempts = 5;
    int clock_offset_sec = 0;
    bool no_lease_seconds = false;
    std::uint64_t seed = 1;
    bool exit_when_done = false;
    std::string port_file;
    bool json_logs = false;
    std::string log_level = "info";
};

std::string trim_trailing_space(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

// --token (or API_AUTH_TOKEN) wins over --token-file (or API_AUTH_TOKEN_FILE).
std::string resolve_token(const Settings& s) {
    if (!s.token.empty()) return s.token;
    if (s.token_file.empty()) {
        throw Error(ErrorClass::ConfigError,
                    "no API token: pass --token or --token-file, or set API_AUTH_TOKEN or "
                    "API_AUTH_TOKEN_FILE");
    }
    std::ifstream in(s.token_file, std::ios::binary);
    if (!in) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("cannot read the token file {}", s.token_file));
    }
    auto token = trim_trailing_space({std::istreambuf_iterator<char>(in), {}});
    if (token.empty()) {
        throw Error(ErrorClass::ConfigError, fmt::format("token file {} is empty", s.token_file));
    }
    return token;
}

void write_port_file(const std::string& path, int port) {
    AtomicFile file(path);
    {
        std::ofstream out(file.temp_path(), std::ios::trunc);
        out << port << '\n';
        if (!out.flush()) {
            throw Error(ErrorClass::IoError, fmt::format("cannot write port file {}", path));
        }
    }
    file.commit();
}

// Serves until SIGINT/SIGTERM or, with --exit-when-done, until every job is final. The signals
// are blocked in every thread and taken here synchronously, so no handler runs mid-request.
int serve(const Settings& s, const sigset_t& signals) {
    devapi::ApiServer::Options opts;
    opts.token = resolve_token(s);
    // Every log line is redacted of the token, so a very short one also mangles the logs.
    if (opts.token.size() < 8) log::warn("weak_token", {{"min_length", 8}});
    log::add_secret(opts.token);
    opts.host = s.host;
    opts.port = s.port;
    opts.lease_seconds = s.lease_seconds;
    opts.fail_rate = s.fail_rate;
    opts.seed = s.seed;
    opts.latency_ms = s.latency_ms;
    opts.threads = s.threads;
    opts.heartbeat_refuse_after = s.heartbeat_refuse_after;
    opts.max_attempts = s.max_attempts;
    opts.clock_offset = std::chrono::seconds(s.clock_offset_sec);
    opts.omit_lease_seconds = s.no_lease_seconds;

    devapi::ApiServer server(opts);
    if (!s.seed_stories.empty()) {
        auto specs = devapi::scan_stories(s.seed_stories, s.lease_seconds);
        if (!s.seed_bucket.empty()) {
            const auto root = storage::parse_s3_url(s.seed_bucket);
            if (!root) {
                throw Error(
                    ErrorClass::ConfigError,
                    fmt::format("--seed-bucket '{}' is not s3://BUCKET[/PREFIX]", s.seed_bucket));
            }
            const storage::S3Client client(storage::storage_config_from_env());
            devapi::seed_bucket(client,
                                {.root = *root,
                                 .stories_dir = s.seed_stories,
                                 .music = s.seed_music.empty()
                                              ? std::nullopt
                                              : std::optional<std::filesystem::path>(s.seed_music)},
                                specs);
        }
        for (auto& spec : specs) {
            const auto id = spec.id;
            if (const auto outcome = server.store().add(std::move(spec)); !outcome.ok()) {
                log::warn("seed_skipped", {{"job_id", id}, {"reason", outcome.message}});
            }
        }
        log::info("seeded", {{"dir", s.seed_stories}, {"jobs", server.store().stats().total}});
    }
    const int port = server.start();
    if (!s.port_file.empty()) write_port_file(s.port_file, port);
    log::info("start", {{"host", s.host},
                        {"port", port},
                        {"lease_seconds", s.lease_seconds},
                        {"fail_rate", s.fail_rate},
                        {"latency_ms", s.latency_ms},
                        {"heartbeat_refuse_after", s.heartbeat_refuse_after},
                        {"max_attempts", s.max_attempts},
                        {"clock_offset_sec", s.clock_offset_sec},
                        {"no_lease_seconds", s.no_lease_seconds},
                        {"exit_when_done", s.exit_when_done}});

    const timespec tick{.tv_sec = 0, .tv_nsec = 200'000'000};
    for (;;) {
        siginfo_t info{};
        const int sig = sigtimedwait(&signals, &info, &tick);
        if (sig > 0) {
            log::info("shutdown", {{"signal", std::string(sig == SIGINT ? "SIGINT" : "SIGTERM")}});
            break;
        }
        if (s.exit_when_done && server.store().all_final()) {
            log::info("shutdown", {{"reason", "all jobs final"}});
            break;
        }
    }
    server.stop();
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{kDescription, "renderer-devapi"};
    app.set_version_flag("--version", std::string("renderer-devapi ") + RENDERER_VERSION);
    app.footer("Exit codes: 0 ok, 1 runtime failure, 64 usage error, 78 configuration error.");

    Settings s;
    app.add_option("--host", s.host, "Address to listen on")->capture_default_str();
    app.add_option("--port", s.port, "Port to listen on; 0 picks a free one (logged)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    app.add_option("--token", s.token, "Bearer token clients must send")->envname("API_AUTH_TOKEN");
    app.add_option("--token-file", s.token_file, "File holding the bearer token")
        ->envname("API_AUTH_TOKEN_FILE");
    app.add_option("--seed-stories", s.seed_stories,
                   "Queue one job per <story>/<part> directory holding PNGs");
    auto* bucket =
        app.add_option("--seed-bucket", s.seed_bucket,
                       "s3://BUCKET[/PREFIX]: upload the seeded frames there and give the jobs "
                       "frames_url, output_url (and music_url) in it; credentials and endpoint "
                       "from the AWS_* variables, as the worker reads them")
            ->needs("--seed-stories");
    app.add_option("--seed-music", s.seed_music,
                   "With --seed-bucket: a track uploaded too, every job's music_url")
        ->needs(bucket)
        ->check(CLI::ExistingFile);
    app.add_option("--lease-seconds", s.lease_seconds, "Default lease length")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    app.add_option("--fail-rate", s.fail_rate, "Fraction of API calls answered 503 (0..1)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--threads", s.threads,
                   "Request threads (0: cpp-httplib's default); each keep-alive client holds one")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    app.add_option("--latency-ms", s.latency_ms, "Delay added before every API answer")
        ->capture_default_str()
        ->check(CLI::Range(0, 60000));
    app.add_option("--heartbeat-refuse-after", s.heartbeat_refuse_after,
                   "Answer 410 after N heartbeats on one lease (0 = never)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--max-attempts", s.max_attempts,
                   "A job whose lease lapsed N times without a result ends errored "
                   "(AttemptsExhausted) instead of being requeued (0 = never)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000000));
    app.add_option("--clock-offset-sec", s.clock_offset_sec,
                   "Run the API's clock this far ahead (negative: behind) of the host's, in every "
                   "stated expiry and the Date header: clock skew for workers to survive")
        ->capture_default_str()
        ->check(CLI::Range(-86400, 86400));
    app.add_flag("--no-lease-seconds", s.no_lease_seconds,
                 "State leases by their expiry only (no lease_seconds), as some APIs do");
    app.add_option("--seed", s.seed, "Seed of the fault-injection PRNG")->capture_default_str();
    app.add_flag("--exit-when-done", s.exit_when_done,
                 "Exit 0 once at least one job exists and all are rendered or errored");
    app.add_option("--port-file", s.port_file, "Write the bound port here once listening");
    app.add_flag("--json-logs", s.json_logs, "One JSON object per log line on stdout");
    app.add_option("--log-level", s.log_level, "debug|info|warn|error")
        ->capture_default_str()
        ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error"}));

    if (const auto rc = app::parse_command_line(app, argc, argv)) return *rc;

    log::Options lo;
    lo.json = s.json_logs;
    log::parse_level(s.log_level, lo.level);
    log::init(lo);

    // Blocked before any thread starts, so every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        return serve(s, signals);
    } catch (const Error& e) {
        log::error("error", {{"error_class", std::string(to_string(e.error_class()))},
                             {"error_message", e.what()}});
        return e.error_class() == ErrorClass::ConfigError ? kExitConfig : kExitFailure;
    } catch (const std::exception& e) {
        log::error("error", {{"error_class", "InternalError"}, {"error_message", e.what()}});
        return kExitFailure;
    }
}

#include "worker/worker_config.h"

#include <unistd.h>

#include <climits>
#include <fstream>

#include <fmt/format.h>

#include "common/env.h"
#include "common/error.h"
#include "common/log.h"
#include "worker/metrics_server.h"
#include "worker/render_config.h"
#include "worker/url.h"

namespace renderer::worker {
namespace {

[[noreturn]] void config_error(std::string message) {
    throw Error(ErrorClass::ConfigError, std::move(message));
}

// Shorter tokens cannot be kept out of the logs: redaction replaces every occurrence in every
// line, and a token of a few characters occurs everywhere ('"' or 'e' turned every JSON line into
// marker soup). Refused before it is registered, so nothing is garbled on the way out either.
constexpr std::size_t kMinTokenChars = 16;

// API_BASE_URL's password (else user name) is redacted from every line, in case it is ever
// logged; the URL is never logged as given and its credentials are never sent. One shorter than
// a token may be (a password "p") would garble every line instead, so it is left alone.
void register_url_secret(std::string_view url) {
    if (auto secret = url_userinfo_secret(url); secret && secret->size() >= kMinTokenChars)
        log::add_secret(*secret);
}

void check_token_length(const std::string& token, std::string_view source) {
    if (token.empty() || token.size() >= kMinTokenChars) return;
    config_error(fmt::format(
        "{} holds a token of {} characters; the job API's bearer token must have at least {} "
        "(a short one is easy to guess, and cannot be redacted without garbling every log line): "
        "issue a longer one",
        source, token.size(), kMinTokenChars));
}

std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "renderer";
    return buf;
}

std::string read_token_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        config_error(
            fmt::format("API_AUTH_TOKEN_FILE '{}' cannot be read: check the path and that the "
                        "worker's user may read it",
                        path.string()));
    }
    // Bounded: a token is a few dozen bytes, and a path such as /dev/zero must not make the
    // worker read forever at start.
    constexpr std::size_t kMaxTokenFileBytes = 64 * 1024;
    std::string token(kMaxTokenFileBytes + 1, '\0');
    in.read(token.data(), static_cast<std::streamsize>(token.size()));
    token.resize(static_cast<std::size_t>(in.gcount()));
    if (token.size() > kMaxTokenFileBytes) {
        config_error(
            fmt::format("API_AUTH_TOKEN_FILE '{}' is larger than {} KiB: it must hold "
                        "only the job API's bearer token",
                        path.string(), kMaxTokenFileBytes / 1024));
    }
    // Files written by editors and secret stores usually end with a newline.
    while (!token.empty() &&
           (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
        token.pop_back();
    }
    return token;
}

}  // namespace

WorkerConfig WorkerConfig::from_env() {
    WorkerConfig c;
    c.api_base_url = env_string("API_BASE_URL", "");
    register_url_secret(c.api_base_url);
    if (auto token = env_get("API_AUTH_TOKEN")) {
        check_token_length(*token, "API_AUTH_TOKEN");
        log::add_secret(*token);
        c.api_token = std::move(*token);
    }
    if (auto file = env_get("API_AUTH_TOKEN_FILE")) {
        if (!c.api_token.empty()) {
            config_error(
                "set only one of API_AUTH_TOKEN and API_AUTH_TOKEN_FILE (the file is safer: it "
                "keeps the token out of the environment)");
        }
        c.api_token_file = parse_abs_path("API_AUTH_TOKEN_FILE", *file);
    }
    if (auto v = env_get("API_CA_BUNDLE")) c.api_ca_bundle = parse_abs_path("API_CA_BUNDLE", *v);
    c.poll_interval_ms = env_int("POLL_INTERVAL_MS", c.poll_interval_ms, 50, 3'600'000);
    c.max_concurrent = static_cast<int>(env_int("MAX_CONCURRENT", c.max_concurrent, 1, 64));
    c.lease_seconds = static_cast<int>(env_int("LEASE_SECONDS", c.lease_seconds, 1, 86'400));
    if (auto v = env_get("HEARTBEAT_INTERVAL_SEC")) {
        c.heartbeat_interval_ms = parse_int("HEARTBEAT_INTERVAL_SEC", *v, 1, 86'400) * 1000;
    }
    c.job_timeout_sec =
        static_cast<int>(env_int("JOB_TIMEOUT_SEC", c.job_timeout_sec, 1, 7 * 86'400));
    c.max_retries = static_cast<int>(env_int("MAX_RETRIES", c.max_retries, 0, 10));
    c.shutdown_grace_sec =
        static_cast<int>(env_int("SHUTDOWN_GRACE_SEC", c.shutdown_grace_sec, 0, 3600));
    if (auto v = env_get("MIN_FREE_BYTES")) c.min_free_bytes = parse_bytes("MIN_FREE_BYTES", *v);
    c.http_timeout_sec = static_cast<int>(env_int("HTTP_TIMEOUT_SEC", c.http_timeout_sec, 1, 600));
    c.worker_name = env_string("WORKER_NAME", host_name());
    c.music_select = env_string("MUSIC_SELECT", c.music_select);
    c.output_name_template = env_string("OUTPUT_NAME_TEMPLATE", c.output_name_template);
    c.metrics_addr = env_string("METRICS_ADDR", "");
    c.final_scrape_wait_sec =
        static_cast<int>(env_int("FINAL_SCRAPE_WAIT_SEC", c.final_scrape_wait_sec, 0, 600));
    c.paths = ServicePaths::from_env();
    c.render = render_settings_from_env();
    return c;
}

void WorkerConfig::finalize() {
    if (api_base_url.empty()) {
        config_error(
            "API_BASE_URL is required: set it to the job API's base URL, e.g. http://api:8080");
    }
    register_url_secret(api_base_url);
    if (!strip_url_credentials(api_base_url)) {
        // Not echoed: a malformed value may still hold credentials.
        config_error(
            "API_BASE_URL must be an absolute http:// or https:// URL, e.g. http://api:8080");
    }
    if (api_token.empty() && api_token_file) {
        api_token = read_token_file(*api_token_file);
        check_token_length(api_token,
                           fmt::format("API_AUTH_TOKEN_FILE '{}'", api_token_file->string()));
        log::add_secret(api_token);
        if (api_token.empty()) {
            config_error(fmt::format(
                "API_AUTH_TOKEN_FILE '{}' is empty: put the job API's bearer token in it",
                api_token_file->string()));
        }
    }
    if (api_token.empty()) {
        config_error(
            "API_AUTH_TOKEN or API_AUTH_TOKEN_FILE is required: set one to the job API's bearer "
            "token (a file, e.g. a mounted secret, keeps it out of the environment)");
    }
    check_token_length(api_token, "API_AUTH_TOKEN");
    log::add_secret(api_token);
    for (const char c : api_token) {
        if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) {
            config_error(
                "the API token contains spaces or control characters; it must be a single HTTP "
                "header token");
        }
    }
    if (api_ca_bundle) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*api_ca_bundle, ec)) {
            config_error(fmt::format(
                "API_CA_BUNDLE '{}' is not a readable file: point it at a PEM bundle of "
                "the CAs that sign the job API's certificate",
                api_ca_bundle->string()));
        }
    }
    if (poll_interval_ms < 50 || poll_interval_ms > 3'600'000) {
        config_error(
            fmt::format("POLL_INTERVAL_MS must be from 50 to 3600000; got {}", poll_interval_ms));
    }
    if (max_concurrent < 1 || max_concurrent > 64) {
        config_error(fmt::format("MAX_CONCURRENT must be from 1 to 64; got {}", max_concurrent));
    }
    if (lease_seconds < 1 || lease_seconds > 86'400) {
        config_error(fmt::format("LEASE_SECONDS must be from 1 to 86400; got {}", lease_seconds));
    }
    if (heartbeat_interval_ms < 0 || heartbeat_interval_ms >= std::int64_t{lease_seconds} * 1000) {
        config_error(
            fmt::format("HEARTBEAT_INTERVAL_SEC ({} s) must be shorter than LEASE_SECONDS ({} s), "
                        "ideally a third of it, so a missed beat does not lose the lease",
                        heartbeat_interval_ms / 1000.0, lease_seconds));
    }
    if (job_timeout_sec < 1)
        config_error(fmt::format("JOB_TIMEOUT_SEC must be at least 1; got {}", job_timeout_sec));
    if (max_retries < 0 || max_retries > 10) {
        config_error(fmt::format("MAX_RETRIES must be from 0 to 10; got {}", max_retries));
    }
    if (shutdown_grace_sec < 0) {
        config_error(
            fmt::format("SHUTDOWN_GRACE_SEC must not be negative; got {}", shutdown_grace_sec));
    }
    if (http_timeout_sec < 1 || http_timeout_sec > 600) {
        config_error(
            fmt::format("HTTP_TIMEOUT_SEC must be from 1 to 600; got {}", http_timeout_sec));
    }
    if (progress_log_interval_ms < 100) {
        config_error(fmt::format("the progress log interval must be at least 100 ms; got {}",
                                 progress_log_interval_ms));
    }
    if (worker_name.empty()) worker_name = host_name();
    media::validate_music_select(music_select);
    if (output_name_template.empty() || output_name_template.find('/') != std::string::npos ||
        output_name_template.find("{story_id}") == std::string::npos ||
        output_name_template.find("{part_id}") == std::string::npos) {
        config_error(fmt::format(
            "OUTPUT_NAME_TEMPLATE must be a plain file name containing {{story_id}} and "
            "{{part_id}} (optionally {{ts}}), e.g. {{story_id}}_{{part_id}}.mp4; got '{}'",
            output_name_template));
    }
    if (!metrics_addr.empty()) parse_listen_address(metrics_addr);
    for (const auto* p :
         {&paths.content_dir, &paths.music_dir, &paths.output_dir, &paths.tmp_dir}) {
        if (!p->is_absolute()) {
            config_error(
                fmt::format("'{}' must be an absolute path: a worker never depends on its working "
                            "directory",
                            p->string()));
        }
    }
    media::validate(render, env_setting_names);
}

std::string WorkerConfig::api_base() const {
    auto stripped = strip_url_credentials(api_base_url).value_or("");
    while (!stripped.empty() && stripped.back() == '/') stripped.pop_back();
    return stripped;
}

}  // namespace renderer::worker

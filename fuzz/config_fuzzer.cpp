// Configuration from the environment: every parser on the raw bytes, then the whole worker
// configuration read from env vars whose values are the input's NUL-separated fields. The only
// acceptable failure is a ConfigError; values that pass must hold what the parser promises.
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/error.h"
#include "fuzz/fuzz_targets.h"
#include "media/render_settings.h"
#include "worker/lease.h"
#include "worker/metrics_server.h"
#include "worker/url.h"
#include "worker/worker_config.h"

namespace renderer::fuzz {
namespace {

// The variables WorkerConfig::from_env() reads, but for the two that name files to open
// (API_AUTH_TOKEN_FILE, API_CA_BUNDLE: a fuzzer reads no files) and the two that register log
// secrets (API_AUTH_TOKEN, and API_BASE_URL's userinfo: millions of distinct secrets would pile
// up in the redactor). Those get fixed values; URL parsing is fuzzed directly in parsers().
constexpr const char* kVars[] = {
    "POLL_INTERVAL_MS",
    "MAX_CONCURRENT",
    "LEASE_SECONDS",
    "HEARTBEAT_INTERVAL_SEC",
    "JOB_TIMEOUT_SEC",
    "MAX_RETRIES",
    "SHUTDOWN_GRACE_SEC",
    "MIN_FREE_BYTES",
    "HTTP_TIMEOUT_SEC",
    "WORKER_NAME",
    "MUSIC_SELECT",
    "OUTPUT_NAME_TEMPLATE",
    "METRICS_ADDR",
    "CONTENT_DIR",
    "MUSIC_DIR",
    "OUTPUT_DIR",
    "TMP_DIR",
    "FPS",
    "AUDIO_BITRATE",
    "X264_PRESET",
    "X264_CRF",
    "VIDEO_BITRATE",
    "X264_PARAMS",
    "X264_THREADS",
    "DECODE_THREADS",
    "RENDER_SIZE",
    "MAX_FRAME_PIXELS",
    "RENDER_CACHE",
};

template <typename Fn>
void refused_as_config_error(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        require(e.error_class() == ErrorClass::ConfigError, "a parser threw a non-ConfigError");
    }
}

void parsers(std::string_view text) {
    refused_as_config_error([&] {
        const auto v = parse_int("N", text, -1000, 1000);
        require(v >= -1000 && v <= 1000, "parse_int out of range");
    });
    refused_as_config_error([&] {
        const auto v = parse_double("N", text, 0.5, 2.5);
        require(v >= 0.5 && v <= 2.5, "parse_double out of range");
    });
    refused_as_config_error([&] { parse_bytes("MIN_FREE_BYTES", text); });
    refused_as_config_error([&] {
        const auto v = parse_bitrate("AUDIO_BITRATE", text);
        require(v >= 1000 && v <= 1000000000, "parse_bitrate out of range");
    });
    refused_as_config_error([&] {
        require(parse_abs_path("OUTPUT_DIR", text).is_absolute(), "a relative path accepted");
    });
    refused_as_config_error([&] {
        int w = 0, h = 0;
        media::parse_size("RENDER_SIZE", text, w, h);
        require(w % 2 == 0 && h % 2 == 0 && w >= 16 && h >= 16 && w <= 8192 && h <= 8192,
                "parse_size accepted an odd or out-of-range size");
    });
    refused_as_config_error([&] { media::validate_music_select(text); });
    refused_as_config_error([&] { worker::parse_listen_address(text); });
    if (const auto stripped = worker::strip_url_credentials(text)) {
        const auto host_at = stripped->find("//");
        require(host_at != std::string::npos, "a stripped URL has no authority");
        const auto authority =
            stripped->substr(host_at + 2, stripped->find('/', host_at + 2) - (host_at + 2));
        require(authority.find('@') == std::string::npos,
                "userinfo survived strip_url_credentials");
        require(worker::origin_of(*stripped).has_value(), "a stripped URL has no origin");
    }
    worker::url_userinfo_secret(text);
    worker::resolve_url("http://api.example:8080/base/", text);
    worker::url_path(text);
}

void whole_config(std::string_view input) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= input.size() && fields.size() < std::size(kVars); ++i) {
        if (i == input.size() || input[i] == '\0') {
            fields.emplace_back(input.substr(start, i - start));
            start = i + 1;
        }
    }
    ::setenv("API_BASE_URL", "http://127.0.0.1:9", 1);
    ::setenv("API_AUTH_TOKEN", "fuzz-token", 1);
    for (std::size_t i = 0; i < fields.size(); ++i) ::setenv(kVars[i], fields[i].c_str(), 1);
    refused_as_config_error([] {
        auto c = worker::WorkerConfig::from_env();
        c.finalize();
        require(!c.api_token.empty(), "a configuration without a token was accepted");
        require(c.paths.output_dir.is_absolute() && c.paths.tmp_dir.is_absolute(),
                "a relative directory was accepted");
        const auto interval = worker::LeasePolicy(c).nominal_interval().count();
        require(c.poll_interval_ms >= 50 && c.lease_seconds >= 1 && interval > 0 &&
                    interval < std::int64_t{c.lease_seconds} * 1000,
                "an interval out of range was accepted");
    });
    for (const char* name : kVars) ::unsetenv(name);
    ::unsetenv("API_BASE_URL");
    ::unsetenv("API_AUTH_TOKEN");
}

}  // namespace

int config(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Parsers see the first field (env values cannot hold NUL), the whole config all of it.
    parsers(text.substr(0, text.find('\0')));
    whole_config(text);
    return 0;
}

}  // namespace renderer::fuzz

RENDERER_FUZZ_ENTRY(renderer::fuzz::config)

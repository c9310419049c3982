#include "storage/storage_config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/env.h"
#include "common/error.h"
#include "common/log.h"

namespace renderer::storage {
namespace {

[[noreturn]] void config_error(std::string message) {
    throw Error(ErrorClass::ConfigError, std::move(message));
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<std::string> split_hosts(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = std::min(text.find(',', start), text.size());
        auto item = text.substr(start, comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) out.push_back(lower(item));
        start = comma + 1;
    }
    return out;
}

// NAME, or the contents of the file NAME_FILE names (a mounted Secret), trailing newline
// removed; never both.
std::optional<std::string> value_or_file(const std::string& name) {
    auto value = env_get(name.c_str());
    const auto file_var = name + "_FILE";
    const auto file = env_get(file_var.c_str());
    if (!file) return value;
    if (value) config_error(fmt::format("set only one of {} and {}", name, file_var));
    const auto path = parse_abs_path(file_var, *file);
    std::ifstream in(path, std::ios::binary);
    // Bounded: a key is a few dozen bytes, a session token a few KiB; /dev/zero must not hang.
    constexpr std::size_t kMaxBytes = 64 * 1024;
    std::string text(kMaxBytes + 1, '\0');
    if (in) in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (!in && !in.eof()) {
        config_error(
            fmt::format("{} '{}' cannot be read: check the path and that the worker's "
                        "user may read it",
                        file_var, path.string()));
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxBytes)
        config_error(fmt::format("{} '{}' is larger than 64 KiB", file_var, path.string()));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
        text.pop_back();
    if (text.empty()) config_error(fmt::format("{} '{}' is empty", file_var, path.string()));
    return text;
}

// AWS_CA_BUNDLE's path, checked now rather than by every job's first transfer: a readable
// regular file holding at least one PEM certificate (what libcurl's CAINFO takes).
std::filesystem::path checked_ca_bundle(const std::string& text) {
    const auto path = parse_abs_path("AWS_CA_BUNDLE", text);
    std::error_code ec;
    // Regular first: opening a FIFO would block the start.
    std::ifstream in;
    if (std::filesystem::is_regular_file(path, ec)) in.open(path, std::ios::binary);
    if (!in.is_open()) {
        config_error(fmt::format(
            "AWS_CA_BUNDLE '{}' is not a readable file: point it at a PEM bundle of the CAs that "
            "sign the object store's certificate",
            path.string()));
    }
    // In blocks, bounded (the whole Mozilla bundle is about 200 KB); `seen` keeps the end of
    // the last block, so a marker split between two reads is found.
    constexpr std::string_view kMarker = "-----BEGIN CERTIFICATE-----";
    constexpr std::size_t kMaxBytes = 16u << 20;
    std::vector<char> block(64 * 1024);
    std::string seen;
    for (std::size_t total = 0; total < kMaxBytes;) {
        in.read(block.data(), static_cast<std::streamsize>(block.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        total += n;
        seen.append(block.data(), n);
        if (seen.find(kMarker) != std::string::npos) return path;
        seen.erase(0, seen.size() - std::min(seen.size(), kMarker.size() - 1));
    }
    config_error(fmt::format(
        "AWS_CA_BUNDLE '{}' holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" in its "
        "first 16 MiB): give the CA's certificate in PEM form",
        path.string()));
}

}  // namespace

StorageConfig storage_config_from_env() {
    StorageConfig c;
    const auto key_id = value_or_file("AWS_ACCESS_KEY_ID");
    const auto secret = value_or_file("AWS_SECRET_ACCESS_KEY");
    const auto token = value_or_file("AWS_SESSION_TOKEN");
    // Registered before anything can fail, so no later message can quote them.
    if (secret) log::add_secret(*secret);
    if (token) log::add_secret(*token);
    if (key_id.has_value() != secret.has_value()) {
        config_error(
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or neither: then only presigned "
            "https:// URLs can be used)");
    }
    if (token && !key_id) {
        config_error(
            "AWS_SESSION_TOKEN is set without AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    if (key_id) c.credentials = S3Credentials{*key_id, *secret, token.value_or("")};

    if (auto region = env_get("AWS_REGION")) {
        c.region = *region;
    } else if (auto fallback = env_get("AWS_DEFAULT_REGION")) {
        c.region = *fallback;
    }
    const bool region_ok = !c.region.empty() && c.region.size() <= 32 &&
                           std::all_of(c.region.begin(), c.region.end(), [](unsigned char ch) {
                               return std::islower(ch) || std::isdigit(ch) || ch == '-';
                           });
    if (!region_ok) {
        config_error(
            fmt::format("AWS_REGION '{}' is not a region name such as eu-west-1", c.region));
    }

    if (auto endpoint = env_get("AWS_ENDPOINT_URL")) {
        auto e = *endpoint;
        while (!e.empty() && e.back() == '/') e.pop_back();
        const auto scheme_end = e.find("://");
        const auto scheme = scheme_end == std::string::npos ? "" : lower(e.substr(0, scheme_end));
        const bool bare_origin = scheme_end != std::string::npos &&
                                 e.find_first_of("/?#@", scheme_end + 3) == std::string::npos &&
                                 e.size() > scheme_end + 3;
        if ((scheme != "http" && scheme != "https") || !bare_origin) {
            config_error(fmt::format(
                "AWS_ENDPOINT_URL '{}' must be an origin such as https://s3.example.com or "
                "http://127.0.0.1:9000 (no path, query or user info)",
                e));
        }
        c.endpoint = e;
    }
    if (auto bundle = env_get("AWS_CA_BUNDLE")) c.ca_bundle = checked_ca_bundle(*bundle);
    if (auto hosts = env_get("STORAGE_ALLOWED_HOSTS")) c.allowed_hosts = split_hosts(*hosts);
    c.allow_http = env_int("STORAGE_ALLOW_HTTP", 0, 0, 1) == 1;

    auto& l = c.limits;
    l.max_files = static_cast<std::size_t>(env_int("STORAGE_MAX_FILES", 20'000, 1, 10'000'000));
    l.max_list_keys =
        static_cast<std::size_t>(env_int("STORAGE_MAX_LIST_KEYS", 100'000, 1, 100'000'000));
    if (auto bytes = env_get("STORAGE_MAX_BYTES")) {
        l.max_bytes = parse_bytes("STORAGE_MAX_BYTES", *bytes);
    }
    l.parallel = static_cast<int>(env_int("STORAGE_PARALLEL", 8, 1, 64));
    return c;
}

}  // namespace renderer::storage

#include "storage/remote_url.h"

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/utf8.h"
#include "storage/curl_ptr.h"

namespace renderer::storage {
namespace {

constexpr std::string_view kS3Scheme = "s3://";

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool valid_bucket_name(std::string_view b) {
    if (b.size() < 3 || b.size() > 63) return false;
    const auto ok = [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '.' || c == '-';
    };
    if (!std::all_of(b.begin(), b.end(), ok)) return false;
    return std::isalnum(static_cast<unsigned char>(b.front())) &&
           std::isalnum(static_cast<unsigned char>(b.back())) &&
           b.find("..") == std::string_view::npos;
}

struct HttpParts {
    std::string scheme;
    std::string host;
};

std::optional<HttpParts> http_parts(std::string_view text) {
    ensure_curl_global_init();
    CurlUrlPtr url(curl_url());
    if (!url) return std::nullopt;
    const std::string s(text);
    if (curl_url_set(url.get(), CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) return std::nullopt;
    const auto get = [&url](CURLUPart part) -> std::optional<std::string> {
        char* raw = nullptr;
        if (curl_url_get(url.get(), part, &raw, 0) != CURLUE_OK || raw == nullptr)
            return std::nullopt;
        CurlStringPtr owned(raw);
        return lower(owned.get());
    };
    auto scheme = get(CURLUPART_SCHEME);
    auto host = get(CURLUPART_HOST);
    if (!scheme || !host || host->empty()) return std::nullopt;
    if (*scheme != "http" && *scheme != "https") return std::nullopt;
    // Userinfo in a job's URL would be sent as Basic credentials and end up in logs.
    if (get(CURLUPART_USER)) return std::nullopt;
    return HttpParts{*scheme, *host};
}

// An address, not a name: "127.attacker.example" may resolve anywhere.
bool is_loopback(std::string_view host) {
    if (host == "localhost") return true;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        const std::string v6(host.substr(1, host.size() - 2));
        in6_addr a{};
        return ::inet_pton(AF_INET6, v6.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
    }
    const std::string v4(host);
    in_addr a{};
    return ::inet_pton(AF_INET, v4.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool has_dot_segment(std::string_view key) {
    for (std::size_t start = 0;;) {
        const auto end = key.find('/', start);
        const auto segment = key.substr(start, end == std::string_view::npos ? end : end - start);
        if (segment == "." || segment == "..") return true;
        if (end == std::string_view::npos) return false;
        start = end + 1;
    }
}

bool allowed(const StorageConfig& config, const std::string& name) {
    return config.allowed_hosts.empty() ||
           std::find(config.allowed_hosts.begin(), config.allowed_hosts.end(), name) !=
               config.allowed_hosts.end();
}

}  // namespace

bool is_s3_url(std::string_view url) { return lower(url.substr(0, kS3Scheme.size())) == kS3Scheme; }

std::optional<S3Location> parse_s3_url(std::string_view url) {
    if (!is_s3_url(url)) return std::nullopt;
    const auto rest = url.substr(kS3Scheme.size());
    const auto slash = rest.find('/');
    S3Location loc{std::string(rest.substr(0, slash)),
                   slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1))};
    if (!valid_bucket_name(loc.bucket)) return std::nullopt;
    if (loc.key.find('\0') != std::string::npos || loc.key.size() > 1024) return std::nullopt;
    return loc;
}

std::string uri_encode(std::string_view text, bool keep_slash) {
    std::string out;
    out.reserve(text.size());
    for (const unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> params) {
    for (auto& [name, value] : params) {
        name = uri_encode(name, false);
        value = uri_encode(value, false);
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out += '&';
        out += name + '=' + value;
    }
    return out;
}

std::string url_for_log(std::string_view url) {
    if (is_s3_url(url)) return std::string(url);
    const auto cut = url.find_first_of("?#");
    return std::string(url.substr(0, cut));
}

void check_s3_key(std::string_view field, const S3Location& location, bool names_object) {
    const auto shown = fmt::format("s3://{}/{}", location.bucket, location.key);
    if (has_dot_segment(location.key)) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} '{}' has a '.' or '..' path segment, which HTTP clients "
                                "resolve before sending: name the key without them",
                                field, shown));
    }
    if (names_object && (location.key.empty() || location.key.back() == '/')) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} '{}' names no object: give the object's whole key "
                                "(s3://BUCKET/path/name)",
                                field, shown));
    }
}

void check_remote_url(const StorageConfig& config, std::string_view field, std::string_view url) {
    const auto shown = url_for_log(url);
    // The URL reaches error messages, log lines and artifact_path, where a newline forges a
    // line and ESC drives a terminal; S3 keys are UTF-8 anyway.
    if (!is_quotable_utf8(url)) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} '{}' holds control characters or bytes that are not UTF-8 "
                                "(shown as \\xNN; in the query if none is shown): name objects "
                                "with printable UTF-8",
                                field, quotable_utf8(shown, 300)));
    }
    if (is_s3_url(url)) {
        const auto loc = parse_s3_url(url);
        if (!loc) {
            throw Error(ErrorClass::PreflightError,
                        fmt::format("{} '{}' is not s3://BUCKET/KEY with a valid bucket name "
                                    "(3-63 characters of a-z 0-9 . -)",
                                    field, shown));
        }
        if (!allowed(config, loc->bucket)) {
            throw Error(ErrorClass::PreflightError,
                        fmt::format("{} names bucket '{}', which STORAGE_ALLOWED_HOSTS does not "
                                    "list",
                                    field, loc->bucket));
        }
        // frames_url names a prefix, the other fields an object.
        check_s3_key(field, *loc, field != "frames_url");
        if (!config.credentials) {
            throw Error(ErrorClass::ConfigError,
                        fmt::format("{} is an s3:// URL but the worker has no credentials: set "
                                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                                    field));
        }
        return;
    }
    const auto parts = http_parts(url);
    if (!parts) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} '{}' is neither s3://BUCKET/KEY nor an http(s):// URL without "
                                "user info",
                                field, shown));
    }
    if (!allowed(config, parts->host)) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} names host '{}', which STORAGE_ALLOWED_HOSTS does not list",
                                field, parts->host));
    }
    if (parts->scheme == "http" && !config.allow_http && !is_loopback(parts->host)) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("{} '{}' is plain http:// to a host that is not loopback: use "
                                "https:// (or set STORAGE_ALLOW_HTTP=1 on a trusted network)",
                                field, shown));
    }
}

}  // namespace renderer::storage

// URL handling for the job API, on libcurl's URL parser: origins for the same-origin rule
// (the token is never sent to another host) and a credential-free form for logs and errors.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace renderer::worker {

struct Origin {
    std::string scheme;  // lower case: http or https
    std::string host;    // lower case
    long port = 0;       // explicit or the scheme's default

    bool operator==(const Origin&) const = default;
};

// The origin of an absolute http(s) URL; nullopt for anything else.
std::optional<Origin> origin_of(std::string_view url);

// `ref` resolved against the absolute URL `base` (RFC 3986: "/x", "x", "//host/x" and absolute
// URLs all work); nullopt when either cannot be parsed.
std::optional<std::string> resolve_url(std::string_view base, std::string_view ref);

// scheme://host[:port]/path of an http(s) URL: userinfo, query and fragment removed, so the
// result is safe to log and to build request URLs from. nullopt when it is not such a URL.
std::optional<std::string> strip_url_credentials(std::string_view url);

// The password (or lone user) in a URL's userinfo, so the caller can redact it from logs.
std::optional<std::string> url_userinfo_secret(std::string_view url);

// Only the path of a URL (no query): what a log line may show of a request.
std::string url_path(std::string_view url);

}  // namespace renderer::worker

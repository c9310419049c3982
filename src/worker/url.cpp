#include "worker/url.h"

#include <algorithm>
#include <cctype>

#include "worker/curl_ptr.h"

namespace renderer::worker {
namespace {

CurlUrlPtr parse(std::string_view text) {
    ensure_curl_global_init();
    CurlUrlPtr url(curl_url());
    if (!url) return nullptr;
    const std::string s(text);
    if (curl_url_set(url.get(), CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) return nullptr;
    return url;
}

std::optional<std::string> get(CURLU* url, CURLUPart part, unsigned flags = 0) {
    char* raw = nullptr;
    if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) return std::nullopt;
    CurlStringPtr owned(raw);
    return std::string(owned.get());
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool is_http_scheme(const std::string& scheme) { return scheme == "http" || scheme == "https"; }

}  // namespace

std::optional<Origin> origin_of(std::string_view text) {
    auto url = parse(text);
    if (!url) return std::nullopt;
    auto scheme = get(url.get(), CURLUPART_SCHEME);
    auto host = get(url.get(), CURLUPART_HOST);
    auto port = get(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    if (!scheme || !host || !port || host->empty()) return std::nullopt;
    Origin o{lower(*scheme), lower(*host), 0};
    if (!is_http_scheme(o.scheme)) return std::nullopt;
    try {
        o.port = std::stol(*port);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return o;
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view ref) {
    auto url = parse(base);
    if (!url) return std::nullopt;
    const std::string r(ref);
    // With a URL already set, libcurl resolves a relative reference against it.
    if (curl_url_set(url.get(), CURLUPART_URL, r.c_str(), 0) != CURLUE_OK) return std::nullopt;
    return get(url.get(), CURLUPART_URL);
}

std::optional<std::string> strip_url_credentials(std::string_view text) {
    auto url = parse(text);
    if (!url) return std::nullopt;
    const auto scheme = get(url.get(), CURLUPART_SCHEME);
    if (!scheme || !is_http_scheme(lower(*scheme))) return std::nullopt;
    curl_url_set(url.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(url.get(), CURLUPART_PASSWORD, nullptr, 0);
    curl_url_set(url.get(), CURLUPART_OPTIONS, nullptr, 0);
    curl_url_set(url.get(), CURLUPART_QUERY, nullptr, 0);
    curl_url_set(url.get(), CURLUPART_FRAGMENT, nullptr, 0);
    return get(url.get(), CURLUPART_URL);
}

std::optional<std::string> url_userinfo_secret(std::string_view text) {
    auto url = parse(text);
    if (!url) return std::nullopt;
    if (auto password = get(url.get(), CURLUPART_PASSWORD); password && !password->empty()) {
        return password;
    }
    if (auto user = get(url.get(), CURLUPART_USER); user && !user->empty()) return user;
    return std::nullopt;
}

std::string url_path(std::string_view text) {
    if (auto url = parse(text)) {
        if (auto path = get(url.get(), CURLUPART_PATH)) return *path;
    }
    // Not a full URL: keep what precedes any query or fragment.
    return std::string(text.substr(0, text.find_first_of("?#")));
}

}  // namespace renderer::worker

#include "worker/health_check.h"

#include <fmt/format.h>

#include "worker/curl_ptr.h"

namespace renderer::worker {
namespace {

constexpr std::size_t kMaxBody = 4096;

std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* body = static_cast<std::string*>(user);
    const std::size_t n = size * count;
    if (body->size() + n > kMaxBody) return 0;  // a probe answer is one line; refuse more
    body->append(data, n);
    return n;
}

std::string first_line(const std::string& body) {
    const auto end = body.find_first_of("\r\n");
    return body.substr(0, end);
}

}  // namespace

ProbeResult check_health(const std::string& url, std::chrono::milliseconds timeout) {
    ensure_curl_global_init();
    CurlEasyPtr handle(curl_easy_init());
    if (!handle) return {false, "libcurl could not create a handle"};
    CURL* h = handle.get();
    std::string body;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &keep_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&body));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        return {false,
                fmt::format("GET {}: {}", url,
                            error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc))};
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return {status == 200, fmt::format("GET {}: HTTP {}: {}", url, status, first_line(body))};
}

}  // namespace renderer::worker

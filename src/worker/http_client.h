// A small HTTP/1.1 client on libcurl for the job API: bearer auth, TLS verification, bounded
// timeouts and response size, no redirects, and connection reuse through a pool of easy handles
// (one in use per thread at a time, so concurrent jobs never wait on each other's requests).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/curl_ptr.h"
#include "worker/stop_flag.h"

namespace renderer::worker {

struct HttpRequest {
    std::string method = "GET";  // GET or POST
    std::string url;
    std::string body;  // POST only, sent as application/json
    std::chrono::milliseconds timeout{30000};
    // When raised, the request is abandoned in flight (within about a second: libcurl's
    // progress callback), so a shutdown never waits out a slow API.
    const StopFlag* stop = nullptr;
};

struct HttpResponse {
    long status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

    std::optional<std::string> header(std::string_view lower_name) const;
    // The Date header (the server's clock), parsed by libcurl; nullopt when absent or malformed.
    std::optional<std::chrono::system_clock::time_point> date() const;
};

// The request never got an HTTP answer (DNS, connect, TLS, timeout, reset): worth a retry.
class TransportError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class HttpClient {
  public:
    struct Options {
        std::string bearer_token;  // sent as Authorization: Bearer; never logged
        std::optional<std::filesystem::path> ca_bundle;
        std::chrono::milliseconds connect_timeout{10000};
        std::size_t max_response_bytes = 8u << 20;
        std::string user_agent = "renderer-worker";
    };

    explicit HttpClient(Options options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Any HTTP status is returned, 3xx included (redirects are never followed, so the token
    // cannot be carried to another host). Throws TransportError when no answer came,
    // renderer::Error(ApiError) when the answer exceeds max_response_bytes, and
    // renderer::Error(Cancelled) when the request's stop flag was raised in flight.
    HttpResponse perform(const HttpRequest& request);

  private:
    CurlEasyPtr acquire();
    void release(CurlEasyPtr handle);

    Options options_;
    CurlSlistPtr get_headers_;
    CurlSlistPtr post_headers_;
    std::mutex pool_mutex_;
    std::vector<CurlEasyPtr> idle_;
};

}  // namespace renderer::worker

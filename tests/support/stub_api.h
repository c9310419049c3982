// A scripted HTTP server on loopback for the worker's API tests: answers each "METHOD /path"
// from a list (the last answer repeats), with exact status codes, headers, delays and bodies
// of any size that the reference API does not produce on demand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

namespace renderer::testing {

struct Answer {
    int status = 200;
    std::string body = "{}";
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds delay{0};  // slept before answering
    std::size_t stream_bytes = 0;        // when set, the body is this many spaces, streamed
    // When set, the body is a JSON array of the first `limit` of these (the request's `limit`
    // query parameter, as a job list honours it).
    std::vector<std::string> list_items;
};

// In an Answer's body, replaced by the request's Authorization header: a hostile API that
// echoes the bearer token back, as it came (kEchoAuthorization) or escaped for a JSON string.
inline constexpr const char* kEchoAuthorization = "{authorization}";
inline constexpr const char* kEchoAuthorizationJson = "{authorization_json}";

class StubApi {
  public:
    StubApi();
    ~StubApi();
    StubApi(const StubApi&) = delete;
    StubApi& operator=(const StubApi&) = delete;

    void script(const std::string& key, std::vector<Answer> answers);
    int hits(const std::string& key);
    // Requests to `key` whose answer was sent (hits minus those still waiting out a delay or
    // abandoned by the client mid-delay).
    int answered(const std::string& key);
    int total_hits();
    std::vector<std::string> bodies(const std::string& key);
    // The Authorization header of the last request, and of every request in order.
    std::string auth();
    std::vector<std::string> all_auth();
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }

  private:
    void handle(const httplib::Request& req, httplib::Response& res);

    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::map<std::string, std::vector<Answer>> scripts_;
    std::map<std::string, std::vector<std::string>> calls_;
    std::map<std::string, int> answered_;
    std::condition_variable stopping_cv_;
    bool stopping_ = false;  // cuts delays short so the destructor never waits them out
    std::vector<std::string> auth_;
};

}  // namespace renderer::testing

// The reference job API: a development server (never production) that implements the job API
// contract over real HTTP with real leases, plus fault injection for testing workers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "devapi/job_store.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace renderer::devapi {

class ApiServer {
  public:
    struct Options {
        std::string token;  // required bearer token
        std::string host = "127.0.0.1";
        int port = 0;  // 0: any free port
        int lease_seconds = 120;

        // Fault injection. fail_rate is the fraction of eligible requests answered 503 before
        // any state change; the draws come from a PRNG seeded with `seed`, so a run is
        // reproducible for a given request order.
        double fail_rate = 0.0;
        std::uint64_t seed = 1;
        // Request threads (0: cpp-httplib's default, 8 on small machines). A keep-alive
        // connection holds its thread between requests, so many clients need many threads.
        int threads = 0;
        int latency_ms = 0;              // added before handling every authenticated request
        int heartbeat_refuse_after = 0;  // see JobStore::Options
        int max_attempts = 5;            // see JobStore::Options

        // Clock skew: the API's wall clock runs this far from the host's, in every expiry it
        // states and in its HTTP Date header (a worker cannot have its own clock moved in a
        // test, so the skew is put in the answers).
        std::chrono::milliseconds clock_offset{0};
        // Answer claims, heartbeats and listings without lease_seconds: only the expiry.
        bool omit_lease_seconds = false;
        // The clocks leases run on (clock_offset is added to `wall`). Tests pass clocks they move,
        // so a lease lapses when the test says, not when a loaded machine gets round to it.
        JobStore::Clock clock;
    };

    explicit ApiServer(Options options);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // Binds, starts serving on a background thread and returns once requests are accepted.
    // Returns the bound port; throws renderer::Error(ConfigError) when the bind fails.
    int start();
    // Stops serving and joins the threads; safe to call more than once.
    void stop();

    int port() const { return port_; }
    JobStore& store() { return store_; }

  private:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

    // Wraps a handler with latency, bearer auth and (when `faults`) injected 503s.
    void route(const char* method, const char* pattern, bool faults, Handler handler);
    void install_routes();
    bool authorized(const httplib::Request& req) const;
    bool inject_failure();
    void sweep_loop();

    void list_jobs(const httplib::Request& req, httplib::Response& res);
    void create_job(const httplib::Request& req, httplib::Response& res);
    void get_job(const httplib::Request& req, httplib::Response& res);
    void claim_job(const httplib::Request& req, httplib::Response& res);
    void heartbeat_job(const httplib::Request& req, httplib::Response& res);
    void post_status(const httplib::Request& req, httplib::Response& res);
    void get_stats(const httplib::Request& req, httplib::Response& res);

    Options options_;
    JobStore store_;
    std::unique_ptr<httplib::Server> http_;
    int port_ = 0;

    std::mutex fault_mutex_;
    std::uint64_t fault_state_;

    std::thread listen_thread_;
    std::atomic<bool> listen_returned_{false};
    std::thread sweep_thread_;
    std::mutex sweep_mutex_;
    std::condition_variable sweep_cv_;
    bool stopping_ = false;
};

}  // namespace renderer::devapi

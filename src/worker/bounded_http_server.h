// An httplib::Server for endpoints that anyone who can reach the port may call (the worker's
// /livez, /readyz, /metrics bind 0.0.0.0 in the image): one request per connection, read within
// a time budget and a byte budget, a few connections per peer address, and GET only. So slow
// clients (slowloris) cannot hold every thread and time the orchestrator's probes out, and a huge
// body is refused after a few KiB instead of read into memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include <httplib.h>

namespace renderer::worker {

class BoundedHttpServer : public httplib::Server {
  public:
    struct Limits {
        // The whole request (line, headers, any body) must arrive within this, whatever the
        // pace of the bytes: a per-read timeout alone lets a byte every second keep a thread.
        std::chrono::milliseconds read_time{1500};
        std::chrono::milliseconds write_time{2000};
        std::size_t max_request_bytes = 8 * 1024;
        // Threads serving connections, and how many of them one peer address may hold, so one
        // client never starves the probes of another (kubelet, Prometheus, the HEALTHCHECK).
        int threads = 8;
        int per_peer = 3;
    };

    explicit BoundedHttpServer(Limits limits);

  private:
    // httplib calls this (virtually) on a pool thread for each accepted connection.
    bool process_and_close_socket(socket_t sock) override;
    bool enter(const std::string& peer);
    void leave(const std::string& peer);

    const Limits limits_;
    std::mutex peers_mutex_;
    std::map<std::string, int> connections_by_peer_;
};

}  // namespace renderer::worker

// The worker's operations endpoints on METRICS_ADDR, over cpp-httplib: GET /livez (the poll
// loop is alive), GET /readyz (fit to take work) and GET /metrics (Prometheus text). No auth and
// nothing secret in the answers: bind it where only the orchestrator and Prometheus reach it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace httplib {
class Server;
}

namespace renderer::worker {

struct ListenAddress {
    std::string host;  // as given: "0.0.0.0", "127.0.0.1", "::", a name
    int port = 0;      // 0: any free port (tests)
};

// "host:port", "[ipv6]:port" or ":port" (every interface). Throws ConfigError naming `what`.
ListenAddress parse_listen_address(std::string_view text, std::string_view what = "METRICS_ADDR");

// The base URL a client on the same host uses to reach `address`: a wildcard host (0.0.0.0,
// ::, empty) becomes the loopback address of its family.
std::string local_base_url(const ListenAddress& address);

// A probe's verdict; `detail` is the body of the answer (200 when ok, else 503).
struct ProbeResult {
    bool ok = false;
    std::string detail;
};

class MetricsServer {
  public:
    struct Handlers {
        std::function<ProbeResult()> live;
        std::function<ProbeResult()> ready;
        std::function<std::string()> metrics;
    };

    MetricsServer(ListenAddress address, Handlers handlers);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Binds and serves on a background thread; returns the bound port once requests are
    // accepted. Throws ConfigError when the address cannot be bound.
    int start();
    // Stops serving and joins the thread; safe to call more than once.
    void stop();

    int port() const { return port_.load(); }

  private:
    ListenAddress address_;
    Handlers handlers_;
    std::unique_ptr<httplib::Server> http_;
    std::thread thread_;
    std::atomic<int> port_{0};
    std::atomic<bool> listen_returned_{false};
};

}  // namespace renderer::worker

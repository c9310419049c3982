#include "worker/metrics_server.h"

#include <sys/socket.h>

#include <charconv>
#include <chrono>

#include <fmt/format.h>
#include <httplib.h>

#include "common/error.h"
#include "common/log.h"
#include "worker/bounded_http_server.h"
#include "worker/metrics.h"

namespace renderer::worker {
namespace {

[[noreturn]] void bad_address(std::string_view what, std::string_view text, std::string_view why) {
    throw Error(ErrorClass::ConfigError,
                fmt::format("{} '{}' {}: give host:port, e.g. 0.0.0.0:9090, 127.0.0.1:9090 or "
                            "[::]:9090",
                            what, text, why));
}

void answer_probe(httplib::Response& res, const ProbeResult& r) {
    res.status = r.ok ? 200 : 503;
    res.set_content(r.detail + "\n", "text/plain; charset=utf-8");
}

}  // namespace

ListenAddress parse_listen_address(std::string_view text, std::string_view what) {
    ListenAddress a;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            bad_address(what, text, "has an unterminated [IPv6] host or no port");
        a.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) bad_address(what, text, "has no port");
        a.host = std::string(text.substr(0, colon));
        if (a.host.find(':') != std::string::npos)
            bad_address(what, text, "has an IPv6 host without brackets");
        port_text = text.substr(colon + 1);
    }
    if (a.host.empty()) a.host = "0.0.0.0";
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), a.port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
        a.port < 0 || a.port > 65535) {
        bad_address(what, text, "has no valid port (0-65535)");
    }
    return a;
}

std::string local_base_url(const ListenAddress& address) {
    std::string host = address.host;
    if (host.empty() || host == "0.0.0.0") {
        host = "127.0.0.1";
    } else if (host == "::" || host == "[::]") {
        host = "[::1]";
    } else if (host.find(':') != std::string::npos) {
        host = "[" + host + "]";
    }
    return fmt::format("http://{}:{}", host, address.port);
}

MetricsServer::MetricsServer(ListenAddress address, Handlers handlers)
    : address_(std::move(address)),
      handlers_(std::move(handlers)),
      // Bounded: the port is open to whoever can reach it, and must keep answering the
      // orchestrator's probes whatever other clients do.
      http_(std::make_unique<BoundedHttpServer>(BoundedHttpServer::Limits{})) {
    // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port
    // and silently answer half the probes: keep only SO_REUSEADDR (quick restarts).
    http_->set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http_->set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            const std::string what = exception_message(ep);
            log::error("metrics_handler_failed", {{"path", req.path}, {"error", what}});
            res.status = 500;
            res.set_content("internal error\n", "text/plain; charset=utf-8");
        });
    http_->Get("/livez", [this](const httplib::Request&, httplib::Response& res) {
        answer_probe(res, handlers_.live());
    });
    http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
        answer_probe(res, handlers_.ready());
    });
    http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(handlers_.metrics(), kPrometheusTextType);
    });
}

MetricsServer::~MetricsServer() { stop(); }

int MetricsServer::start() {
    const int port = address_.port == 0 ? http_->bind_to_any_port(address_.host)
                     : http_->bind_to_port(address_.host, address_.port) ? address_.port
                                                                         : -1;
    if (port < 0) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("METRICS_ADDR: cannot listen on {}:{} (in use, or not an address "
                                "of this host)",
                                address_.host, address_.port));
    }
    port_ = port;
    listen_returned_ = false;
    thread_ = std::thread([this] {
        http_->listen_after_bind();
        listen_returned_ = true;
    });
    // cpp-httplib 0.11 has no wait_until_ready(); is_running() turns true inside the accept loop.
    while (!http_->is_running() && !listen_returned_)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port;
}

void MetricsServer::stop() {
    if (thread_.joinable()) {
        http_->stop();
        thread_.join();
    }
}

}  // namespace renderer::worker

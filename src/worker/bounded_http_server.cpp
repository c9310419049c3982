#include "worker/bounded_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

namespace renderer::worker {
namespace {

using Clock = std::chrono::steady_clock;

// "ip" and port of a socket address (IPv4 or IPv6).
void describe(const sockaddr_storage& addr, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (addr.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
        ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        port = ntohs(a.sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
        ::inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
        port = ntohs(a.sin6_port);
    }
    ip = text;
}

// The socket as httplib reads and writes a request, with the whole request bounded in time and
// bytes: each read waits only for what is left of the budget, and fails once it is spent.
class BudgetStream final : public httplib::Stream {
  public:
    BudgetStream(socket_t sock, const BoundedHttpServer::Limits& limits)
        : sock_(sock),
          read_deadline_(Clock::now() + limits.read_time),
          write_time_(limits.write_time),
          bytes_left_(limits.max_request_bytes) {}

    bool is_readable() const override { return wait(POLLIN, read_deadline_); }
    bool is_writable() const override { return wait(POLLOUT, Clock::now() + write_time_); }

    ssize_t read(char* ptr, size_t size) override {
        if (bytes_left_ == 0 || !wait(POLLIN, read_deadline_)) return -1;
        const auto n = ::recv(sock_, ptr, std::min(size, bytes_left_), 0);
        if (n > 0) bytes_left_ -= static_cast<std::size_t>(n);
        return n;
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (!is_writable()) return -1;
        return ::send(sock_, ptr, size, MSG_NOSIGNAL);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            describe(addr, ip, port);
    }

    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            describe(addr, ip, port);
    }

    socket_t socket() const override { return sock_; }

  private:
    bool wait(short events, Clock::time_point deadline) const {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{sock_, events, 0};
        return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
    }

    const socket_t sock_;
    const Clock::time_point read_deadline_;
    const std::chrono::milliseconds write_time_;
    std::size_t bytes_left_;
};

void close_socket(socket_t sock) {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
}

}  // namespace

BoundedHttpServer::BoundedHttpServer(Limits limits) : limits_(limits) {
    new_task_queue = [threads = limits_.threads] {
        return new httplib::ThreadPool(static_cast<std::size_t>(threads));
    };
    set_payload_max_length(limits_.max_request_bytes);
    // Refused before any body is read: these endpoints only answer GET.
    set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
        if (req.method == "GET") return HandlerResponse::Unhandled;
        res.status = 405;
        res.set_header("Allow", "GET");
        res.set_content("only GET is served here\n", "text/plain; charset=utf-8");
        return HandlerResponse::Handled;
    });
}

bool BoundedHttpServer::enter(const std::string& peer) {
    std::lock_guard lock(peers_mutex_);
    auto& n = connections_by_peer_[peer];
    if (n >= limits_.per_peer) return false;
    ++n;
    return true;
}

void BoundedHttpServer::leave(const std::string& peer) {
    std::lock_guard lock(peers_mutex_);
    if (--connections_by_peer_[peer] <= 0) connections_by_peer_.erase(peer);
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
    BudgetStream stream(sock, limits_);
    std::string peer;
    int port = 0;
    stream.get_remote_ip_and_port(peer, port);
    if (!enter(peer)) {
        // Over its share: told so at once (without waiting on a slow reader), then hung up on.
        static constexpr std::string_view kBusy =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        (void)::send(sock, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        close_socket(sock);
        return false;
    }
    // One request, then the connection closes: keep-alive would let a client hold a thread
    // between requests.
    bool closed = false;
    const auto setup = [](httplib::Request&) {};
    // cpp-httplib 0.12 added the peer's and our own address to this internal call (Debian 12
    // ships 0.11, Debian 13 0.18): call whichever this header declares.
    const auto serve = [&](auto& self) {
        std::string local;
        int local_port = 0;
        if constexpr (requires {
                          self.process_request(stream, peer, port, local, local_port, true, closed,
                                               setup);
                      }) {
            stream.get_local_ip_and_port(local, local_port);
            return self.process_request(stream, peer, port, local, local_port, true, closed, setup);
        } else {
            return self.process_request(stream, true, closed, setup);
        }
    };
    const bool ok = serve(*this);
    leave(peer);
    close_socket(sock);
    return ok;
}

}  // namespace renderer::worker

#include "support/open_tripwire.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace renderer::testing {

OpenTripwire::OpenTripwire(const std::vector<std::filesystem::path>& files) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("inotify_init1 failed");
    for (const auto& f : files) {
        if (::inotify_add_watch(fd_, f.c_str(), IN_OPEN) < 0) {
            throw std::runtime_error("inotify_add_watch failed for " + f.string());
        }
    }
}

OpenTripwire::~OpenTripwire() {
    if (fd_ >= 0) ::close(fd_);
}

int OpenTripwire::opens() {
    alignas(inotify_event) char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) break;  // EAGAIN: nothing more queued
        for (ssize_t at = 0; at < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
            if (ev->mask & IN_OPEN) ++opens_;
            at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
    }
    return opens_;
}

}  // namespace renderer::testing

#include "media/libav_log.h"

#include <unistd.h>

#include <cstdarg>
#include <unordered_map>
#include <utility>

extern "C" {
#include <libavutil/log.h>
}

#include "common/log.h"
#include "common/paths.h"

namespace renderer::media {
namespace {

thread_local LibavLogCapture* t_current = nullptr;

std::mutex g_routes_mutex;
std::unordered_map<const void*, LibavLogCapture*> g_routes;

// The capture for a context: its own route, else its AVClass parent's (AVIOContext inside a
// format context, a codec's private context …), else the logging thread's.
LibavLogCapture* route(void* avcl) {
    std::lock_guard lock(g_routes_mutex);
    void* p = avcl;
    for (int depth = 0; p != nullptr && depth < 4; ++depth) {
        if (auto it = g_routes.find(p); it != g_routes.end()) return it->second;
        const AVClass* cls = *static_cast<const AVClass**>(p);
        if (cls == nullptr || cls->parent_log_context_offset == 0) break;
        p = *reinterpret_cast<void**>(static_cast<char*>(p) + cls->parent_log_context_offset);
    }
    return t_current;
}

void callback(void* avcl, int level, const char* fmt, va_list vl) {
    LibavLogCapture* cap = avcl != nullptr ? route(avcl) : t_current;
    if (cap == nullptr) {
        // Not from a render: surface warnings and errors as debug events, drop the rest.
        if (level > AV_LOG_WARNING || !renderer::log::enabled(renderer::log::Level::debug)) return;
        char line[1024];
        int prefix = 1;
        av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
        std::string text(line);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        renderer::log::debug("libav", {{"msg", text}});
        return;
    }
    if (!cap->wants(level)) return;
    char line[1024];
    std::string text;
    {
        // print_prefix is per capture; the formatting itself is reentrant.
        av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &cap->print_prefix());
        text = line;
    }
    cap->append(level, text);
}

}  // namespace

LibavLogCapture::LibavLogCapture(std::optional<std::filesystem::path> report_path)
    : previous_(t_current) {
    install();
    if (report_path) {
        // Never written through a link planted at the (predictable) name; no report if that fails.
        const int fd = create_file_anew(*report_path);
        if (fd >= 0 && (report_ = ::fdopen(fd, "w")) == nullptr) ::close(fd);
    }
    t_current = this;
}

LibavLogCapture::~LibavLogCapture() {
    {
        std::lock_guard lock(g_routes_mutex);
        std::erase_if(g_routes, [this](const auto& kv) { return kv.second == this; });
    }
    if (t_current == this) t_current = previous_;
    if (report_ != nullptr) std::fclose(report_);
}

void LibavLogCapture::attach(const void* ctx) {
    std::lock_guard lock(g_routes_mutex);
    g_routes[ctx] = this;
}

void LibavLogCapture::detach(const void* ctx) {
    std::lock_guard lock(g_routes_mutex);
    g_routes.erase(ctx);
}

LibavLogRoute::LibavLogRoute(LibavLogCapture& capture, const void* ctx)
    : capture_(&capture), ctx_(ctx) {
    capture_->attach(ctx_);
}

LibavLogRoute::~LibavLogRoute() {
    if (capture_ != nullptr) capture_->detach(ctx_);
}

LibavLogRoute::LibavLogRoute(LibavLogRoute&& other) noexcept
    : capture_(std::exchange(other.capture_, nullptr)), ctx_(std::exchange(other.ctx_, nullptr)) {}

LibavLogRoute& LibavLogRoute::operator=(LibavLogRoute&& other) noexcept {
    if (this != &other) {
        if (capture_ != nullptr) capture_->detach(ctx_);
        capture_ = std::exchange(other.capture_, nullptr);
        ctx_ = std::exchange(other.ctx_, nullptr);
    }
    return *this;
}

LibavLogCapture::ThreadScope::ThreadScope(LibavLogCapture* capture) : previous_(t_current) {
    t_current = capture;
}

LibavLogCapture::ThreadScope::~ThreadScope() { t_current = previous_; }

bool LibavLogCapture::wants(int level) const {
    return level <= (report_ != nullptr ? AV_LOG_VERBOSE : AV_LOG_WARNING);
}

void LibavLogCapture::append(int level, const std::string& text) {
    std::lock_guard lock(mutex_);
    if (report_ != nullptr) std::fputs(text.c_str(), report_);
    if (level > AV_LOG_WARNING) return;
    // Partial lines (no newline yet) are joined to the previous fragment.
    if (!lines_.empty() && !lines_.back().empty() && lines_.back().back() != '\n') {
        lines_.back() += text;
    } else {
        lines_.push_back(text);
    }
    while (lines_.size() > kMaxLines) lines_.pop_front();
}

std::string LibavLogCapture::snippet() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& l : lines_) {
        out += l;
        if (!out.empty() && out.back() != '\n') out += '\n';
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string LibavLogCapture::current_snippet() {
    return t_current != nullptr ? t_current->snippet() : std::string();
}

void LibavLogCapture::install() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_callback(callback); });
}

}  // namespace renderer::media

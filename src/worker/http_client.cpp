#include "worker/http_client.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "common/error.h"
#include "storage/curl_callbacks.h"
#include "worker/url.h"

namespace renderer::worker {
namespace {

constexpr std::size_t kMaxIdleHandles = 16;

// libcurl's progress callback: a non-zero return abandons the transfer.
int abort_when_stopped(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const StopFlag*>(user)->stop_requested() ? 1 : 0;
}

template <typename T>
void set(CURL* handle, CURLoption option, T value) {
    const CURLcode rc = curl_easy_setopt(handle, option, value);
    if (rc != CURLE_OK) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("libcurl refused an option ({}): {}", static_cast<int>(option),
                                curl_easy_strerror(rc)));
    }
}

CurlSlistPtr make_headers(const std::string& token, bool json_body) {
    curl_slist* list = nullptr;
    const auto append = [&list](const std::string& h) {
        curl_slist* next = curl_slist_append(list, h.c_str());
        if (next == nullptr) {
            curl_slist_free_all(list);
            throw std::bad_alloc();
        }
        list = next;
    };
    append("Authorization: Bearer " + token);
    append("Accept: application/json");
    if (json_body) {
        append("Content-Type: application/json");
        // Without this libcurl waits up to a second for "100 Continue" before larger bodies.
        append("Expect:");
    }
    return CurlSlistPtr(list);
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> HttpResponse::date() const {
    const auto text = header("date");
    if (!text) return std::nullopt;
    const std::time_t t = curl_getdate(text->c_str(), nullptr);
    // 1970-2200: the nanosecond clock overflows past 2262, and no answer is dated outside this
    // (the same bound parse_rfc3339 puts on a stated expiry).
    constexpr std::time_t kYear2200 = 7258118400;
    if (t < 0 || t > kYear2200) return std::nullopt;
    return std::chrono::system_clock::from_time_t(t);
}

HttpClient::HttpClient(Options options) : options_(std::move(options)) {
    ensure_curl_global_init();
    get_headers_ = make_headers(options_.bearer_token, false);
    post_headers_ = make_headers(options_.bearer_token, true);
}

HttpClient::~HttpClient() = default;

CurlEasyPtr HttpClient::acquire() {
    {
        std::lock_guard lock(pool_mutex_);
        if (!idle_.empty()) {
            auto handle = std::move(idle_.back());
            idle_.pop_back();
            return handle;
        }
    }
    CurlEasyPtr handle(curl_easy_init());
    if (!handle) throw TransportError("libcurl could not create a handle");
    return handle;
}

void HttpClient::release(CurlEasyPtr handle) {
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(handle));
}

HttpResponse HttpClient::perform(const HttpRequest& request) {
    CurlEasyPtr owned = acquire();
    // Give the handle back on every path: its open connection is what makes the next call cheap.
    struct Return {
        HttpClient* client;
        CurlEasyPtr& handle;
        ~Return() { client->release(std::move(handle)); }
    } give_back{this, owned};
    CURL* h = owned.get();

    // Reset keeps the handle's live connections and caches, but forgets the last request.
    curl_easy_reset(h);

    HttpResponse response;
    storage::BoundedBody sink{&response.body, options_.max_response_bytes};
    char error_buffer[CURL_ERROR_SIZE] = {0};
    const bool post = request.method == "POST";
    const auto timeout = std::max<long>(1, static_cast<long>(request.timeout.count()));

    set(h, CURLOPT_URL, request.url.c_str());
    set(h, CURLOPT_PROTOCOLS_STR, "http,https");
    set(h, CURLOPT_FOLLOWLOCATION, 0L);
    set(h, CURLOPT_NOSIGNAL, 1L);  // required with threads: no SIGALRM for DNS timeouts
    set(h, CURLOPT_CONNECTTIMEOUT_MS,
        std::min<long>(timeout, static_cast<long>(options_.connect_timeout.count())));
    set(h, CURLOPT_TIMEOUT_MS, timeout);
    set(h, CURLOPT_SSL_VERIFYPEER, 1L);
    set(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (options_.ca_bundle) set(h, CURLOPT_CAINFO, options_.ca_bundle->c_str());
    set(h, CURLOPT_TCP_KEEPALIVE, 1L);
    set(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(h, CURLOPT_HTTPHEADER, post ? post_headers_.get() : get_headers_.get());
    set(h, CURLOPT_WRITEFUNCTION, &storage::append_bounded);
    set(h, CURLOPT_WRITEDATA, static_cast<void*>(&sink));
    set(h, CURLOPT_HEADERFUNCTION, &storage::collect_header);
    set(h, CURLOPT_HEADERDATA, static_cast<void*>(&response.headers));
    set(h, CURLOPT_ERRORBUFFER, error_buffer);
    if (request.stop != nullptr) {
        set(h, CURLOPT_NOPROGRESS, 0L);
        set(h, CURLOPT_XFERINFOFUNCTION, &abort_when_stopped);
        set(h, CURLOPT_XFERINFODATA, const_cast<void*>(static_cast<const void*>(request.stop)));
    }
    if (post) {
        set(h, CURLOPT_POST, 1L);
        set(h, CURLOPT_POSTFIELDS, request.body.c_str());
        set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else {
        set(h, CURLOPT_HTTPGET, 1L);
    }

    const CURLcode rc = curl_easy_perform(h);
    // The buffer belongs to this stack frame: detach it before the handle goes back to the pool.
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    if (sink.overflow) {
        throw Error(
            ErrorClass::ApiError,
            fmt::format("{} {} answered more than {} bytes; refusing to read on", request.method,
                        url_path(request.url), options_.max_response_bytes));
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        throw Error(ErrorClass::Cancelled, fmt::format("{} {} abandoned in flight: stopping",
                                                       request.method, url_path(request.url)));
    }
    if (rc != CURLE_OK) {
        const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
        throw TransportError(detail);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace renderer::worker

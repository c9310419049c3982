#include "support/stub_api.h"

#include <algorithm>

namespace renderer::testing {

StubApi::StubApi() {
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
        handle(req, res);
    };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

StubApi::~StubApi() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stopping_cv_.notify_all();
    server_.stop();
    thread_.join();
}

void StubApi::handle(const httplib::Request& req, httplib::Response& res) {
    Answer a;
    const auto authorization = req.get_header_value("Authorization");
    const auto key = req.method + " " + req.path;
    {
        std::lock_guard lock(mutex_);
        auto& calls = calls_[key];
        calls.push_back(req.body);
        auth_.push_back(req.get_header_value("Authorization"));
        const auto& answers = scripts_[key];
        a = answers.empty() ? Answer{404, R"({"error":"not_found"})", {}, {}, 0}
                            : answers[std::min(calls.size(), answers.size()) - 1];
    }
    // A slow answer waits without the lock held, so it holds up no other connection.
    if (a.delay.count() > 0) {
        std::unique_lock lock(mutex_);
        if (stopping_cv_.wait_for(lock, a.delay, [this] { return stopping_; })) return;
    }
    // Counted before the answer leaves: a test that sees it has to know it was sent.
    {
        std::lock_guard lock(mutex_);
        ++answered_[key];
    }
    if (!a.list_items.empty()) {
        std::size_t limit = a.list_items.size();
        if (req.has_param("limit"))
            limit =
                std::min(limit, static_cast<std::size_t>(std::stoul(req.get_param_value("limit"))));
        a.body = "[";
        for (std::size_t i = 0; i < limit; ++i) a.body += (i > 0 ? "," : "") + a.list_items[i];
        a.body += "]";
    }
    std::string escaped;
    for (const char c : authorization) {
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
    }
    for (const auto& [placeholder, value] :
         {std::pair{kEchoAuthorization, &authorization},
          std::pair{kEchoAuthorizationJson, static_cast<const std::string*>(&escaped)}}) {
        const std::size_t length = std::string_view(placeholder).size();
        for (auto at = a.body.find(placeholder); at != std::string::npos;
             at = a.body.find(placeholder, at + value->size())) {
            a.body.replace(at, length, *value);
        }
    }
    res.status = a.status;
    for (const auto& [k, v] : a.headers) res.set_header(k, v);
    if (a.stream_bytes == 0) {
        res.set_content(a.body, "application/json");
        return;
    }
    // Streamed in 64 KiB pieces so a 100 MB answer costs no 100 MB here; stops as soon as
    // the client hangs up.
    res.set_content_provider(a.stream_bytes, "application/json",
                             [](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                                 static const std::string chunk(64 * 1024, ' ');
                                 (void)offset;
                                 return sink.write(chunk.data(), std::min(length, chunk.size()));
                             });
}

void StubApi::script(const std::string& key, std::vector<Answer> answers) {
    std::lock_guard lock(mutex_);
    scripts_[key] = std::move(answers);
}

int StubApi::hits(const std::string& key) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(calls_[key].size());
}

int StubApi::answered(const std::string& key) {
    std::lock_guard lock(mutex_);
    return answered_[key];
}

int StubApi::total_hits() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(auth_.size());
}

std::vector<std::string> StubApi::bodies(const std::string& key) {
    std::lock_guard lock(mutex_);
    return calls_[key];
}

std::string StubApi::auth() {
    std::lock_guard lock(mutex_);
    return auth_.empty() ? std::string() : auth_.back();
}

std::vector<std::string> StubApi::all_auth() {
    std::lock_guard lock(mutex_);
    return auth_;
}

}  // namespace renderer::testing

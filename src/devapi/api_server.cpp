#include "devapi/api_server.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include <fmt/format.h>
#include <httplib.h>

#include "common/error.h"
#include "common/log.h"
#include "common/time_format.h"
#include "devapi/job_json.h"
#include "devapi/request_body.h"

namespace renderer::devapi {
namespace {

constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
constexpr std::size_t kDefaultLimit = 10;
constexpr std::size_t kMaxLimit = 100;
constexpr auto kSweepInterval = std::chrono::milliseconds(200);
constexpr const char* kJson = "application/json";
constexpr const char* kIdPattern = "([A-Za-z0-9._-]+)";

// Time depends only on the expected token's length, never on where the first mismatch is.
bool constant_time_equal(std::string_view given, std::string_view expected) {
    unsigned char diff = given.size() == expected.size() ? 0 : 1;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const char g = i < given.size() ? given[i] : '\0';
        diff |= static_cast<unsigned char>(g ^ expected[i]);
    }
    return diff == 0;
}

void send_json(httplib::Response& res, int status, std::string body) {
    res.status = status;
    res.set_content(std::move(body), kJson);
}

void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message) {
    send_json(res, status, error_json(code, message));
}

template <typename Fn>
std::string build_json(Fn&& fn) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    fn(w);
    return {buf.GetString(), buf.GetSize()};
}

// Maps a refused store operation onto its HTTP answer; true when it was refused.
bool send_refusal(httplib::Response& res, const JobStore::Outcome& outcome) {
    switch (outcome.code) {
        case JobStore::Code::Ok:
            return false;
        case JobStore::Code::NotFound:
            send_error(res, 404, "not_found", outcome.message);
            break;
        case JobStore::Code::Conflict:
            send_error(res, 409, "conflict", outcome.message);
            break;
        case JobStore::Code::Gone:
            send_error(res, 410, "lease_expired", outcome.message);
            break;
    }
    return true;
}

std::string_view error_code_for(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 413:
            return "payload_too_large";
        case 414:
            return "uri_too_long";
        default:
            return status >= 500 ? "internal" : "error";
    }
}

std::size_t parse_limit(const httplib::Request& req) {
    if (!req.has_param("limit")) return kDefaultLimit;
    const auto text = req.get_param_value("limit");
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || n == 0) {
        throw BadRequest(fmt::format("limit must be a positive integer; got '{}'", text));
    }
    return std::min(n, kMaxLimit);
}

}  // namespace

ApiServer::ApiServer(Options options)
    : options_(std::move(options)),
      store_(JobStore::Options{
          .default_lease_seconds = options_.lease_seconds,
          .heartbeat_refuse_after = options_.heartbeat_refuse_after,
          .max_attempts = options_.max_attempts,
          .clock = {.steady = options_.clock.steady,
                    .wall =
                        [wall = options_.clock.wall, offset = options_.clock_offset] {
                            return wall() + std::chrono::duration_cast<WallClock::duration>(offset);
                        }}}),
      http_(std::make_unique<httplib::Server>()),
      fault_state_(options_.seed) {
    store_.set_revoke_listener([](const Job& job, std::string_view reason) {
        log::info("lease_revoked",
                  {{"job_id", job.spec.id}, {"worker", job.worker}, {"reason", reason}});
    });
    install_routes();
}

ApiServer::~ApiServer() { stop(); }

int ApiServer::start() {
    if (options_.token.empty()) throw Error(ErrorClass::ConfigError, "devapi: a token is required");
    const int port = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                     : http_->bind_to_port(options_.host, options_.port) ? options_.port
                                                                         : -1;
    if (port < 0) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("devapi: cannot listen on {}:{}", options_.host, options_.port));
    }
    port_ = port;
    listen_returned_ = false;
    listen_thread_ = std::thread([this] {
        http_->listen_after_bind();
        listen_returned_ = true;
    });
    // cpp-httplib 0.11 has no wait_until_ready(); is_running() turns true inside the accept loop.
    while (!http_->is_running() && !listen_returned_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    {
        std::lock_guard lock(sweep_mutex_);
        stopping_ = false;
    }
    sweep_thread_ = std::thread([this] { sweep_loop(); });
    log::info("listening", {{"host", options_.host}, {"port", port_}});
    return port_;
}

void ApiServer::stop() {
    if (listen_thread_.joinable()) {
        http_->stop();
        listen_thread_.join();
    }
    if (sweep_thread_.joinable()) {
        {
            std::lock_guard lock(sweep_mutex_);
            stopping_ = true;
        }
        sweep_cv_.notify_all();
        sweep_thread_.join();
    }
}

// Leases also expire lazily on every request; the sweep makes expiry visible in the logs and
// in `--exit-when-done` even when no client is asking.
void ApiServer::sweep_loop() {
    std::unique_lock lock(sweep_mutex_);
    while (!sweep_cv_.wait_for(lock, kSweepInterval, [this] { return stopping_; })) {
        store_.expire_leases();
    }
}

bool ApiServer::authorized(const httplib::Request& req) const {
    const auto header = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "Bearer ";
    if (header.size() < kScheme.size()) return false;
    const std::string_view scheme(header.data(), kScheme.size());
    const bool scheme_ok = std::equal(
        scheme.begin(), scheme.end(), kScheme.begin(),
        [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); });
    return scheme_ok &&
           constant_time_equal(std::string_view(header).substr(kScheme.size()), options_.token);
}

// splitmix64: tiny, seedable and identical on every platform, unlike std distributions.
bool ApiServer::inject_failure() {
    if (options_.fail_rate <= 0.0) return false;
    std::lock_guard lock(fault_mutex_);
    std::uint64_t z = (fault_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double draw = static_cast<double>(z >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    return draw < options_.fail_rate;
}

void ApiServer::route(const char* method, const char* pattern, bool faults, Handler handler) {
    auto guarded = [this, faults, handler = std::move(handler)](const httplib::Request& req,
                                                                httplib::Response& res) {
        // By the API's own clock, which --clock-offset-sec may set apart from the host's.
        res.set_header("Date", format_http_date(store_.wall_now()));
        if (options_.latency_ms > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(options_.latency_ms));
        }
        if (!authorized(req)) {
            res.set_header("WWW-Authenticate", "Bearer");
            send_error(res, 401, "unauthorized", "missing or wrong bearer token");
            return;
        }
        if (faults && inject_failure()) {
            // No Retry-After: clients fall back on their own back-off, which is what the
            // injected faults are there to exercise (a `Retry-After: 0` used to bypass it).
            send_error(res, 503, "unavailable", "injected fault (fail_rate)");
            return;
        }
        try {
            handler(req, res);
        } catch (const BadRequest& e) {
            send_error(res, 400, "bad_request", e.what());
        }
    };
    if (std::string_view(method) == "GET") {
        http_->Get(pattern, std::move(guarded));
    } else {
        http_->Post(pattern, std::move(guarded));
    }
}

void ApiServer::install_routes() {
    if (options_.threads > 0) {
        http_->new_task_queue = [n = static_cast<std::size_t>(options_.threads)] {
            return new httplib::ThreadPool(n);
        };
    }
    http_->set_payload_max_length(kMaxBodyBytes);
    // Idle keep-alive connections hold stop() up for this long.
    http_->set_keep_alive_timeout(2);
    http_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
        // Never the headers: they carry the token.
        log::info("request", {{"method", req.method}, {"path", req.path}, {"status", res.status}});
    });
    // httplib answers 404/413/... itself with an empty body; give those a JSON one too.
    using Outcome = httplib::Server::HandlerResponse;
    http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&,
                                                                     httplib::Response& res) {
        if (!res.body.empty()) return Outcome::Unhandled;
        send_error(res, res.status, error_code_for(res.status), fmt::format("HTTP {}", res.status));
        return Outcome::Handled;
    }));
    http_->set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            const std::string what = exception_message(ep);
            log::error("handler_failed", {{"path", req.path}, {"error", what}});
            send_error(res, 500, "internal", what);
        });

    http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, R"({"ok":true})");
    });

    const std::string jobs = "/api/render-jobs";
    const std::string one = jobs + "/" + kIdPattern;
    using namespace std::placeholders;
    route("GET", jobs.c_str(), true, std::bind(&ApiServer::list_jobs, this, _1, _2));
    route("POST", jobs.c_str(), true, std::bind(&ApiServer::create_job, this, _1, _2));
    // Reading one job is how tests and operators inspect state: never faulted.
    route("GET", one.c_str(), false, std::bind(&ApiServer::get_job, this, _1, _2));
    route("POST", (one + "/claim").c_str(), true, std::bind(&ApiServer::claim_job, this, _1, _2));
    route("POST", (one + "/heartbeat").c_str(), true,
          std::bind(&ApiServer::heartbeat_job, this, _1, _2));
    route("POST", (one + "/status").c_str(), true,
          std::bind(&ApiServer::post_status, this, _1, _2));
    route("GET", "/api/stats", false, std::bind(&ApiServer::get_stats, this, _1, _2));
}

void ApiServer::list_jobs(const httplib::Request& req, httplib::Response& res) {
    std::optional<JobStatus> status;
    if (req.has_param("status")) {
        const auto text = req.get_param_value("status");
        status = parse_status(text);
        if (!status) throw BadRequest(fmt::format("unknown status '{}'", text));
    }
    const auto shape = req.has_param("shape") ? req.get_param_value("shape") : "object";
    if (shape != "object" && shape != "array") throw BadRequest("shape must be object or array");
    const auto listing = store_.list(status, parse_limit(req));

    res.set_header("X-Queue-Depth", std::to_string(listing.queue_depth));
    res.set_header("X-Backlog", std::to_string(listing.backlog));
    send_json(res, 200, build_json([&](JsonWriter& w) {
                  const bool object = shape == "object";
                  if (object) {
                      w.StartObject();
                      w.Key("jobs");
                  }
                  w.StartArray();
                  for (const auto& job : listing.jobs)
                      write_job_summary(w, job, !options_.omit_lease_seconds);
                  w.EndArray();
                  if (object) {
                      w.Key("queue_depth");
                      w.Uint64(listing.queue_depth);
                      w.Key("backlog");
                      w.Uint64(listing.backlog);
                      w.EndObject();
                  }
              }));
}

void ApiServer::create_job(const httplib::Request& req, httplib::Response& res) {
    auto spec = parse_create_body(req.body);
    const auto id = spec.id;
    if (send_refusal(res, store_.add(std::move(spec)))) return;
    const auto job = store_.get(id);
    log::info("job_created",
              {{"job_id", id}, {"story_id", job->spec.story_id}, {"part_id", job->spec.part_id}});
    send_json(res, 201, build_json([&](JsonWriter& w) { write_job_detail(w, *job); }));
}

void ApiServer::get_job(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    const auto job = store_.get(id);
    if (!job) return send_error(res, 404, "not_found", fmt::format("no job {}", id));
    send_json(res, 200, build_json([&](JsonWriter& w) { write_job_detail(w, *job); }));
}

void ApiServer::claim_job(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    const auto body = parse_lease_body(req.body);
    JobStore::Lease lease;
    if (send_refusal(res, store_.claim(id, body.worker.value_or(""), lease))) return;
    const auto expires = to_rfc3339(lease.expires_at);
    log::info(
        "claimed",
        {{"job_id", id}, {"worker", body.worker.value_or("")}, {"lease_expires_at", expires}});
    send_json(res, 200, build_json([&](JsonWriter& w) {
                  write_lease(w, lease, true, !options_.omit_lease_seconds);
              }));
}

void ApiServer::heartbeat_job(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    const auto body = parse_lease_body(req.body);
    JobStore::Lease lease;
    if (send_refusal(res, store_.heartbeat(id, body.lease_token, lease))) return;
    send_json(res, 200, build_json([&](JsonWriter& w) {
                  write_lease(w, lease, false, !options_.omit_lease_seconds);
              }));
}

void ApiServer::post_status(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    const auto post = parse_status_body(req.body);
    if (send_refusal(res, store_.post_status(id, post.status, post.lease_token, post.report))) {
        return;
    }
    log::info("status", {{"job_id", id}, {"status", to_string(post.status)}});
    const auto job = store_.get(id);
    send_json(res, 200, build_json([&](JsonWriter& w) { write_job_summary(w, *job); }));
}

void ApiServer::get_stats(const httplib::Request&, httplib::Response& res) {
    const auto stats = store_.stats();
    send_json(res, 200, build_json([&](JsonWriter& w) { write_stats(w, stats); }));
}

}  // namespace renderer::devapi

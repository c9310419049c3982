#include "worker/api_client.h"

#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "common/utf8.h"
#include "worker/url.h"

namespace renderer::worker {
namespace {

constexpr std::size_t kMaxQuotedBody = 200;

bool is_success(long status) { return status >= 200 && status < 300; }
bool is_lease_gone(long status) { return status == 404 || status == 409 || status == 410; }

// What the API said, shortened, for an error message. The whole body is redacted before any
// cut: a cut through an echoed token leaves its first characters where no later redaction can
// recognise them (a first cut at 800 characters, before redaction, did: seven echoes shrank to
// the marker and pulled the eighth, cut mid-token, into the quoted 200). A JSON body is
// decoded first, so a token quoted with escapes is found too; the quote stays valid UTF-8.
std::string describe(const HttpResponse& r) {
    std::string body = quotable_utf8(log::redacted_body(r.body), kMaxQuotedBody);
    for (auto& c : body) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    if (r.status >= 300 && r.status < 400) {
        return fmt::format(
            "HTTP {} (a redirect; redirects are not followed so the token stays on "
            "API_BASE_URL's origin)",
            r.status);
    }
    return body.empty() ? fmt::format("HTTP {}", r.status)
                        : fmt::format("HTTP {}: {}", r.status, body);
}

// The answer's Date (the API's clock) and our clock at its arrival, for the lease rules.
LeaseGrant with_clocks(LeaseGrant grant, const HttpResponse& response) {
    grant.received_at = WallClock::now();
    grant.answered_at = response.date();
    return grant;
}

}  // namespace

ApiClient::ApiClient(Options options)
    : options_(std::move(options)),
      http_(HttpClient::Options{.bearer_token = options_.token,
                                .ca_bundle = options_.ca_bundle,
                                .connect_timeout = std::chrono::milliseconds(10000),
                                .max_response_bytes = 8u << 20,
                                .user_agent = "renderer-worker/" + options_.worker_name}) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/')
        options_.base_url.pop_back();
}

HttpResponse ApiClient::execute(const Call& call) {
    const auto start = SteadyClock::now();
    // Timed on every way out: an answer, retries run out, a stop.
    struct Timer {
        const Options& options;
        const Call& call;
        SteadyClock::time_point start;
        ~Timer() {
            if (options.on_call) {
                options.on_call(call.request,
                                std::chrono::duration<double>(SteadyClock::now() - start).count());
            }
        }
    } timer{options_, call, start};
    const auto path = url_path(call.url);
    const RetryPolicy& policy = *call.policy;
    int conflicts = 0;
    const auto give_up = [&](int attempts, const std::string& why) {
        return Error(ErrorClass::ApiError,
                     fmt::format("{} {} failed after {} attempt{}: {}", call.method, path, attempts,
                                 attempts == 1 ? "" : "s", why));
    };

    for (int attempt = 1;; ++attempt) {
        auto timeout = options_.http_timeout;
        if (call.deadline) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(*call.deadline - SteadyClock::now());
            if (left.count() <= 0) throw give_up(attempt - 1, "the lease deadline passed");
            timeout = std::min(timeout, left);
        }

        std::string reason;
        std::optional<std::chrono::milliseconds> retry_after;
        try {
            HttpResponse response = http_.perform(HttpRequest{.method = call.method,
                                                              .url = call.url,
                                                              .body = call.body,
                                                              .timeout = timeout,
                                                              .stop = call.stop});
            if (response.status >= 500 || response.status == 429) {
                reason = describe(response);
                if (auto header = response.header("retry-after"))
                    retry_after = parse_retry_after(*header);
            } else if (response.status == 409 && conflicts < call.conflict_retries) {
                // The spec's exception: a 409 on a status post may be the API catching up with
                // our own claim; give it a few tries before taking the lease as lost.
                ++conflicts;
                reason = describe(response);
            } else {
                return response;
            }
        } catch (const TransportError& e) {
            reason = e.what();
        }

        if (attempt >= policy.max_attempts) throw give_up(attempt, reason);
        const auto delay = retry_delay(policy, attempt, retry_after);
        const auto wake = SteadyClock::now() + delay;
        if (wake - start > policy.max_total)
            throw give_up(attempt, reason + " (retry time budget spent)");
        if (call.deadline && wake >= *call.deadline) {
            throw give_up(attempt, reason + " (no time left before the lease deadline)");
        }

        const log::Fields fields{{"attempt", attempt},
                                 {"delay_ms", static_cast<std::int64_t>(delay.count())},
                                 {"reason", reason},
                                 {"method", call.method},
                                 {"path", path}};
        if (call.log != nullptr)
            call.log->warn("retry", fields);
        else
            log::warn("retry", fields);
        if (options_.on_retry) options_.on_retry(call.request);

        if (call.stop != nullptr) {
            if (call.stop->wait_until(wake)) {
                throw Error(ErrorClass::Cancelled,
                            fmt::format("{} {} abandoned: stopping", call.method, path));
            }
        } else {
            std::this_thread::sleep_until(wake);
        }
    }
}

std::string ApiClient::job_url(const Job& job, std::string_view action) const {
    // Job ids passed is_safe_id, so they need no escaping in a path segment.
    return fmt::format("{}/api/render-jobs/{}/{}", options_.base_url, job.id, action);
}

std::string ApiClient::claim_url_for(const Job& job, const log::Context& log) const {
    if (job.claim_url && !job.claim_url->empty()) {
        const auto resolved = resolve_url(options_.base_url + "/", *job.claim_url);
        const auto origin = resolved ? origin_of(*resolved) : std::nullopt;
        if (origin && origin == origin_of(options_.base_url)) return *resolved;
        log.warn(
            "claim_url_ignored",
            {{"reason",
              "claim_url is not on API_BASE_URL's origin; the token is never sent elsewhere"},
             {"claim_url", resolved ? strip_url_credentials(*resolved).value_or("(unparseable)")
                                    : std::string("(unparseable)")}});
    }
    return job_url(job, "claim");
}

JobList ApiClient::list_jobs(int limit, const StopFlag* stop) {
    Call call{
        .method = "GET",
        .url = fmt::format("{}/api/render-jobs?status=queued&limit={}", options_.base_url, limit),
        .policy = &options_.poll_retry,
        .stop = stop,
        .request = "list"};
    const auto response = execute(call);
    if (!is_success(response.status)) {
        throw Error(ErrorClass::ApiError,
                    fmt::format("GET {} answered {}", url_path(call.url), describe(response)));
    }
    return parse_job_list(response.body, response.header("x-queue-depth"));
}

std::optional<LeaseGrant> ApiClient::claim(const Job& job, const log::Context& log,
                                           const StopFlag* stop) {
    Call call{.method = "POST",
              .url = claim_url_for(job, log),
              .body = claim_body(options_.worker_name),
              .policy = &options_.claim_retry,
              .stop = stop,
              .log = &log,
              .request = "claim"};
    const auto response = execute(call);
    if (response.status == 409) return std::nullopt;
    if (!is_success(response.status)) {
        throw Error(ErrorClass::ApiError,
                    fmt::format("POST {} answered {}", url_path(call.url), describe(response)));
    }
    return with_clocks(parse_lease_grant(response.body, true), response);
}

ApiClient::HeartbeatResult ApiClient::heartbeat(const Job& job,
                                                const std::optional<std::string>& lease_token,
                                                SteadyClock::time_point deadline,
                                                const StopFlag* stop, const log::Context& log) {
    Call call{.method = "POST",
              .url = job_url(job, "heartbeat"),
              .body = heartbeat_body(lease_token),
              .policy = &options_.lease_retry,
              .deadline = deadline,
              .stop = stop,
              .log = &log,
              .request = "heartbeat"};
    HeartbeatResult result;
    try {
        const auto response = execute(call);
        if (is_success(response.status)) {
            result.answer = LeaseAnswer::Ok;
            try {
                result.grant = with_clocks(parse_lease_grant(response.body, false), response);
            } catch (const Error& e) {
                // The API did extend the lease; without its new expiry we count from our clock.
                log.warn("heartbeat_answer_ignored", {{"reason", e.what()}});
            }
        } else {
            result.answer =
                is_lease_gone(response.status) ? LeaseAnswer::Lost : LeaseAnswer::Rejected;
            result.detail = fmt::format("heartbeat answered {}", describe(response));
        }
    } catch (const Error& e) {
        result.answer = LeaseAnswer::Unreachable;
        result.detail = e.what();
    }
    return result;
}

ApiClient::StatusResult ApiClient::post_status(const Job& job, const StatusUpdate& update,
                                               const std::optional<std::string>& lease_token,
                                               SteadyClock::time_point deadline,
                                               const StopFlag* stop, const log::Context& log) {
    Call call{.method = "POST",
              .url = job_url(job, "status"),
              .body = status_body(update, lease_token),
              .policy = &options_.lease_retry,
              .deadline = deadline,
              .conflict_retries = options_.status_conflict_retries,
              .stop = stop,
              .log = &log,
              .request = "status"};
    StatusResult result;
    try {
        const auto response = execute(call);
        if (is_success(response.status)) {
            result.answer = LeaseAnswer::Ok;
        } else {
            result.answer =
                is_lease_gone(response.status) ? LeaseAnswer::Lost : LeaseAnswer::Rejected;
            result.detail = fmt::format("status {} answered {}", update.status, describe(response));
        }
    } catch (const Error& e) {
        result.answer = LeaseAnswer::Unreachable;
        result.detail = e.what();
    }
    return result;
}

}  // namespace renderer::worker

#include "storage/s3_client.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "common/log.h"
#include "storage/curl_callbacks.h"
#include "storage/s3_xml.h"
#include "storage/sigv4.h"

namespace renderer::storage {
namespace {

constexpr std::size_t kMaxAnswerBytes = 8u << 20;  // a listing page of 1000 keys is ~300 KB

int abort_when_cancelled(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* cancelled = static_cast<const CancelFn*>(user);
    return (*cancelled && (*cancelled)()) ? 1 : 0;
}

struct ReadSource {
    std::string_view data;
};

// The path-style path, not yet encoded: /bucket or /bucket/key.
std::string path_of(const S3Location& object) {
    auto path = "/" + object.bucket;
    if (!object.key.empty()) path += "/" + object.key;
    return path;
}

std::size_t read_memory(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* src = static_cast<ReadSource*>(user);
    const std::size_t n = std::min(size * count, src->data.size());
    std::copy_n(src->data.data(), n, buffer);
    src->data.remove_prefix(n);
    return n;
}

}  // namespace

std::optional<std::string> StorageAnswer::header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return std::nullopt;
}

void append_header(CurlSlistPtr& list, const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    (void)list.release();
    list.reset(next);
}

Attempt transport_failure(CURLcode rc, std::string_view detail) {
    Attempt attempt{.answer = std::nullopt, .transport_error = curl_easy_strerror(rc)};
    // Not trusted (chain or host name), or the CA bundle unusable: the same on every attempt.
    // Only here is libcurl's own detail used: it names the certificate's fault and the host,
    // where other failures' details may quote the URL and its presigned query.
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
        attempt.certificate_refused = true;
        if (!detail.empty()) attempt.transport_error = detail;
    }
    return attempt;
}

bool retryable(const Attempt& attempt) {
    if (!attempt.answer) return !attempt.certificate_refused;
    const long s = attempt.answer->status;
    if (s >= 500 || s == 429) return true;
    // A body that failed the store's integrity checks was damaged on the way: sent again.
    if (s == 400) {
        const auto error = parse_error_body(attempt.answer->body);
        return error && (error->code == "BadDigest" || error->code == "XAmzContentSHA256Mismatch");
    }
    return false;
}

std::chrono::milliseconds retry_backoff(int failed_attempt) {
    // Full jitter over [100 ms, min(5 s, 200 ms * 2^(n-1))]: workers that lost the same
    // store at once come back spread out.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto cap = std::min<std::int64_t>(5000, 200LL << std::min(failed_attempt - 1, 10));
    std::uniform_int_distribution<std::int64_t> pick(100, std::max<std::int64_t>(100, cap));
    return std::chrono::milliseconds(pick(rng));
}

bool sleep_unless_cancelled(std::chrono::milliseconds delay, const CancelFn& cancelled) {
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
        if (cancelled && cancelled()) return false;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
    }
    return !(cancelled && cancelled());
}

Error storage_error(const Attempt& attempt, std::string_view what) {
    if (!attempt.answer && attempt.certificate_refused) {
        return Error(ErrorClass::ConfigError,
                     fmt::format("{}: the storage's TLS certificate was not trusted ({}): if "
                                 "the store's certificate is signed by a private CA, set "
                                 "AWS_CA_BUNDLE to a PEM file of that CA; the certificate must "
                                 "also name the URL's host",
                                 what, attempt.transport_error));
    }
    if (!attempt.answer) {
        return Error(ErrorClass::IoError, fmt::format("{}: no answer from the storage: {}", what,
                                                      attempt.transport_error));
    }
    const auto& a = *attempt.answer;
    const auto parsed = parse_error_body(a.body);
    const auto detail = parsed ? fmt::format(" {}: {}", parsed->code, parsed->message) : "";
    // Redacted: a store may quote what it was sent, and a message may hold a presigned query.
    const auto answer = log::redacted(fmt::format("HTTP {}{}", a.status, detail));
    if (a.status == 401 || a.status == 403) {
        return Error(ErrorClass::ConfigError,
                     fmt::format("{}: the storage refused the request ({}): check "
                                 "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, "
                                 "AWS_REGION and the bucket's policy, or the presigned URL's "
                                 "expiry",
                                 what, answer));
    }
    if (a.status == 404) {
        return Error(ErrorClass::PreflightError,
                     fmt::format("{}: not found in the storage ({})", what, answer));
    }
    return Error(ErrorClass::IoError, fmt::format("{}: the storage answered {}", what, answer));
}

S3Client::S3Client(StorageConfig config) : config_(std::move(config)) {
    ensure_curl_global_init();
    endpoint_ =
        config_.endpoint.value_or(fmt::format("https://s3.{}.amazonaws.com", config_.region));
    const auto scheme_end = endpoint_.find("://");
    host_ = scheme_end == std::string::npos ? endpoint_ : endpoint_.substr(scheme_end + 3);
}

std::string S3Client::url_of(const S3Request& request) const {
    // Sent exactly as signed: the path encoded once, the query in canonical order and encoding.
    auto url = endpoint_ + uri_encode(path_of(request.object), true);
    if (!request.query.empty()) url += "?" + canonical_query(request.query);
    return url;
}

void S3Client::common_options(CURL* handle) const {
    curl_easy_reset(handle);
    set_option(handle, CURLOPT_NOSIGNAL, 1L);
    // Never followed: a redirect could carry the request (and a presigned signature) to
    // another host.
    set_option(handle, CURLOPT_FOLLOWLOCATION, 0L);
    set_option(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    // Peer and host name are always verified, against AWS_CA_BUNDLE when set (curl_easy_reset
    // above put libcurl's defaults back, so this is set again for every attempt).
    set_option(handle, CURLOPT_SSL_VERIFYPEER, 1L);
    set_option(handle, CURLOPT_SSL_VERIFYHOST, 2L);
    if (config_.ca_bundle) set_option(handle, CURLOPT_CAINFO, config_.ca_bundle->c_str());
    set_option(handle, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    // A stalled transfer (under 1 KiB/s for 30 s) is cut and retried rather than waited on.
    set_option(handle, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    set_option(handle, CURLOPT_LOW_SPEED_TIME, 30L);
    set_option(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    set_option(handle, CURLOPT_USERAGENT, "renderer-worker");
}

CurlSlistPtr S3Client::prepare(CURL* handle, const S3Request& request) const {
    if (!config_.credentials) {
        throw Error(ErrorClass::ConfigError,
                    "an s3:// URL needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    common_options(handle);
    const auto url = url_of(request);
    set_option(handle, CURLOPT_URL, url.c_str());
    set_option(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "HEAD") set_option(handle, CURLOPT_NOBODY, 1L);
    SigV4Request signable{.method = request.method,
                          .path = path_of(request.object),
                          .query = request.query,
                          .headers = {{"Host", host_},
                                      // S3 wants the payload hash on every request.
                                      {"x-amz-content-sha256", request.payload_sha256}},
                          .payload_hash = request.payload_sha256};
    for (const auto& line : request.headers) {
        const auto colon = line.find(':');
        const auto value = line.find_first_not_of(' ', colon + 1);
        signable.headers.emplace_back(line.substr(0, colon),
                                      value == std::string::npos ? "" : line.substr(value));
    }
    const auto signature =
        sigv4_sign(signable, *config_.credentials, {.region = config_.region, .service = "s3"},
                   std::chrono::system_clock::now());
    // Every header the signature covers is sent as signed (Host too, so it is the signed
    // value whatever libcurl would have written). Bodies over 1 MiB wait for 100 Continue,
    // which lets a refusal arrive before a 16 MiB part is sent.
    CurlSlistPtr headers;
    for (const auto& [name, value] : signable.headers) append_header(headers, name + ": " + value);
    for (const auto& [name, value] : signature.headers) append_header(headers, name + ": " + value);
    set_option(handle, CURLOPT_HTTPHEADER, headers.get());
    return headers;
}

CurlSlistPtr S3Client::prepare_url(CURL* handle, const std::string& method, const std::string& url,
                                   const std::vector<std::string>& headers) const {
    common_options(handle);
    set_option(handle, CURLOPT_URL, url.c_str());
    set_option(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
    CurlSlistPtr list;
    append_header(list, "Expect:");
    for (const auto& h : headers) append_header(list, h);
    set_option(handle, CURLOPT_HTTPHEADER, list.get());
    return list;
}

Attempt S3Client::attempt(CURL* handle, std::string_view body, const CancelFn& cancelled) const {
    StorageAnswer answer;
    BoundedBody sink{&answer.body, kMaxAnswerBytes};
    ReadSource source{body};
    set_option(handle, CURLOPT_WRITEFUNCTION, append_bounded);
    set_option(handle, CURLOPT_WRITEDATA, &sink);
    set_option(handle, CURLOPT_HEADERFUNCTION, collect_header);
    set_option(handle, CURLOPT_HEADERDATA, &answer.headers);
    set_option(handle, CURLOPT_NOPROGRESS, 0L);
    set_option(handle, CURLOPT_XFERINFOFUNCTION, abort_when_cancelled);
    set_option(handle, CURLOPT_XFERINFODATA, &cancelled);
    if (!body.empty()) {
        set_option(handle, CURLOPT_UPLOAD, 1L);
        set_option(handle, CURLOPT_READFUNCTION, read_memory);
        set_option(handle, CURLOPT_READDATA, &source);
        set_option(handle, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    char error[CURL_ERROR_SIZE] = {};
    set_option(handle, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(handle);
    // The buffer ends with this call; libcurl must not keep it.
    set_option(handle, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
    if (rc == CURLE_ABORTED_BY_CALLBACK) throw Error(ErrorClass::Cancelled, "cancelled");
    if (rc == CURLE_WRITE_ERROR && sink.overflow) {
        return Attempt{std::nullopt,
                       fmt::format("an answer larger than {} MiB", kMaxAnswerBytes >> 20)};
    }
    if (rc != CURLE_OK) return transport_failure(rc, error);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &answer.status);
    return Attempt{std::move(answer), {}};
}

StorageAnswer S3Client::perform(const S3Request& request, std::string_view body,
                                const CancelFn& cancelled) const {
    CurlEasyPtr handle(curl_easy_init());
    if (!handle) throw std::bad_alloc();
    const auto what =
        fmt::format("{} s3://{}/{}", request.method, request.object.bucket, request.object.key);
    for (int n = 1;; ++n) {
        const auto headers = prepare(handle.get(), request);
        auto result = attempt(handle.get(), body, cancelled);
        if (result.answer && result.answer->status / 100 == 2) return std::move(*result.answer);
        if (!retryable(result) || n >= config_.limits.attempts) throw storage_error(result, what);
        if (!sleep_unless_cancelled(retry_backoff(n), cancelled))
            throw Error(ErrorClass::Cancelled, "cancelled");
    }
}

}  // namespace renderer::storage

// Requests to S3 (or an S3-compatible store) on libcurl: path-style URLs, signed with our SigV4
// signer (storage/sigv4.h), no redirects, bounded answers; and the one place that turns a failed
// answer into an Error of the right class (a refused signature is a configuration problem,
// never retried; a 5xx or a cut connection is retried with back-off).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "storage/curl_callbacks.h"
#include "storage/curl_ptr.h"
#include "storage/remote_url.h"
#include "storage/storage_config.h"

namespace renderer::storage {

// Polled while a request runs and between retries: true abandons the work (lease lost,
// shutdown) with Error(Cancelled).
using CancelFn = std::function<bool()>;

struct S3Request {
    std::string method = "GET";
    S3Location object;  // an empty key addresses the bucket (ListObjectsV2)
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::string> headers;                 // extra "Name: value" lines
    std::string payload_sha256 = "UNSIGNED-PAYLOAD";  // x-amz-content-sha256
};

struct StorageAnswer {
    long status = 0;
    std::string body;
    HeaderList headers;

    std::optional<std::string> header(std::string_view lower_name) const;
};

// What became of one attempt: an answer, or no answer at all (transport failure).
struct Attempt {
    std::optional<StorageAnswer> answer;
    std::string transport_error;  // set when there is no answer
    // The store's TLS certificate was refused (not trusted, not for the URL's host) or the CA
    // bundle could not be used: a configuration problem that no retry mends.
    bool certificate_refused = false;
};

// The Attempt for a transfer that libcurl ended with `rc` before any answer: libcurl's text for
// `rc`, or for a refused certificate `detail` (the transfer's CURLOPT_ERRORBUFFER, saying why:
// "SSL certificate problem: self-signed certificate").
Attempt transport_failure(CURLcode rc, std::string_view detail);

// Retry with exponential back-off and full jitter: 5xx, 429, transport failures, and a body
// refused as damaged on the way (400 BadDigest or XAmzContentSHA256Mismatch).
bool retryable(const Attempt& attempt);
std::chrono::milliseconds retry_backoff(int failed_attempt);
// Sleeps `delay` in short steps; false when `cancelled` said stop first.
bool sleep_unless_cancelled(std::chrono::milliseconds delay, const CancelFn& cancelled);

// The Error for a failed attempt at `what` ("GET s3://b/k"): ConfigError for 401/403 (wrong
// key, secret, region or policy: retrying cannot help) and for a refused TLS certificate
// (AWS_CA_BUNDLE), PreflightError for 404 (the input is not there), IoError otherwise
// (transient).
Error storage_error(const Attempt& attempt, std::string_view what);

class S3Client {
  public:
    explicit S3Client(StorageConfig config);

    const StorageConfig& config() const { return config_; }

    // The request's path-style URL: endpoint/bucket/encoded-key?canonical-query.
    std::string url_of(const S3Request& request) const;

    // Sets up `handle` (reset first) for `request`, signed now; the returned header list must
    // outlive the transfer. The caller sets the body and write callbacks. Each attempt is
    // prepared (and signed) again, so a retry after a long back-off carries a fresh date.
    CurlSlistPtr prepare(CURL* handle, const S3Request& request) const;
    // The same for a presigned or public URL: no signing, no credentials sent.
    CurlSlistPtr prepare_url(CURL* handle, const std::string& method, const std::string& url,
                             const std::vector<std::string>& headers) const;

    // A request with `body` in memory and the answer in memory (bounded), retried per
    // retryable(). Returns the 2xx answer; throws storage_error() for any other, or
    // Error(Cancelled).
    StorageAnswer perform(const S3Request& request, std::string_view body,
                          const CancelFn& cancelled) const;
    // One attempt, whatever the answer.
    Attempt attempt(CURL* handle, std::string_view body, const CancelFn& cancelled) const;

  private:
    void common_options(CURL* handle) const;

    StorageConfig config_;
    std::string endpoint_;  // scheme://host[:port], no path
    std::string host_;      // the Host header sent and signed: endpoint_'s host[:port]
};

// Sets a libcurl option; Error(ConfigError) when libcurl refuses it.
template <typename T>
void set_option(CURL* handle, CURLoption option, T value) {
    if (const CURLcode rc = curl_easy_setopt(handle, option, value); rc != CURLE_OK) {
        throw Error(ErrorClass::ConfigError,
                    std::string("libcurl refused an option: ") + curl_easy_strerror(rc));
    }
}

// Appends to a header list; throws std::bad_alloc when libcurl cannot.
void append_header(CurlSlistPtr& list, const std::string& line);

}  // namespace renderer::storage

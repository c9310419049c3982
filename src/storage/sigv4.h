// AWS Signature Version 4 for header-signed requests: canonical request, string to sign,
// signing key and Authorization header. Written here rather than taken from libcurl's
// CURLOPT_AWS_SIGV4, whose canonical query differs from version to version (curl 8.14 signs a
// query's '+' as %20, so a listing's second page was refused on Debian 13: docs/DECISIONS.md);
// this one is proven on AWS's published test vectors (tests/sigv4_test.cpp, testdata/sigv4/).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/storage_config.h"

namespace renderer::storage {

// The SHA-256 of an empty body: the payload hash of a request without one.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SigV4Request {
    std::string method;
    // The path as the request names it, not yet encoded ("/bucket/key with spaces"): encoded
    // once here, byte by byte, as S3 wants it (no second encoding, no '.' or '..' removed).
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;    // names and values decoded
    std::vector<std::pair<std::string, std::string>> headers;  // as sent; "host" among them
    // The hex SHA-256 of the body, or UNSIGNED-PAYLOAD. Signed as given; sending it as
    // x-amz-content-sha256 (which S3 wants) is the caller's choice, among `headers`.
    std::string payload_hash = std::string(kEmptyPayloadSha256);
};

struct SigV4Scope {
    std::string region;
    std::string service;  // "s3"
};

struct SigV4Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;  // hex
    // The headers the signer added, to be sent as they are: X-Amz-Date, X-Amz-Security-Token
    // (with temporary credentials) and Authorization.
    std::vector<std::pair<std::string, std::string>> headers;
};

// Signs `request` at `when` (whole seconds, UTC). x-amz-date and, with a session token,
// x-amz-security-token are added to the signed headers; every header in `request` is signed.
SigV4Signature sigv4_sign(const SigV4Request& request, const S3Credentials& credentials,
                          const SigV4Scope& scope, std::chrono::system_clock::time_point when);

}  // namespace renderer::storage

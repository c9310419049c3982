#include "storage/sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <new>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "storage/digest.h"
#include "storage/remote_url.h"

namespace renderer::storage {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // libcrypto fails this only when it cannot allocate.
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
             &len) == nullptr) {
        throw std::bad_alloc();
    }
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hex(std::string_view raw) {
    std::string out;
    out.reserve(raw.size() * 2);
    for (const unsigned char c : raw) out += fmt::format("{:02x}", c);
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// SigV4's header value: leading and trailing blanks gone, each inner run of blanks one space.
std::string trimmed_value(std::string_view value) {
    std::string out;
    bool blank = false;
    for (const char c : value) {
        if (c == ' ' || c == '\t') {
            blank = true;
            continue;
        }
        if (blank && !out.empty()) out += ' ';
        blank = false;
        out += c;
    }
    return out;
}

// "20150830T123600Z" and its date, from whole seconds UTC.
std::pair<std::string, std::string> amz_date(std::chrono::system_clock::time_point when) {
    const std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char stamp[17];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    return {stamp, std::string(stamp, 8)};
}

}  // namespace

SigV4Signature sigv4_sign(const SigV4Request& request, const S3Credentials& credentials,
                          const SigV4Scope& scope, std::chrono::system_clock::time_point when) {
    const auto [timestamp, date] = amz_date(when);
    SigV4Signature out;
    out.headers.emplace_back("X-Amz-Date", timestamp);
    if (!credentials.session_token.empty()) {
        out.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
    }

    // Names lower-cased and sorted; a name given twice signs its values joined by commas, in
    // the order they are sent.
    std::map<std::string, std::string> canonical_headers;
    const auto add = [&](std::string_view name, std::string_view value) {
        auto [it, fresh] = canonical_headers.try_emplace(lower(name), trimmed_value(value));
        if (!fresh) it->second += "," + trimmed_value(value);
    };
    for (const auto& [name, value] : request.headers) add(name, value);
    for (const auto& [name, value] : out.headers) add(name, value);

    std::string header_block;
    std::string signed_headers;
    for (const auto& [name, value] : canonical_headers) {
        header_block += name + ":" + value + "\n";
        if (!signed_headers.empty()) signed_headers += ';';
        signed_headers += name;
    }

    out.canonical_request = fmt::format(
        "{}\n{}\n{}\n{}\n{}\n{}", request.method, uri_encode(request.path, true),
        canonical_query(request.query), header_block, signed_headers, request.payload_hash);
    const auto credential_scope =
        fmt::format("{}/{}/{}/aws4_request", date, scope.region, scope.service);
    out.string_to_sign = fmt::format("{}\n{}\n{}\n{}", kAlgorithm, timestamp, credential_scope,
                                     sha256_hex(out.canonical_request));

    auto key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
    key = hmac_sha256(key, scope.region);
    key = hmac_sha256(key, scope.service);
    key = hmac_sha256(key, "aws4_request");
    out.signature = hex(hmac_sha256(key, out.string_to_sign));

    out.headers.emplace_back(
        "Authorization",
        fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                    credentials.access_key_id, credential_scope, signed_headers, out.signature));
    return out;
}

}  // namespace renderer::storage

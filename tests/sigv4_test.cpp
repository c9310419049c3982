// Our SigV4 signer (src/storage/sigv4.cpp) on AWS's published test vectors (testdata/sigv4/,
// its README says where from): for each, the canonical request, the string to sign and the
// signature must be exactly AWS's. Then the S3 points no vector covers: a continuation token's
// '+', '/' and '=' in the canonical query, and an object key encoded once.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "storage/digest.h"
#include "storage/sigv4.h"
#include "support/fixtures.h"

namespace renderer::storage {
namespace {

namespace fs = std::filesystem;

struct Vector {
    std::string name;
    SigV4Request request;
    S3Credentials credentials;
    SigV4Scope scope;
    std::chrono::system_clock::time_point when;
};

std::string percent_decoded(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// request.txt: "METHOD PATH[?QUERY] HTTP/1.1", "Name:value" lines, a blank line, the body.
SigV4Request parse_request(const std::string& text, bool sign_body) {
    SigV4Request r;
    const auto line_end = text.find('\n');
    const std::string first = text.substr(0, line_end);
    const auto method_end = first.find(' ');
    r.method = first.substr(0, method_end);
    const auto target =
        first.substr(method_end + 1, first.rfind(" HTTP/") - method_end - 1);  // may hold spaces
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
        std::string_view rest = std::string_view(target).substr(q + 1);
        while (!rest.empty()) {
            const auto amp = rest.find('&');
            const auto pair = rest.substr(0, amp);
            const auto eq = pair.find('=');
            r.query.emplace_back(
                percent_decoded(pair.substr(0, eq)),
                eq == std::string_view::npos ? "" : percent_decoded(pair.substr(eq + 1)));
            rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        }
    }
    std::size_t pos = line_end == std::string::npos ? text.size() : line_end + 1;
    std::string body;
    while (pos < text.size()) {
        const auto end = text.find('\n', pos);
        const auto line =
            text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? text.size() : end + 1;
        if (line.empty()) {
            body = text.substr(pos);
            break;
        }
        const auto colon = line.find(':');
        r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
    bool has_hash_header = false;
    for (const auto& [name, value] : r.headers) {
        if (name == "x-amz-content-sha256") {
            r.payload_hash = value;
            has_hash_header = true;
        }
    }
    if (sign_body && !has_hash_header) {
        r.payload_hash = sha256_hex(body);
        r.headers.emplace_back("X-Amz-Content-Sha256", r.payload_hash);
    }
    return r;
}

Vector load(const fs::path& dir) {
    rapidjson::Document ctx;
    const auto json = testing::read_text(dir / "context.json");
    ctx.Parse(json.c_str());
    EXPECT_FALSE(ctx.HasParseError()) << dir;
    Vector v;
    v.name = dir.filename().string();
    const auto& c = ctx["credentials"];
    v.credentials.access_key_id = c["access_key_id"].GetString();
    v.credentials.secret_access_key = c["secret_access_key"].GetString();
    if (c.HasMember("token")) v.credentials.session_token = c["token"].GetString();
    v.scope = {.region = ctx["region"].GetString(), .service = ctx["service"].GetString()};
    std::tm tm{};
    EXPECT_NE(strptime(ctx["timestamp"].GetString(), "%Y-%m-%dT%H:%M:%SZ", &tm), nullptr);
    v.when = std::chrono::system_clock::from_time_t(timegm(&tm));
    v.request = parse_request(testing::read_text(dir / "request.txt"), ctx["sign_body"].GetBool());
    return v;
}

std::vector<fs::path> vector_dirs() {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(testing::testdata() / "sigv4")) {
        if (e.is_directory()) dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
    return dirs;
}

TEST(SigV4Test, EveryPublishedVectorSignsExactlyAsAws) {
    const auto dirs = vector_dirs();
    // The 29 of AWS's suite and the 4 of S3's documentation (testdata/sigv4/README.md).
    ASSERT_EQ(dirs.size(), 33u);
    for (const auto& dir : dirs) {
        SCOPED_TRACE(dir.filename().string());
        const auto v = load(dir);
        const auto s = sigv4_sign(v.request, v.credentials, v.scope, v.when);
        EXPECT_EQ(s.canonical_request, testing::read_text(dir / "header-canonical-request.txt"));
        EXPECT_EQ(s.string_to_sign, testing::read_text(dir / "header-string-to-sign.txt"));
        EXPECT_EQ(s.signature, testing::read_text(dir / "header-signature.txt"));
        ASSERT_FALSE(s.headers.empty());
        EXPECT_EQ(s.headers.back().first, "Authorization");
        EXPECT_NE(s.headers.back().second.find("Signature=" + s.signature), std::string::npos);
    }
}

TEST(SigV4Test, TheSessionTokenIsSentAndSigned) {
    const auto v = load(testing::testdata() / "sigv4" / "get-vanilla-with-session-token");
    const auto s = sigv4_sign(v.request, v.credentials, v.scope, v.when);
    ASSERT_EQ(s.headers.size(), 3u);
    EXPECT_EQ(s.headers[0],
              (std::pair<std::string, std::string>{"X-Amz-Date", "20150830T123600Z"}));
    EXPECT_EQ(s.headers[1].first, "X-Amz-Security-Token");
    EXPECT_EQ(s.headers[1].second, v.credentials.session_token);
    EXPECT_EQ(
        s.headers[2].second,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=" +
            testing::read_text(testing::testdata() / "sigv4" / v.name / "header-signature.txt"));
}

// The second page of a listing: S3's continuation tokens are base64, so '+', '/' and '=' must
// reach the canonical query as %2B, %2F and %3D (RFC 3986's unreserved set only), sorted by
// name; UNSIGNED-PAYLOAD is signed as the payload hash.
TEST(SigV4Test, AContinuationTokenIsEncodedAsS3WantsIt) {
    const SigV4Request request{
        .method = "GET",
        .path = "/renderer-frames",
        .query = {{"prefix", "stories/a b/"},
                  {"list-type", "2"},
                  {"continuation-token", "1Ab+/cD=="}},
        .headers = {{"host", "127.0.0.1:9000"}, {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}},
        .payload_hash = "UNSIGNED-PAYLOAD"};
    const auto s = sigv4_sign(request, {.access_key_id = "AKID", .secret_access_key = "secret"},
                              {.region = "eu-west-1", .service = "s3"},
                              std::chrono::system_clock::from_time_t(1'700'000'000));
    EXPECT_EQ(s.canonical_request,
              "GET\n/renderer-frames\n"
              "continuation-token=1Ab%2B%2FcD%3D%3D&list-type=2&prefix=stories%2Fa%20b%2F\n"
              "host:127.0.0.1:9000\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
              "x-amz-date:20231114T221320Z\n\n"
              "host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD");
}

// S3 keys are encoded once: a '%' in a key is sent (and signed) as %25, a space as %20, '/'
// kept; no '.' segment is removed.
TEST(SigV4Test, AnObjectKeyIsEncodedOnceAndNotNormalised) {
    const SigV4Request request{.method = "PUT",
                               .path = "/b/out/./100% done/ü.mp4",
                               .headers = {{"Host", "s3.eu-west-1.amazonaws.com"}}};
    const auto s = sigv4_sign(request, {.access_key_id = "AKID", .secret_access_key = "secret"},
                              {.region = "eu-west-1", .service = "s3"},
                              std::chrono::system_clock::from_time_t(1'700'000'000));
    EXPECT_EQ(s.canonical_request.substr(0, s.canonical_request.find('\n', 4)),
              "PUT\n/b/out/./100%25%20done/%C3%BC.mp4");
}

}  // namespace
}  // namespace renderer::storage

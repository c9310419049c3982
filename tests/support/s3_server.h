// A real S3 endpoint on loopback for the storage tests: s3rver behind a proxy that recomputes
// every request's SigV4 with aws4 and answers 403 on mismatch (tests/node/s3_test_server.js).
// One server (and its own data dir) per test; the control calls seed objects, inject faults,
// presign URLs and read the request log.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage/storage_config.h"
#include "support/process.h"

namespace renderer::testing {

struct S3Identity {
    std::string access_key = "AKIDRENDERERTEST";
    std::string secret_key = "renderer-test-secret-key-0123456789abcdef";
    std::string region = "eu-west-3";
    std::string session_token;  // when set, every request must carry it
};

// The store's transport: plain http (most tests), or https with a self-signed certificate made
// for this server alone (the openssl CLI, into its dir) naming `names` as subject alternative
// names: IP addresses as IP entries, anything else as DNS ones.
struct S3Tls {
    bool enabled = false;
    std::vector<std::string> names{"127.0.0.1", "localhost"};
};

class S3Server {
  public:
    explicit S3Server(const std::filesystem::path& dir, S3Identity identity = {}, S3Tls tls = {});
    ~S3Server();
    S3Server(const S3Server&) = delete;
    S3Server& operator=(const S3Server&) = delete;

    // http://127.0.0.1:PORT, or https:// in TLS mode.
    std::string endpoint() const;
    const S3Identity& identity() const { return identity_; }
    // The self-signed certificate (a PEM bundle that trusts this server); empty when plain.
    const std::filesystem::path& certificate() const { return certificate_; }

    void create_bucket(const std::string& bucket);
    void put(const std::string& bucket, const std::string& key, const std::string& data);
    // `count` one-byte objects PREFIX000000SUFFIX, PREFIX000001SUFFIX ...
    void put_many(const std::string& bucket, const std::string& prefix, int count,
                  const std::string& suffix = {});
    // The next `count` requests whose method is `method` and whose path and query contain
    // `path` and `query` answer `status` (or, with truncate, the real answer cut in half).
    void fault(const std::string& method, const std::string& path, const std::string& query,
               int status, int count, bool truncate = false, const std::string& location = {});
    // The next `count` such requests arrive with one byte of their body flipped (a bad link):
    // the store's integrity checks then refuse them as S3 does (400).
    void corrupt(const std::string& method, const std::string& path, const std::string& query,
                 int count);
    // The next `count` requests matching as in fault() are answered `status` with `body` (and
    // `headers`, "Name: value" lines) in place of the store's answer: a hostile or odd store.
    void answer(const std::string& method, const std::string& path, const std::string& query,
                int status, const std::string& body, int count,
                const std::vector<std::string>& headers = {});
    // The next `count` matching requests get the store's answer with `etag` as its ETag,
    // written raw (it may hold a byte Node would refuse to send, as a hostile store's may).
    void answer_etag(const std::string& method, const std::string& path, const std::string& etag,
                     int count);
    // The next `count` matching requests wait unanswered under `name` until release(name),
    // then are served as usual: a transfer the test holds open as long as it wants.
    void hold(const std::string& method, const std::string& path, const std::string& name,
              int count = 1);
    // How many requests wait under `name` now.
    int held(const std::string& name);
    void release(const std::string& name);
    // An aws4 query-signed URL (valid a day) for METHOD /bucket/key, https:// in TLS mode.
    std::string presign(const std::string& method, const std::string& path);
    // Every proxied request as JSON: [{"method","path","query","status"}...].
    std::string request_log();
    // TCP connections the store's port accepted so far, those whose TLS handshake the client
    // refused included (they never reach request_log()).
    int connections();

  private:
    std::string control(const std::string& method, const std::string& path,
                        const std::string& body = {});

    S3Identity identity_;
    std::filesystem::path certificate_;
    std::unique_ptr<Child> child_;
    int port_ = 0;          // the store (http or https)
    int control_port_ = 0;  // the control surface (always http)
};

// A storage configuration aimed at `server` with `identity`'s credentials and region (the
// server's own by default), trusting its certificate in TLS mode (AWS_CA_BUNDLE), and a
// free-space floor small enough for a test machine.
storage::StorageConfig storage_config_for(const S3Server& server);
storage::StorageConfig storage_config_for(const S3Server& server, const S3Identity& identity);

// How often `needle` occurs in `haystack` (requests in the request log).
int count_of(const std::string& haystack, const std::string& needle);

}  // namespace renderer::testing

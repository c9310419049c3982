// What the storage library needs from the environment: AWS credentials and region, an endpoint
// for S3-compatible stores, which buckets and hosts may be used, and the bounds on what one job
// may download. Read once at start; every secret is registered for redaction as it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace renderer::storage {

struct S3Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // empty unless temporary credentials (STS, IRSA)
};

struct StorageLimits {
    // A listing longer than this is refused before any download: a hostile or mistaken prefix
    // of a million objects must cost neither the disk nor the memory of a listing.
    std::size_t max_list_keys = 100'000;
    std::size_t max_files = 20'000;                   // frames downloaded for one job
    std::uint64_t max_bytes = 4ull << 30;             // bytes downloaded for one job
    int parallel = 8;                                 // concurrent connections of one download
    int attempts = 4;                                 // per object, the first included
    std::uint64_t multipart_threshold = 16ull << 20;  // larger uploads go in parts
    std::uint64_t part_size = 16ull << 20;
    std::uint64_t min_free_bytes = 256ull << 20;  // left on TMP_DIR's disk after downloading
};

struct StorageConfig {
    std::optional<S3Credentials> credentials;  // none: only presigned https:// URLs work
    std::string region = "us-east-1";
    // AWS_ENDPOINT_URL for S3-compatible stores ("http://127.0.0.1:9000"), without a trailing
    // slash; nullopt: https://s3.{region}.amazonaws.com. Path-style addressing either way.
    std::optional<std::string> endpoint;
    // AWS_CA_BUNDLE: a PEM file of the CAs that sign the store's certificate (a private CA),
    // given to libcurl for every transfer; nullopt: libcurl's default (the system's CAs).
    // Verification of the peer and its host name is never turned off.
    std::optional<std::filesystem::path> ca_bundle;
    // STORAGE_ALLOWED_HOSTS: bucket names (s3://) and host names (https://) jobs may name;
    // empty: any.
    std::vector<std::string> allowed_hosts;
    bool allow_http = false;  // STORAGE_ALLOW_HTTP=1: plain http:// to any host
    StorageLimits limits;
};

// From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (each also as NAME_FILE: a
// file holding it, such as a mounted Secret), AWS_REGION (or
// AWS_DEFAULT_REGION), AWS_ENDPOINT_URL, AWS_CA_BUNDLE, STORAGE_ALLOWED_HOSTS, STORAGE_ALLOW_HTTP,
// STORAGE_MAX_FILES, STORAGE_MAX_BYTES, STORAGE_MAX_LIST_KEYS, STORAGE_PARALLEL.
// Throws Error(ConfigError) naming the variable. The secret key and session token are
// registered with log::add_secret before this returns.
StorageConfig storage_config_from_env();

}  // namespace renderer::storage

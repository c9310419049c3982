// The URLs a job may name for its inputs and output (DESIGN §4.1): s3://bucket/key and
// presigned http(s) URLs. Parsed and checked here, before any request: bucket names, the
// allow-list, plain http only where it is safe; and the form of each that a log may show.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/storage_config.h"

namespace renderer::storage {

struct S3Location {
    std::string bucket;
    std::string key;  // may be empty (a bucket) or end with '/' (a prefix)
};

// s3://bucket/key: nullopt unless the scheme is s3 and the bucket a valid S3 bucket name
// (3-63 of a-z 0-9 . -). The key is taken as written (S3 keys are not percent-encoded).
std::optional<S3Location> parse_s3_url(std::string_view url);

bool is_s3_url(std::string_view url);

// AWS's URI encoding (SigV4): every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex);
// '/' kept when `keep_slash` (object keys in a path).
std::string uri_encode(std::string_view text, bool keep_slash);

// The query in SigV4's canonical form: names and values URI-encoded, sorted by name. libcurl
// 7.88 signs the query exactly as it is sent, so requests are sent in this form.
std::string canonical_query(std::vector<std::pair<std::string, std::string>> params);

// The URL without its query and fragment (a presigned URL's signature is in its query): the
// only form of a remote URL that may reach a log line, an error message or artifact_path. An
// s3:// URL is kept whole: it carries no secret, and '?' and '#' are ordinary bytes of a key.
std::string url_for_log(std::string_view url);

// Throws Error(PreflightError) when `location`'s key cannot be sent as written: a "." or ".."
// segment, which libcurl resolves before sending (and signing) a request, so it would address
// another key or, past STORAGE_ALLOWED_HOSTS, another bucket; or, when `names_object`, a key
// naming no object (empty or ending in '/': a PUT there would address the bucket itself or
// make a "directory"). `field` names the job field.
void check_s3_key(std::string_view field, const S3Location& location, bool names_object);

// Throws Error(PreflightError) when a job's URL may not be used: neither s3:// nor http(s)://,
// a bucket or host outside STORAGE_ALLOWED_HOSTS, plain http:// to a host that is not loopback
// (unless STORAGE_ALLOW_HTTP=1), s3:// without credentials, or an s3:// key check_s3_key()
// refuses (frames_url names a prefix; music_url and output_url name objects). `field` names the
// job field.
void check_remote_url(const StorageConfig& config, std::string_view field, std::string_view url);

}  // namespace renderer::storage

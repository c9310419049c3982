// Payload digests S3 checks: SHA-256 (hex, the SigV4 payload hash; base64,
// x-amz-checksum-sha256) and MD5 (base64, Content-MD5 of a presigned PUT), from OpenSSL's
// libcrypto.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace renderer::storage {

std::string sha256_hex(std::string_view data);
std::string sha256_base64(std::string_view data);
// Of a whole file, read in blocks; throws Error(IoError) when it cannot be read.
std::string file_md5_base64(const std::filesystem::path& path);
std::string file_md5_hex(const std::filesystem::path& path);
// The 16 raw bytes of an MD5, and lower-case hex of raw bytes: S3 gives a multipart object the
// ETag hex(MD5(raw MD5 of each part...))-N.
std::string md5_raw(std::string_view data);
std::string to_hex(std::string_view raw);

}  // namespace renderer::storage

// Uploads a rendered artifact to its output_url: s3:// (one PUT up to the multipart threshold,
// else a multipart upload with each part retried, aborted on any failure) or a presigned
// https:// PUT. Every s3:// body carries x-amz-checksum-sha256 (a multipart upload's parts
// and completion too), a presigned one Content-MD5; the store checks them, and a body it
// refuses as damaged is sent again. Success means the store confirmed the whole object.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "storage/s3_client.h"

namespace renderer::storage {

struct UploadResult {
    std::string etag;
    std::uint64_t bytes = 0;
    int parts = 0;  // 0: a single PUT
    int retries = 0;
};

// Throws storage_error()s once a request's attempts are spent (after aborting a multipart
// upload), Error(Cancelled) when `cancelled` says so (a multipart upload is aborted then too:
// a lost lease must leave no parts behind), Error(IoError) when the file cannot be read.
UploadResult upload_file(const S3Client& client, const std::filesystem::path& file,
                         std::string_view output_url, const CancelFn& cancelled);

}  // namespace renderer::storage

// S3's XML answers read with expat: ListObjectsV2 pages, the upload id of a new multipart
// upload, and error bodies. A document with a DOCTYPE is refused (no entity expansion at all).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace renderer::storage {

struct ListedObject {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
};

struct ListPage {
    std::vector<ListedObject> objects;
    std::size_t common_prefixes = 0;  // "subdirectories" rolled up by a delimiter
    bool truncated = false;
    std::string next_token;  // NextContinuationToken; set when truncated
};

// Throws Error(IoError) when `xml` is not a ListBucketResult (a proxy's HTML page, a cut
// answer), or a truncated page names no continuation token.
ListPage parse_list_page(std::string_view xml);

// The UploadId of an InitiateMultipartUploadResult; throws Error(IoError) when absent.
std::string parse_upload_id(std::string_view xml);

// The ETag of a CompleteMultipartUploadResult (S3 sends it in the body, not as a header);
// throws Error(IoError) when `xml` is not one (only whitespace, a proxy's page): a 200 alone
// does not confirm the upload.
std::string parse_complete_result(std::string_view xml);

struct S3ErrorBody {
    std::string code;  // SignatureDoesNotMatch, NoSuchKey, SlowDown ...
    std::string message;
};

// The <Error> document S3 answers with (also inside a 200 to CompleteMultipartUpload);
// nullopt when `xml` is not one.
std::optional<S3ErrorBody> parse_error_body(std::string_view xml);

}  // namespace renderer::storage

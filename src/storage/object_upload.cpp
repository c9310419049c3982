#include "storage/object_upload.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/log.h"
#include "storage/digest.h"
#include "storage/s3_xml.h"

namespace renderer::storage {
namespace {

namespace fs = std::filesystem;

constexpr const char* kContentType = "Content-Type: video/mp4";

// Reads `size` bytes at `offset`; Error(IoError) when the file is shorter or unreadable.
std::string read_range(const fs::path& file, std::uint64_t offset, std::uint64_t size) {
    std::ifstream in(file, std::ios::binary);
    std::string data(size, '\0');
    if (in) {
        in.seekg(static_cast<std::streamoff>(offset));
        in.read(data.data(), static_cast<std::streamsize>(size));
    }
    if (!in || static_cast<std::uint64_t>(in.gcount()) != size) {
        throw Error(ErrorClass::IoError,
                    fmt::format("cannot read {} bytes of {} at {}", size, file.string(), offset));
    }
    return data;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// S3 checks the body against it (400 BadDigest) and keeps it with the object; the signed
// x-amz-content-sha256 is checked too, but a checksum is what S3 stores and reports.
std::string checksum_header(std::string_view body) {
    return "x-amz-checksum-sha256: " + sha256_base64(body);
}

std::string required_etag(const StorageAnswer& answer, std::string_view what) {
    auto etag = answer.header("etag");
    if (!etag || etag->empty()) {
        throw Error(ErrorClass::IoError, fmt::format("{}: the storage confirmed no ETag", what));
    }
    return *etag;
}

UploadResult put_single(const S3Client& client, const fs::path& file, const S3Location& to,
                        std::uint64_t size, const CancelFn& cancelled) {
    const auto body = read_range(file, 0, size);
    const S3Request request{.method = "PUT",
                            .object = to,
                            .headers = {checksum_header(body), kContentType},
                            .payload_sha256 = sha256_hex(body)};
    const auto answer = client.perform(request, body, cancelled);
    return {.etag = required_etag(answer, "PUT " + to.key), .bytes = size};
}

// Aborts a multipart upload, so its parts stop costing storage; best effort, never cancelled
// (a lost lease is the usual reason to be here), and its failure only logged.
void abort_upload(const S3Client& client, const S3Location& to, const std::string& upload_id) {
    try {
        client.perform(
            S3Request{.method = "DELETE", .object = to, .query = {{"uploadId", upload_id}}}, {},
            [] { return false; });
    } catch (const Error& e) {
        log::warn("multipart_abort_failed",
                  {{"object", fmt::format("s3://{}/{}", to.bucket, to.key)},
                   {"reason", e.what()},
                   {"action",
                    "a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes "
                    "the parts left behind"}});
    }
}

// The ETag of the object at `to` when it holds exactly the bytes just uploaded in parts: S3
// gives it hex(MD5(the parts' raw MD5s))-N; some S3-compatible stores the whole file's MD5.
// nullopt for any other object, or none.
std::optional<std::string> published_etag(const S3Client& client, const S3Location& to,
                                          const fs::path& file, std::uint64_t size,
                                          const std::string& part_digests, int parts,
                                          const CancelFn& cancelled) {
    StorageAnswer head;
    try {
        head = client.perform(S3Request{.method = "HEAD", .object = to}, {}, cancelled);
    } catch (const Error& e) {
        if (e.error_class() == ErrorClass::Cancelled) throw;
        return std::nullopt;
    }
    if (head.header("content-length") != std::to_string(size)) return std::nullopt;
    const auto etag = head.header("etag").value_or("");
    std::string bare = etag;
    bare.erase(std::remove(bare.begin(), bare.end(), '"'), bare.end());
    if (bare == fmt::format("{}-{}", to_hex(md5_raw(part_digests)), parts) ||
        bare == file_md5_hex(file))
        return etag;
    return std::nullopt;
}

UploadResult put_multipart(const S3Client& client, const fs::path& file, const S3Location& to,
                           std::uint64_t size, const CancelFn& cancelled) {
    const auto part_size = client.config().limits.part_size;
    const auto created = client.perform(
        // Every part then must carry its SHA-256 checksum, and the completion must list them:
        // S3 refuses a part or a completion that does not match what it received.
        S3Request{.method = "POST",
                  .object = to,
                  .query = {{"uploads", ""}},
                  .headers = {kContentType, "x-amz-checksum-algorithm: SHA256"}},
        {}, cancelled);
    const auto upload_id = parse_upload_id(created.body);
    UploadResult result{.bytes = size};
    try {
        std::string manifest = "<CompleteMultipartUpload>";
        std::string part_digests;  // each part's raw MD5, for the ETag S3 gives the object
        for (std::uint64_t offset = 0; offset < size; offset += part_size) {
            if (cancelled && cancelled()) throw Error(ErrorClass::Cancelled, "cancelled");
            const int number = ++result.parts;
            const auto body = read_range(file, offset, std::min(part_size, size - offset));
            const auto checksum = sha256_base64(body);
            const S3Request request{
                .method = "PUT",
                .object = to,
                .query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                .headers = {"x-amz-checksum-sha256: " + checksum},
                .payload_sha256 = sha256_hex(body)};
            const auto answer = client.perform(request, body, cancelled);
            part_digests += md5_raw(body);
            manifest += fmt::format(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>"
                "<ChecksumSHA256>{}</ChecksumSHA256></Part>",
                number, xml_escape(required_etag(answer, "PUT part")), checksum);
        }
        manifest += "</CompleteMultipartUpload>";
        if (cancelled && cancelled()) throw Error(ErrorClass::Cancelled, "cancelled");
        StorageAnswer done;
        try {
            done = client.perform(S3Request{.method = "POST",
                                            .object = to,
                                            .query = {{"uploadId", upload_id}},
                                            .headers = {"Content-Type: application/xml"},
                                            .payload_sha256 = sha256_hex(manifest)},
                                  manifest, cancelled);
        } catch (const Error& e) {
            // A completion the store carried out but whose answer was lost is retried, and the
            // retry finds no upload (404 NoSuchUpload): the object itself says whether it is
            // this upload's.
            if (e.error_class() != ErrorClass::PreflightError) throw;
            const auto etag =
                published_etag(client, to, file, size, part_digests, result.parts, cancelled);
            if (!etag) throw;
            result.etag = *etag;
            return result;
        }
        // S3 may answer 200 and put the failure in the body.
        if (const auto error = parse_error_body(done.body)) {
            throw Error(ErrorClass::IoError,
                        fmt::format("completing the upload of s3://{}/{} failed: {}: {}", to.bucket,
                                    to.key, error->code, error->message));
        }
        result.etag = parse_complete_result(done.body);
        return result;
    } catch (...) {
        abort_upload(client, to, upload_id);
        throw;
    }
}

struct FileSource {
    int fd = -1;
    std::uint64_t remaining = 0;
};

std::size_t read_file(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* src = static_cast<FileSource*>(user);
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(size * count, src->remaining));
    for (;;) {
        const auto n = ::read(src->fd, buffer, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return CURL_READFUNC_ABORT;
        src->remaining -= static_cast<std::uint64_t>(n);
        return static_cast<std::size_t>(n);
    }
}

UploadResult put_presigned(const S3Client& client, const fs::path& file, const std::string& url,
                           std::uint64_t size, const CancelFn& cancelled) {
    const auto md5 = file_md5_base64(file);
    const auto what = "PUT " + url_for_log(url);
    CurlEasyPtr handle(curl_easy_init());
    if (!handle) throw std::bad_alloc();
    UploadResult result{.bytes = size};
    for (int n = 1;; ++n) {
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw Error(ErrorClass::IoError,
                        fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
        }
        FileSource source{fd, size};
        const auto headers =
            client.prepare_url(handle.get(), "PUT", url, {"Content-MD5: " + md5, kContentType});
        set_option(handle.get(), CURLOPT_UPLOAD, 1L);
        set_option(handle.get(), CURLOPT_READFUNCTION, read_file);
        set_option(handle.get(), CURLOPT_READDATA, &source);
        set_option(handle.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
        Attempt attempt;
        try {
            attempt = client.attempt(handle.get(), {}, cancelled);
        } catch (...) {
            ::close(fd);
            throw;
        }
        ::close(fd);
        if (attempt.answer && attempt.answer->status / 100 == 2) {
            result.etag = attempt.answer->header("etag").value_or("");
            return result;
        }
        if (!retryable(attempt) || n >= client.config().limits.attempts) {
            throw storage_error(attempt, what);
        }
        ++result.retries;
        if (!sleep_unless_cancelled(retry_backoff(n), cancelled))
            throw Error(ErrorClass::Cancelled, "cancelled");
    }
}

}  // namespace

UploadResult upload_file(const S3Client& client, const fs::path& file, std::string_view output_url,
                         const CancelFn& cancelled) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) {
        throw Error(ErrorClass::IoError,
                    fmt::format("cannot upload {}: {}", file.string(), ec.message()));
    }
    if (const auto to = parse_s3_url(output_url)) {
        check_s3_key("output_url", *to, true);
        return size <= client.config().limits.multipart_threshold
                   ? put_single(client, file, *to, size, cancelled)
                   : put_multipart(client, file, *to, size, cancelled);
    }
    return put_presigned(client, file, std::string(output_url), size, cancelled);
}

}  // namespace renderer::storage

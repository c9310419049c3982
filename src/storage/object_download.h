// Parallel downloads into a job's work dir on libcurl's multi interface: a bounded number of
// connections, retries with back-off per object, byte budget and free-space checks before and
// during, each file written as NAME.part and renamed only when whole. On any failure nothing
// of the batch is left behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/s3_client.h"

namespace renderer::storage {

struct DownloadItem {
    std::optional<S3Location> object;  // s3://; else `url`
    std::string url;                   // a presigned or public http(s) URL
    std::filesystem::path dest;
    std::optional<std::uint64_t> expected_size;  // from the listing: more or less is an error
    // Sent as If-None-Match: when the store answers 304 Not Modified, no file is written and
    // the item is reported not_modified (the caller has the object already).
    std::string if_none_match;
};

struct DownloadStats {
    std::uint64_t bytes = 0;
    int retries = 0;
    std::vector<std::string> etags;  // per item, as the store sent them (may be empty)
    std::vector<bool> not_modified;  // per item: 304 to its if_none_match
};

// Downloads every item, config().limits.parallel at a time. Throws: Error(IoError) with
// os_error ENOSPC when TMP_DIR's disk would fall below limits.min_free_bytes (checked before
// from the expected sizes, and during every 8 MiB written); Error(PreflightError) past
// limits.max_bytes or when an object's size differs from its listing; storage_error()s once
// an object's attempts are spent; Error(Cancelled) when `cancelled` says so.
//
// Items start in their order (a retry goes to the back of the queue), so the first ones land
// first. `on_complete` (optional) is called with an item's index as soon as its file is whole
// at its dest, on the calling thread; a render can start reading while the rest download. Only
// complete files are ever named: a failure later in the batch still removes them all.
//
// `spent_bytes`: what the job's earlier downloads took of limits.max_bytes (one budget for all
// of a job's inputs); counted as written, so the limit and the sizes in a message are the whole
// job's, as configured.
using CompleteFn = std::function<void(std::size_t index)>;
DownloadStats download_all(const S3Client& client, const std::vector<DownloadItem>& items,
                           const CancelFn& cancelled, const CompleteFn& on_complete = {},
                           std::uint64_t spent_bytes = 0);

}  // namespace renderer::storage

#include "storage/object_download.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include "storage/curl_callbacks.h"

namespace renderer::storage {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kSpaceCheckEvery = 8ull << 20;
constexpr std::size_t kMaxErrorBody = 64u << 10;

std::uint64_t free_bytes(const fs::path& dir) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

Error out_of_space(const fs::path& dir, std::uint64_t need, std::uint64_t min_free) {
    return Error(ErrorClass::IoError,
                 fmt::format("not enough free space in {} to download the job's inputs: {} "
                             "bytes more would leave less than {} bytes free",
                             dir.string(), need, min_free))
        .with_os_error(ENOSPC);
}

// What all transfers of one batch share.
struct Budget {
    const StorageLimits* limits;
    fs::path dir;
    std::uint64_t total = 0;  // bytes written so far, failed attempts taken back out
    std::uint64_t since_space_check = 0;
    std::optional<Error> stop_reason;  // set by a write callback that refused to go on
};

struct Transfer {
    std::size_t index = 0;
    int attempt = 1;
    char error[CURL_ERROR_SIZE] = {};  // libcurl's detail of a failure; outlives the handle
    CurlEasyPtr handle;
    CurlSlistPtr headers;
    int fd = -1;
    fs::path part;
    std::uint64_t written = 0;
    std::optional<std::uint64_t> expected;
    std::string error_body;
    HeaderList answer_headers;
    Budget* budget = nullptr;
    std::string what;

    ~Transfer() {
        if (fd >= 0) ::close(fd);
        if (!part.empty()) {
            std::error_code ec;
            fs::remove(part, ec);
        }
    }
};

long status_of(CURL* handle) {
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

std::size_t write_file(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (status_of(t->handle.get()) / 100 != 2) {
        // An error document: kept (bounded) for the message, never written to the file.
        t->error_body.append(
            data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, t->error_body.size())));
        return n;
    }
    auto& budget = *t->budget;
    if (t->expected && t->written + n > *t->expected) {
        budget.stop_reason = Error(
            ErrorClass::PreflightError,
            fmt::format("{} is larger than its listing said ({} bytes)", t->what, *t->expected));
        return 0;
    }
    if (budget.total + n > budget.limits->max_bytes) {
        budget.stop_reason =
            Error(ErrorClass::PreflightError,
                  fmt::format("the job's inputs exceed {} bytes (STORAGE_MAX_BYTES)",
                              budget.limits->max_bytes));
        return 0;
    }
    budget.since_space_check += n;
    if (budget.since_space_check >= kSpaceCheckEvery) {
        budget.since_space_check = 0;
        if (free_bytes(budget.dir) < budget.limits->min_free_bytes + n) {
            budget.stop_reason = out_of_space(budget.dir, n, budget.limits->min_free_bytes);
            return 0;
        }
    }
    std::size_t done = 0;
    while (done < n) {
        const auto w = ::write(t->fd, data + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            budget.stop_reason =
                Error(ErrorClass::IoError,
                      fmt::format("writing {}: {}", t->part.string(), std::strerror(errno)))
                    .with_os_error(errno);
            return 0;
        }
        done += static_cast<std::size_t>(w);
    }
    t->written += n;
    budget.total += n;
    return n;
}

struct Pending {
    std::size_t index;
    int attempt;
    Clock::time_point not_before;
};

std::string describe(const DownloadItem& item) {
    return item.object ? fmt::format("GET s3://{}/{}", item.object->bucket, item.object->key)
                       : "GET " + url_for_log(item.url);
}

}  // namespace

DownloadStats download_all(const S3Client& client, const std::vector<DownloadItem>& items,
                           const CancelFn& cancelled, const CompleteFn& on_complete,
                           std::uint64_t spent_bytes) {
    DownloadStats stats;
    stats.etags.resize(items.size());
    stats.not_modified.resize(items.size());
    if (items.empty()) return stats;
    const auto& limits = client.config().limits;
    Budget budget{.limits = &limits, .dir = items.front().dest.parent_path(), .total = spent_bytes};

    std::uint64_t expected_total = spent_bytes;
    for (const auto& item : items) expected_total += item.expected_size.value_or(0);
    if (expected_total > limits.max_bytes) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("the job's inputs are {} bytes, more than {} (STORAGE_MAX_BYTES)",
                                expected_total, limits.max_bytes));
    }
    // The earlier downloads' bytes are on the disk already: only this batch's still need room.
    if (free_bytes(budget.dir) < expected_total - spent_bytes + limits.min_free_bytes) {
        throw out_of_space(budget.dir, expected_total - spent_bytes, limits.min_free_bytes);
    }

    CurlMultiPtr multi(curl_multi_init());
    if (!multi) throw std::bad_alloc();
    std::deque<Pending> pending;
    for (std::size_t i = 0; i < items.size(); ++i) pending.push_back({i, 1, Clock::now()});
    std::vector<std::unique_ptr<Transfer>> active;
    std::vector<bool> done(items.size(), false);

    // Whatever ends the batch early takes its files with it: active transfers (their .part
    // files, in ~Transfer) and the files already complete.
    const auto fail = [&](Error e) -> Error {
        for (auto& t : active) curl_multi_remove_handle(multi.get(), t->handle.get());
        active.clear();
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::error_code ec;
            if (done[i]) fs::remove(items[i].dest, ec);
        }
        return e;
    };

    const auto start = [&](const Pending& p) {
        auto t = std::make_unique<Transfer>();
        const auto& item = items[p.index];
        t->index = p.index;
        t->attempt = p.attempt;
        t->expected = item.expected_size;
        t->budget = &budget;
        t->what = describe(item);
        t->handle.reset(curl_easy_init());
        if (!t->handle) throw std::bad_alloc();
        std::vector<std::string> headers;
        if (!item.if_none_match.empty()) headers.push_back("If-None-Match: " + item.if_none_match);
        t->headers = item.object ? client.prepare(t->handle.get(), S3Request{.object = *item.object,
                                                                             .headers = headers})
                                 : client.prepare_url(t->handle.get(), "GET", item.url, headers);
        t->part = item.dest;
        t->part += ".part";
        t->fd =
            ::open(t->part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (t->fd < 0) {
            const int err = errno;
            t->part.clear();
            throw Error(ErrorClass::IoError, fmt::format("cannot create {}.part: {}",
                                                         item.dest.string(), std::strerror(err)))
                .with_os_error(err);
        }
        set_option(t->handle.get(), CURLOPT_WRITEFUNCTION, write_file);
        set_option(t->handle.get(), CURLOPT_WRITEDATA, t.get());
        set_option(t->handle.get(), CURLOPT_HEADERFUNCTION, collect_header);
        set_option(t->handle.get(), CURLOPT_HEADERDATA, &t->answer_headers);
        set_option(t->handle.get(), CURLOPT_PRIVATE, t.get());
        set_option(t->handle.get(), CURLOPT_ERRORBUFFER, t->error);
        if (curl_multi_add_handle(multi.get(), t->handle.get()) != CURLM_OK) throw std::bad_alloc();
        active.push_back(std::move(t));
    };

    // Ends one transfer: the file renamed into place, or the attempt counted and the item
    // queued again, or the batch failed.
    const auto finish = [&](Transfer* t, CURLcode rc) {
        curl_multi_remove_handle(multi.get(), t->handle.get());
        auto it =
            std::find_if(active.begin(), active.end(), [t](const auto& p) { return p.get() == t; });
        std::unique_ptr<Transfer> owned = std::move(*it);
        active.erase(it);
        const auto& item = items[owned->index];
        if (budget.stop_reason) throw fail(*budget.stop_reason);

        Attempt attempt;
        if (rc != CURLE_OK) {
            attempt = transport_failure(rc, owned->error);
        } else {
            attempt.answer =
                StorageAnswer{.status = status_of(owned->handle.get()), .body = owned->error_body};
        }
        if (attempt.answer && attempt.answer->status == 304 && !item.if_none_match.empty()) {
            stats.not_modified[owned->index] = true;
            stats.etags[owned->index] = item.if_none_match;
            return;  // ~Transfer removes the empty .part file
        }
        const bool whole = attempt.answer && attempt.answer->status / 100 == 2 &&
                           (!owned->expected || owned->written == *owned->expected);
        if (whole) {
            ::close(owned->fd);
            owned->fd = -1;
            std::error_code ec;
            fs::rename(owned->part, item.dest, ec);
            if (ec) {
                throw fail(
                    Error(ErrorClass::IoError,
                          fmt::format("renaming {}: {}", owned->part.string(), ec.message())));
            }
            owned->part.clear();
            done[owned->index] = true;
            stats.bytes += owned->written;
            for (const auto& [name, value] : owned->answer_headers) {
                if (name == "etag") stats.etags[owned->index] = value;
            }
            if (on_complete) on_complete(owned->index);
            return;
        }
        if (attempt.answer && attempt.answer->status / 100 == 2) {
            attempt = Attempt{std::nullopt, fmt::format("the answer ended after {} of {} bytes",
                                                        owned->written, *owned->expected)};
        }
        budget.total -= owned->written;
        if (!retryable(attempt) || owned->attempt >= limits.attempts) {
            throw fail(storage_error(attempt, owned->what));
        }
        ++stats.retries;
        pending.push_back(
            {owned->index, owned->attempt + 1, Clock::now() + retry_backoff(owned->attempt)});
    };

    while (!pending.empty() || !active.empty()) {
        if (cancelled && cancelled()) throw fail(Error(ErrorClass::Cancelled, "cancelled"));
        const auto now = Clock::now();
        for (auto it = pending.begin();
             it != pending.end() && active.size() < static_cast<std::size_t>(limits.parallel);) {
            if (it->not_before <= now) {
                try {
                    start(*it);
                } catch (const Error& e) {
                    throw fail(e);
                }
                it = pending.erase(it);
            } else {
                ++it;
            }
        }
        int running = 0;
        curl_multi_perform(multi.get(), &running);
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            Transfer* t = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
            finish(t, msg->data.result);
        }
        if (!active.empty()) {
            curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
        } else if (!pending.empty()) {
            sleep_unless_cancelled(std::chrono::milliseconds(50), cancelled);
        }
    }
    return stats;
}

}  // namespace renderer::storage

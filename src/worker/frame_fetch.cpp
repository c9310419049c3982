#include "worker/frame_fetch.h"

#include <chrono>
#include <exception>

#include <fmt/format.h>

namespace renderer::worker {
namespace {

std::vector<std::filesystem::path> dests_of(const std::vector<storage::DownloadItem>& items) {
    std::vector<std::filesystem::path> out;
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.dest);
    return out;
}

// How often a waiting render looks at its own reasons to stop (a closing pipeline, a cancel).
constexpr auto kGiveUpPoll = std::chrono::milliseconds(50);

}  // namespace

FrameFetch::FrameFetch(storage::S3Client client, std::vector<storage::DownloadItem> items,
                       storage::CancelFn cancelled, Earlier earlier, log::Context log)
    : client_(std::move(client)),
      items_(std::move(items)),
      files_(dests_of(items_)),
      arrived_(items_.size(), false),
      thread_([this, cancelled = std::move(cancelled), earlier, log = std::move(log)] {
          run(cancelled, earlier, log);
      }) {}

FrameFetch::~FrameFetch() { stop(); }

void FrameFetch::stop() {
    abandon_ = true;
    std::lock_guard lock(stop_mutex_);
    if (thread_.joinable()) thread_.join();
}

void FrameFetch::run(storage::CancelFn cancelled, Earlier earlier, log::Context log) {
    const storage::CancelFn stop = [&] { return abandon_.load() || (cancelled && cancelled()); };
    const auto arrived = [this](std::size_t index) {
        {
            std::lock_guard lock(mutex_);
            arrived_[index] = true;
        }
        changed_.notify_all();
    };
    std::optional<Error> error;
    try {
        // The music's bytes count against the same STORAGE_MAX_BYTES (one budget per job).
        const auto stats = storage::download_all(client_, items_, stop, arrived, earlier.bytes);
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - earlier.start).count();
        log.info("inputs_downloaded", {{"files", earlier.files + items_.size()},
                                       {"unpacked_files", std::uint64_t{0}},
                                       {"bytes", earlier.bytes + stats.bytes},
                                       {"retries", earlier.retries + stats.retries},
                                       {"music_cached", earlier.music_cached},
                                       {"while_rendering", true},
                                       {"wall_sec", wall}});
    } catch (const Error& e) {
        error = e;
    } catch (const std::exception& e) {  // bad_alloc and the like: the job fails, the worker lives
        error = Error(ErrorClass::IoError, fmt::format("downloading the frames: {}", e.what()));
    }
    {
        std::lock_guard lock(mutex_);
        ended_ = true;
        error_ = std::move(error);
        // A failed batch removed its files: nothing it named may be read any more.
        if (error_) arrived_.assign(arrived_.size(), false);
    }
    changed_.notify_all();
}

bool FrameFetch::wait(std::size_t index, const std::function<bool()>& give_up) const {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, kGiveUpPoll,
                              [&] { return arrived_.at(index) || error_ || ended_; });
            if (error_) throw *error_;
            if (arrived_[index]) return true;
            if (ended_) {  // whole batch done without this frame: cannot happen; never hang on it
                throw Error(ErrorClass::IoError,
                            fmt::format("frame {} was not downloaded", files_.at(index).string()));
            }
        }
        if (give_up && give_up()) return false;
    }
}

void FrameFetch::finish() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ended_; });
    if (error_) throw *error_;
}

std::optional<Error> FrameFetch::failure() const {
    std::lock_guard lock(mutex_);
    return error_;
}

}  // namespace renderer::worker

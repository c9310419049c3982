// A job's frames downloading on a thread of their own while the render reads them (DESIGN
// §4.1). The download runs in frame order with the store's bounded parallelism, so the first
// frames land first; the render waits on each frame as it reaches it (media::FrameArrivals), so
// the download's wall time hides behind the encode instead of adding to it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "media/frame_arrivals.h"
#include "storage/object_download.h"

namespace renderer::worker {

class FrameFetch final : public media::FrameArrivals {
  public:
    // What the log line at the end adds to this download's own counts: the inputs fetched
    // before it (the music), and when the job's downloads began.
    struct Earlier {
        std::uint64_t files = 0;
        std::uint64_t bytes = 0;
        int retries = 0;
        bool music_cached = false;
        std::chrono::steady_clock::time_point start;
    };

    // Starts downloading `items` (every one a frame) at once, with its own copy of `client`.
    // `cancelled` stops it (a cancel, a lost lease). Logs inputs_downloaded through `log` when
    // the last frame is whole.
    FrameFetch(storage::S3Client client, std::vector<storage::DownloadItem> items,
               storage::CancelFn cancelled, Earlier earlier, log::Context log);
    // stop()
    ~FrameFetch() override;
    FrameFetch(const FrameFetch&) = delete;
    FrameFetch& operator=(const FrameFetch&) = delete;

    const std::vector<std::filesystem::path>& files() const override { return files_; }
    bool wait(std::size_t index, const std::function<bool()>& give_up) const override;

    // Waits for the whole download; throws its error.
    void finish();
    // Stops a download still running (its files are removed) and waits for its thread; a render
    // still waiting on a frame gets Error(Cancelled). Idempotent.
    void stop();
    // The download's error once it has failed: the render's failure is this one, and a render
    // retry would only meet it again.
    std::optional<Error> failure() const;

  private:
    void run(storage::CancelFn cancelled, Earlier earlier, log::Context log);

    const storage::S3Client client_;
    const std::vector<storage::DownloadItem> items_;
    const std::vector<std::filesystem::path> files_;
    std::atomic<bool> abandon_{false};
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<bool> arrived_;
    bool ended_ = false;
    std::optional<Error> error_;
    std::mutex stop_mutex_;  // stop() from two threads joins once
    std::thread thread_;     // last: started once everything above exists
};

}  // namespace renderer::worker

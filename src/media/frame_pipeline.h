// Decodes and converts frames on a bounded pool of threads ahead of the encoder and hands them
// out in order. Memory is bounded by the window, not by the number of frames. Identical frame
// files (a slide held for many frames) are decoded and converted once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "media/av_ptr.h"
#include "media/cancel_token.h"
#include "media/frame_converter.h"
#include "media/png_decoder.h"

namespace renderer::media {

class LibavLogCapture;

// A converted picture shared by every output frame that shows it.
using SharedFrame = std::shared_ptr<const AVFrame>;

struct FramePipelineStats {
    std::int64_t decoded = 0;  // distinct frames decoded and converted
    std::int64_t reused = 0;   // frames served from an identical file's picture
};

// Turns one frame file's bytes into pixels: decode_png's signature. A pipeline decodes with
// decode_png; tests pass a wrapper around it to hold a decode at a known point.
using PngDecodeFn =
    std::function<RgbImage(std::span<const std::uint8_t> bytes, const std::string& name,
                           std::uint64_t max_pixels, ByteBuffer* recycle)>;

// Called on a decode thread before frame `index`'s file is read: waits until the file may be
// read (frames still downloading), giving up when `stopping` says the pipeline is closing; throws
// to fail that frame (its error reaches next() in order, like a decode error).
using FrameGateFn = std::function<void(std::size_t index, const std::function<bool()>& stopping)>;

class FramePipeline {
  public:
    FramePipeline(std::vector<std::filesystem::path> files, Canvas canvas, int threads,
                  std::uint64_t max_pixels, const CancelToken& cancel, LibavLogCapture* log_capture,
                  PngDecodeFn decode = {}, FrameGateFn gate = {});
    ~FramePipeline();
    FramePipeline(const FramePipeline&) = delete;
    FramePipeline& operator=(const FramePipeline&) = delete;

    // The next frame in order; rethrows that frame's decode error. Call at most files.size() times.
    SharedFrame next();

    FramePipelineStats stats() const;

    // Content hash of each frame handed out so far (by next()), in order.
    const std::vector<std::uint64_t>& frame_hashes() const { return hashes_; }

  private:
    struct ContentKey {
        std::uint64_t size;
        std::uint64_t hash;
        auto operator<=>(const ContentKey&) const = default;
    };

    struct Scratch {
        ByteBuffer file;
        ByteBuffer pixels;
    };

    // The picture of one file content (or the error decoding it), shared by every frame that
    // shows that content, and which frame's file was decoded for it.
    struct Content {
        std::shared_future<SharedFrame> picture;
        std::size_t decoded_from = 0;
    };

    void worker_loop();
    Content produce(std::size_t index, FrameConverter& converter, Scratch& scratch);
    void submit_up_to(std::size_t end);

    const std::vector<std::filesystem::path> files_;
    const Canvas canvas_;
    const std::uint64_t max_pixels_;
    const std::size_t window_;
    const CancelToken& cancel_;
    LibavLogCapture* log_capture_;
    const PngDecodeFn decode_;
    const FrameGateFn gate_;

    std::mutex mutex_;
    std::condition_variable work_cv_;
    std::deque<std::size_t> work_;  // indices waiting for a worker
    bool stopping_ = false;
    // Per frame: which content it shows. A worker fulfils it as soon as the file is read and
    // hashed, so a repeat never holds a worker while its content is still being decoded.
    std::vector<std::promise<Content>> promises_;
    std::vector<std::uint64_t> hashes_;
    std::deque<std::future<Content>> in_flight_;  // in output order
    std::size_t submitted_ = 0;

    // Pictures of recently seen content, so a held slide is converted once. Small LRU.
    mutable std::mutex cache_mutex_;
    std::map<ContentKey, Content> cache_;
    std::list<ContentKey> cache_order_;
    FramePipelineStats stats_;

    std::vector<std::thread> threads_;
};

}  // namespace renderer::media

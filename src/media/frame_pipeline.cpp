#include "media/frame_pipeline.h"

#include <fmt/format.h>

#include "common/error.h"
#include "media/libav_log.h"
#include "media/png_decoder.h"
#include "media/render_key.h"

namespace renderer::media {
namespace {

// Slideshows hold a slide for consecutive frames (or alternate two): two entries catch that
// without keeping extra 1080p pictures alive for footage where every frame differs.
constexpr std::size_t kCacheEntries = 2;

}  // namespace

FramePipeline::FramePipeline(std::vector<std::filesystem::path> files, Canvas canvas, int threads,
                             std::uint64_t max_pixels, const CancelToken& cancel,
                             LibavLogCapture* log_capture, PngDecodeFn decode, FrameGateFn gate)
    : files_(std::move(files)),
      canvas_(canvas),
      max_pixels_(max_pixels),
      window_(static_cast<std::size_t>(threads) * 2 + 2),
      cancel_(cancel),
      log_capture_(log_capture),
      decode_(decode ? std::move(decode) : PngDecodeFn(decode_png)),
      gate_(std::move(gate)),
      promises_(files_.size()),
      hashes_(files_.size()) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { worker_loop(); });
}

FramePipeline::~FramePipeline() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        work_.clear();
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void FramePipeline::submit_up_to(std::size_t end) {
    end = std::min(end, files_.size());
    if (submitted_ >= end) return;
    {
        std::lock_guard lock(mutex_);
        for (; submitted_ < end; ++submitted_) {
            in_flight_.push_back(promises_[submitted_].get_future());
            work_.push_back(submitted_);
        }
    }
    work_cv_.notify_all();
}

SharedFrame FramePipeline::next() {
    const std::size_t consumed = submitted_ - in_flight_.size();  // the index handed out now
    submit_up_to(consumed + window_);
    if (in_flight_.empty())
        throw Error(ErrorClass::DecodeError, "frame pipeline read past the last frame");
    auto fut = std::move(in_flight_.front());
    in_flight_.pop_front();
    submit_up_to(consumed + 1 + window_);
    // First which content the frame shows, then that content's picture: a repeat of a frame
    // still being decoded waits here, on the encoder's thread, not on a decode thread.
    const Content content = fut.get();
    if (content.decoded_from == consumed) return content.picture.get();
    try {
        return content.picture.get();
    } catch (const Error& e) {
        // The same bytes failed under the name of the file that was decoded, whichever thread
        // hashed them first: name this frame, so the error points at the frame the render
        // stopped on, the same on every run.
        const std::string decoded =
            fmt::format("frame '{}'", files_[content.decoded_from].filename().string());
        const std::string here = fmt::format("frame '{}'", files_[consumed].filename().string());
        const std::string_view what = e.what();
        throw Error(e.error_class(),
                    what.starts_with(decoded) ? here + std::string(what.substr(decoded.size()))
                                              : fmt::format("{}: {}", here, what),
                    e.stderr_snippet());
    }
}

void FramePipeline::worker_loop() {
    LibavLogCapture::ThreadScope scope(log_capture_);
    FrameConverter converter(canvas_);
    Scratch scratch;  // this thread's buffers, reused frame after frame
    for (;;) {
        std::size_t index = 0;
        {
            std::unique_lock lock(mutex_);
            work_cv_.wait(lock, [this] { return stopping_ || !work_.empty(); });
            if (stopping_) return;
            index = work_.front();
            work_.pop_front();
        }
        try {
            if (cancel_.cancelled()) throw Error(*cancel_.reason(), "render cancelled");
            promises_[index].set_value(produce(index, converter, scratch));
        } catch (...) {
            promises_[index].set_exception(std::current_exception());
        }
    }
}

FramePipeline::Content FramePipeline::produce(std::size_t index, FrameConverter& converter,
                                              Scratch& scratch) {
    const auto& path = files_[index];
    if (gate_) {
        gate_(index, [this] {
            std::lock_guard lock(mutex_);
            return stopping_;
        });
    }
    auto& bytes = scratch.file;
    read_file_into(path, bytes, "frame");
    const ContentKey key{bytes.size(), content_hash(bytes)};
    hashes_[index] = key.hash;  // each index is written by one task only

    std::promise<SharedFrame> own;
    const Content content{.picture = own.get_future().share(), .decoded_from = index};
    {
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(key); it != cache_.end()) {
            ++stats_.reused;
            cache_order_.remove(key);
            cache_order_.push_back(key);
            // Seen before, perhaps still being decoded: hand out its future without waiting on it,
            // so this thread takes the next frame instead of idling (and never waits holding the
            // lock every other decode thread needs).
            return it->second;
        }
        cache_.emplace(key, content);
        cache_order_.push_back(key);
        while (cache_order_.size() > kCacheEntries) {
            cache_.erase(cache_order_.front());
            cache_order_.pop_front();
        }
        ++stats_.decoded;
    }
    // The first occurrence decodes; its picture or its error reaches every repeat through
    // `content`.
    try {
        RgbImage image = decode_(bytes, path.filename().string(), max_pixels_, &scratch.pixels);
        FramePtr frame = converter.convert(image);
        scratch.pixels = std::move(image.storage);
        own.set_value(SharedFrame(frame.release(), AvDeleter{}));
    } catch (...) {
        own.set_exception(std::current_exception());
    }
    return content;
}

FramePipelineStats FramePipeline::stats() const {
    std::lock_guard lock(cache_mutex_);
    return stats_;
}

}  // namespace renderer::media

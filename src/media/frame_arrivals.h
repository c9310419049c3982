// Frames that are still arriving when a render starts: the worker downloads a job's frames from
// object storage while the render reads the first ones (DESIGN §4.1). The render learns the
// frame list up front and waits on each frame before reading it; everything else about the
// render (its checks, its output, its errors) is the same as for frames already on disk.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <vector>

namespace renderer::media {

class FrameArrivals {
  public:
    virtual ~FrameArrivals() = default;

    // Every frame file of the job, in frame order, all inside the request's frames_dir. None of
    // them may be read before wait() says it is whole.
    virtual const std::vector<std::filesystem::path>& files() const = 0;

    // Blocks until files()[index] is whole on disk (true), or until `give_up` returns true
    // (false; polled a few times a second). Throws the fetch's error (its class and message)
    // when the file will never arrive.
    virtual bool wait(std::size_t index, const std::function<bool()>& give_up) const = 0;
};

}  // namespace renderer::media

// Captures what libav logs during one render: the last lines go into a ring buffer (the
// "stderr snippet" reported on failure) and, with --debug, every line into a report file.
// Routing is by the context pointer libav passes (encoder threads log too), then by the
// thread that installed the capture.
#pragma once

#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

namespace renderer::media {

class LibavLogCapture {
  public:
    // Installs this capture for the calling thread; with `report_path` every line is also
    // written to that file.
    explicit LibavLogCapture(std::optional<std::filesystem::path> report_path = std::nullopt);
    ~LibavLogCapture();
    LibavLogCapture(const LibavLogCapture&) = delete;
    LibavLogCapture& operator=(const LibavLogCapture&) = delete;

    // Makes this capture current for another thread (decode pool workers) until the guard dies.
    class ThreadScope {
      public:
        explicit ThreadScope(LibavLogCapture* capture);
        ~ThreadScope();
        ThreadScope(const ThreadScope&) = delete;
        ThreadScope& operator=(const ThreadScope&) = delete;

      private:
        LibavLogCapture* previous_;
    };

    // The last lines logged (warnings and errors), newline separated.
    std::string snippet() const;
    // snippet() of the capture current on this thread, or empty.
    static std::string current_snippet();

    // Installs the process-wide av_log callback (idempotent).
    static void install();

    void append(int level, const std::string& line);
    bool wants(int level) const;
    int& print_prefix() { return print_prefix_; }

  private:
    friend class LibavLogRoute;
    void attach(const void* ctx);
    void detach(const void* ctx);

    static constexpr std::size_t kMaxLines = 20;
    mutable std::mutex mutex_;
    std::deque<std::string> lines_;
    std::FILE* report_ = nullptr;
    int print_prefix_ = 1;
    LibavLogCapture* previous_;
};

// Routes the messages libav logs with `ctx` (an AVCodecContext*, AVFormatContext*, SwrContext*…)
// to `capture` for as long as the guard lives: attach and detach as one scoped pair, so no path
// that throws leaves a route to a freed context behind. Declare the guard after the context's
// owner, so it is destroyed (detached) first.
class LibavLogRoute {
  public:
    LibavLogRoute() = default;
    LibavLogRoute(LibavLogCapture& capture, const void* ctx);
    ~LibavLogRoute();
    LibavLogRoute(LibavLogRoute&& other) noexcept;
    LibavLogRoute& operator=(LibavLogRoute&& other) noexcept;
    LibavLogRoute(const LibavLogRoute&) = delete;
    LibavLogRoute& operator=(const LibavLogRoute&) = delete;

  private:
    LibavLogCapture* capture_ = nullptr;
    const void* ctx_ = nullptr;
};

}  // namespace renderer::media

// Atomic publication of a file, the systemd way: write a hidden temp file next to the target,
// fsync it, rename it over the target, fsync the directory. The temp file is unlinked on every
// path that does not commit.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace renderer {

class AtomicFile {
  public:
    // Reserves a unique hidden temp name in `final_path`'s directory (created with O_EXCL).
    explicit AtomicFile(std::filesystem::path final_path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    const std::filesystem::path& temp_path() const { return temp_; }
    const std::filesystem::path& final_path() const { return final_; }

    // fsync temp, rename to final, fsync directory. Throws Error(IoError) on failure.
    void commit();
    // Unlinks the temp file now (idempotent).
    void discard() noexcept;

  private:
    std::filesystem::path final_;
    std::filesystem::path temp_;
    bool done_ = false;
};

// Prefix of every temp file the renderer creates, so a sweep at start can find stale ones.
inline constexpr const char* kTempPrefix = ".renderer-tmp-";

// Removes temp files left in `dir` by a crashed process: those not modified for `min_age`
// (a live render writes continuously, so another worker's temp file is never taken for stale).
// Returns how many were removed.
int sweep_stale_temp_files(const std::filesystem::path& dir, std::chrono::seconds min_age);

}  // namespace renderer

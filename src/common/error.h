// One error type for the whole service: a class the API and the logs understand, an actionable
// message and, for libav failures, the last lines libav logged.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace renderer {

enum class ErrorClass {
    PreflightError,  // bad or missing input found before any encoder is opened
    DecodeError,     // an input could not be decoded mid-render
    EncodeError,     // an encoder or the muxer failed
    IoError,         // the filesystem failed us (ENOSPC, EIO, permissions on output)
    Timeout,         // JOB_TIMEOUT_SEC elapsed
    LeaseLost,       // the API took the job back
    Cancelled,       // shutdown or caller cancelled
    ConfigError,     // invalid configuration (exit 78)
    UsageError,      // invalid command line (exit 64)
    ApiError,        // the job API answered something we cannot use
};

std::string_view to_string(ErrorClass c);

// Transient errors may succeed on retry under the same lease; everything else is permanent.
bool is_transient(ErrorClass c);

class Error : public std::runtime_error {
  public:
    Error(ErrorClass cls, std::string message, std::string stderr_snippet = {})
        : std::runtime_error(std::move(message)), cls_(cls), snippet_(std::move(stderr_snippet)) {}

    ErrorClass error_class() const { return cls_; }
    const std::string& stderr_snippet() const { return snippet_; }

    // The errno the system reported for this failure (ENOSPC from a write, EIO from a read),
    // 0 when none did. The class says what failed; this says why, where the worker must tell
    // its machine's fault (out of space) from the job's.
    int os_error() const { return os_error_; }
    Error& with_os_error(int e) {
        os_error_ = e;
        return *this;
    }

  private:
    ErrorClass cls_;
    std::string snippet_;
    int os_error_ = 0;
};

// The failure was for lack of space: ENOSPC, EDQUOT, or a refusal to start below MIN_FREE_BYTES.
bool is_out_of_space(const Error& e);

// The message of an exception caught as exception_ptr (HTTP handlers), or "unknown exception".
std::string exception_message(std::exception_ptr ep);

// Exit codes from sysexits.h, used by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitConfig = 78;

}  // namespace renderer

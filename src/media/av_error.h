// libav return codes turned into renderer::Error at the point of failure.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace renderer::media {

std::string av_error_text(int code);

// Throws Error(cls, "<what>: <av_strerror>") with the current render's libav log snippet
// when rc < 0; returns rc otherwise.
int av_check(int rc, ErrorClass cls, std::string_view what);

[[noreturn]] void av_fail(ErrorClass cls, std::string message);

// True for an errno the I/O layer passed up (EIO, ENOSPC, ENOENT after the file or its dir was
// removed...): the filesystem's fault, transient, an IoError. False for libav's own codes
// (FFERRTAG values: INVALIDDATA, EOF...) and for the errnos libav uses for bad parameters.
bool is_io_error(int rc);

}  // namespace renderer::media

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

}  // namespace renderer::media

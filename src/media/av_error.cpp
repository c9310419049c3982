#include "media/av_error.h"

#include <cerrno>

#include <fmt/format.h>

extern "C" {
#include <libavutil/error.h>
}

#include "media/libav_log.h"

namespace renderer::media {

std::string av_error_text(int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, buf, sizeof buf);
    return buf;
}

void av_fail(ErrorClass cls, std::string message) {
    throw Error(cls, std::move(message), LibavLogCapture::current_snippet());
}

int av_check(int rc, ErrorClass cls, std::string_view what) {
    if (rc >= 0) return rc;
    Error e(cls, fmt::format("{}: {}", what, av_error_text(rc)),
            LibavLogCapture::current_snippet());
    // AVERROR(e) is -e for the errnos the I/O layer passes up; FFERRTAGs are far below.
    if (rc > -4096) e.with_os_error(-rc);
    throw e;
}

bool is_io_error(int rc) {
    const bool errno_code = rc < 0 && rc > -4096;  // AVERROR(e) is -e; FFERRTAGs are far below
    const bool parameter_error = rc == AVERROR(EINVAL) || rc == AVERROR(ENOSYS) ||
                                 rc == AVERROR(ERANGE) || rc == AVERROR(EDOM);
    return errno_code && !parameter_error;
}

}  // namespace renderer::media

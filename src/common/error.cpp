#include "common/error.h"

#include <cerrno>

namespace renderer {

std::string_view to_string(ErrorClass c) {
    switch (c) {
        case ErrorClass::PreflightError:
            return "PreflightError";
        case ErrorClass::DecodeError:
            return "DecodeError";
        case ErrorClass::EncodeError:
            return "EncodeError";
        case ErrorClass::IoError:
            return "IoError";
        case ErrorClass::Timeout:
            return "Timeout";
        case ErrorClass::LeaseLost:
            return "LeaseLost";
        case ErrorClass::Cancelled:
            return "Cancelled";
        case ErrorClass::ConfigError:
            return "ConfigError";
        case ErrorClass::UsageError:
            return "UsageError";
        case ErrorClass::ApiError:
            return "ApiError";
    }
    return "Error";
}

bool is_transient(ErrorClass c) { return c == ErrorClass::IoError; }

bool is_out_of_space(const Error& e) { return e.os_error() == ENOSPC || e.os_error() == EDQUOT; }

std::string exception_message(std::exception_ptr ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
    }
    return "unknown exception";
}

}  // namespace renderer

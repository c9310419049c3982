// UTC timestamps as text, one format for logs and API answers, and the RFC 3339 parser for what
// the API sends.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace renderer {

// "2026-11-28T19:50:37.123Z" (RFC 3339, UTC, milliseconds).
std::string format_utc_millis(std::chrono::system_clock::time_point tp);

// RFC 3339 / ISO 8601 timestamps with a Z or ±hh:mm offset and optional fraction, as UTC; nullopt
// when malformed or outside 1970-2200 (the 64-bit nanosecond clock overflows past 2262).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// "Sun, 06 Nov 1994 08:49:37 GMT": the HTTP Date header's IMF-fixdate (RFC 9110), whole seconds,
// English names whatever the locale.
std::string format_http_date(std::chrono::system_clock::time_point tp);

}  // namespace renderer

// UTC timestamps as text, one format for logs and API answers.
#pragma once

#include <chrono>
#include <string>

namespace renderer {

// "2026-11-28T19:50:37.123Z" (RFC 3339, UTC, milliseconds).
std::string format_utc_millis(std::chrono::system_clock::time_point tp);

// "Sun, 06 Nov 1994 08:49:37 GMT": the HTTP Date header's IMF-fixdate (RFC 9110), whole seconds,
// English names whatever the locale.
std::string format_http_date(std::chrono::system_clock::time_point tp);

}  // namespace renderer

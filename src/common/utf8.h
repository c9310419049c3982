// UTF-8 checks for names that come from outside (file names on disk): JSON logs, error messages
// and API status bodies must stay valid UTF-8, so a name that is not is refused or escaped.
#pragma once

#include <string>
#include <string_view>

namespace renderer {

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool is_valid_utf8(std::string_view text);

// True when `text` is well-formed UTF-8 without control characters: quotable_utf8 would
// quote it unchanged (but for the cut).
bool is_quotable_utf8(std::string_view text);

// `text` with every byte that is not part of a well-formed UTF-8 sequence written as \xNN, so
// the result is valid UTF-8 and still shows an operator which bytes were wrong.
std::string escape_invalid_utf8(std::string_view text);

// `text` fit to quote in a log line or a status body: invalid bytes escaped as above, and so are
// control characters (C0, DEL, C1: a newline would forge a line, ESC or CSI drive a terminal),
// each byte as \xNN; cut to at most `max_bytes` between characters and escapes (a cut through
// one would leave the quote invalid UTF-8 or a misleading escape).
std::string quotable_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace renderer

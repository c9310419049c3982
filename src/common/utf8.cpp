#include "common/utf8.h"

#include <algorithm>

#include <fmt/format.h>

namespace renderer {
namespace {

// Length of the well-formed sequence starting at `i`, or 0 when the byte there does not start
// one (the ranges are those of Unicode's table 3-7).
std::size_t sequence_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    if (b0 < 0x80) return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        len = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        len = 3;
        if (b0 == 0xe0) lo = 0xa0;  // overlong
        if (b0 == 0xed) hi = 0x9f;  // surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        len = 4;
        if (b0 == 0xf0) lo = 0x90;  // overlong
        if (b0 == 0xf4) hi = 0x8f;  // past U+10FFFF
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < len; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
    }
    return len;
}

// Whether the character of `n` bytes at `i` (n == 0: an invalid byte) is not quotable as is:
// invalid, or a control character (C0, DEL, C1 U+0080..U+009F, which includes CSI).
bool needs_escape(std::string_view s, std::size_t i, std::size_t n) {
    const auto lead = static_cast<unsigned char>(s[i]);
    return n == 0 || lead < 0x20 || lead == 0x7f ||
           (n == 2 && lead == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0);
}

}  // namespace

bool is_quotable_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = sequence_length(text, i);
        if (needs_escape(text, i, n)) return false;
        i += n;
    }
    return true;
}

bool is_valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = sequence_length(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string escape_invalid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = sequence_length(text, i);
        if (n == 0) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string quotable_utf8(std::string_view text, std::size_t max_bytes) {
    std::string out;
    out.reserve(std::min(text.size(), max_bytes));
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = sequence_length(text, i);
        // Control characters are valid UTF-8 but not quotable: a newline or carriage return
        // forges a line in a text log or terminal, ESC and C1 start escape sequences. Escaped
        // byte for byte, like invalid bytes.
        const bool control = needs_escape(text, i, n);
        std::string piece;
        if (control) {
            for (std::size_t k = 0; k < std::max<std::size_t>(n, 1); ++k) {
                piece += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i + k]));
            }
        } else {
            piece = text.substr(i, n);
        }
        // Whole pieces only: a cut through a character or an escape would leave the quote
        // invalid or misleading.
        if (out.size() + piece.size() > max_bytes) break;
        out += piece;
        i += std::max<std::size_t>(n, 1);
    }
    return out;
}

}  // namespace renderer

#include "common/env.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "common/error.h"

namespace renderer {
namespace {

[[noreturn]] void fail(std::string_view name, std::string_view expected, std::string_view got) {
    throw Error(ErrorClass::ConfigError,
                fmt::format("{} must be {}; got '{}'", name, expected, got));
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Splits "2.5M" into 2.5 and "M"; false if the number part is not a finite non-negative number.
bool split_number(std::string_view text, double& number, std::string_view& suffix) {
    text = trim(text);
    std::size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == 0) return false;
    const std::string num(text.substr(0, i));
    char* end = nullptr;
    errno = 0;
    number = std::strtod(num.c_str(), &end);
    if (errno != 0 || end != num.c_str() + num.size() || !std::isfinite(number)) return false;
    suffix = trim(text.substr(i));
    return true;
}

}  // namespace

std::optional<std::string> env_get(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
}

std::int64_t parse_int(std::string_view name, std::string_view text, std::int64_t min,
                       std::int64_t max) {
    const auto t = trim(text);
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || value < min ||
        value > max) {
        fail(name, fmt::format("an integer from {} to {}", min, max), text);
    }
    return value;
}

double parse_double(std::string_view name, std::string_view text, double min, double max) {
    double v = 0;
    std::string_view suffix;
    // A sign, for ranges below zero (dB and LUFS settings); sizes and rates take none.
    std::string_view unsigned_text = trim(text);
    const bool negative = !unsigned_text.empty() && unsigned_text.front() == '-';
    if (negative) unsigned_text.remove_prefix(1);
    if (!split_number(unsigned_text, v, suffix) || !suffix.empty() ||
        (v = negative ? -v : v) < min || v > max) {
        fail(name, fmt::format("a number from {} to {}", min, max), text);
    }
    return v;
}

std::uint64_t parse_bytes(std::string_view name, std::string_view text) {
    double v = 0;
    std::string_view suffix;
    if (!split_number(text, v, suffix))
        fail(name, "a byte size such as 2147483648, 512M or 2G", text);
    double mult = 1;
    std::string s(suffix);
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (s.empty() || s == "B")
        mult = 1;
    else if (s == "K" || s == "KB" || s == "KIB")
        mult = 1024.0;
    else if (s == "M" || s == "MB" || s == "MIB")
        mult = 1024.0 * 1024;
    else if (s == "G" || s == "GB" || s == "GIB")
        mult = 1024.0 * 1024 * 1024;
    else if (s == "T" || s == "TB" || s == "TIB")
        mult = 1024.0 * 1024 * 1024 * 1024;
    else
        fail(name, "a byte size such as 2147483648, 512M or 2G", text);
    const double bytes = v * mult;
    if (bytes > 9.0e18) fail(name, "a byte size below 8 EiB", text);
    return static_cast<std::uint64_t>(bytes);
}

std::int64_t parse_bitrate(std::string_view name, std::string_view text) {
    double v = 0;
    std::string_view suffix;
    if (!split_number(text, v, suffix)) fail(name, "a bit rate such as 192k or 2.5M", text);
    double mult = 1;
    if (suffix.empty())
        mult = 1;
    else if (suffix == "k" || suffix == "K")
        mult = 1e3;
    else if (suffix == "m" || suffix == "M")
        mult = 1e6;
    else
        fail(name, "a bit rate such as 192k or 2.5M", text);
    const double bps = v * mult;
    if (bps < 1000 || bps > 1e9) fail(name, "a bit rate from 1k to 1000M", text);
    return static_cast<std::int64_t>(std::llround(bps));
}

std::filesystem::path parse_abs_path(std::string_view name, std::string_view text) {
    std::filesystem::path p{std::string(text)};
    if (text.empty() || !p.is_absolute()) fail(name, "an absolute path", text);
    return p.lexically_normal();
}

std::int64_t env_int(const char* name, std::int64_t fallback, std::int64_t min, std::int64_t max) {
    const auto v = env_get(name);
    return v ? parse_int(name, *v, min, max) : fallback;
}

std::string env_string(const char* name, std::string fallback) {
    auto v = env_get(name);
    return v ? std::move(*v) : std::move(fallback);
}

std::filesystem::path env_abs_path(const char* name, std::string_view fallback) {
    const auto v = env_get(name);
    return parse_abs_path(name, v ? std::string_view(*v) : fallback);
}

}  // namespace renderer

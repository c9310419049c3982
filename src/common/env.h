// Typed, validated reading of configuration values from the environment (and from CLI text):
// every failure is a ConfigError naming the variable, the accepted range and what was given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace renderer {

// The variable's value, or nullopt when unset or empty.
std::optional<std::string> env_get(const char* name);

std::int64_t parse_int(std::string_view name, std::string_view text, std::int64_t min,
                       std::int64_t max);
double parse_double(std::string_view name, std::string_view text, double min, double max);
// Byte sizes: "2147483648", "512M", "2G", "64KiB" (binary multiples).
std::uint64_t parse_bytes(std::string_view name, std::string_view text);
// Bit rates: "192000", "192k", "2.5M" (decimal multiples), as bits per second.
std::int64_t parse_bitrate(std::string_view name, std::string_view text);
// An absolute path; relative ones are refused so a worker never depends on its cwd.
std::filesystem::path parse_abs_path(std::string_view name, std::string_view text);

std::int64_t env_int(const char* name, std::int64_t fallback, std::int64_t min, std::int64_t max);
std::string env_string(const char* name, std::string fallback);
std::filesystem::path env_abs_path(const char* name, std::string_view fallback);

}  // namespace renderer

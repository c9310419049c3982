// Structured event logging: one JSON object per line (or readable text), every value escaped by
// a JSON writer, registered secrets redacted from every line before it leaves the process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <spdlog/common.h>

namespace spdlog {
class logger;
}

namespace renderer::log {

using Value =
    std::variant<std::string, std::int64_t, std::uint64_t, double, bool, std::vector<std::string>>;

struct Field {
    template <typename T>
    Field(std::string k, T&& v) : key(std::move(k)), value(to_value(std::forward<T>(v))) {}

    std::string key;
    Value value;

  private:
    template <typename T>
    static Value to_value(T&& v) {
        using U = std::remove_cvref_t<T>;
        if constexpr (std::is_same_v<U, bool>) {
            return Value{v};
        } else if constexpr (std::is_integral_v<U> && std::is_unsigned_v<U>) {
            return Value{static_cast<std::uint64_t>(v)};
        } else if constexpr (std::is_integral_v<U>) {
            return Value{static_cast<std::int64_t>(v)};
        } else if constexpr (std::is_floating_point_v<U>) {
            return Value{static_cast<double>(v)};
        } else if constexpr (std::is_same_v<U, std::vector<std::string>>) {
            return Value{std::forward<T>(v)};
        } else {
            return Value{std::string(std::string_view(v))};
        }
    }
};

using Fields = std::vector<Field>;
using Level = spdlog::level::level_enum;

struct Options {
    bool json = false;
    Level level = Level::info;
};

// Installs the process logger. `sink` defaults to stdout; tests pass a capturing sink.
void init(const Options& options, std::shared_ptr<spdlog::sinks::sink> sink = nullptr);

// Every later line has each occurrence of `secret` replaced by "[REDACTED]", and so has any text
// passed through redacted(). The secret's JSON-escaped form is registered with it: an API that
// echoes what it was sent quotes a token holding '"' or '\\' escaped.
void add_secret(std::string secret);

// `text` with every registered secret replaced by "[REDACTED]". Log values are redacted before
// they are escaped, but text that is cut or re-encoded before it is logged (an API's error body
// cut to a few hundred characters) must be redacted first, or a cut through a secret leaves its
// first characters behind.
std::string redacted(std::string text);

// An answer from outside (an HTTP body) redacted for quoting. JSON is decoded first and written
// back compact, each string redacted as it stands decoded, so a secret is found whatever escapes
// the sender used (\\u0022, \\/, \\u003c ...); any other text is redacted as it is.
std::string redacted_body(std::string_view text);

// Parses "debug|info|warn|error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);

bool enabled(Level level);
void emit(Level level, std::string_view event, const Fields& fields);

inline void debug(std::string_view event, const Fields& fields = {}) {
    emit(Level::debug, event, fields);
}
inline void info(std::string_view event, const Fields& fields = {}) {
    emit(Level::info, event, fields);
}
inline void warn(std::string_view event, const Fields& fields = {}) {
    emit(Level::warn, event, fields);
}
inline void error(std::string_view event, const Fields& fields = {}) {
    emit(Level::err, event, fields);
}

// Ids (job_id, story_id, part_id) attached to every event of one unit of work.
class Context {
  public:
    Context() = default;
    explicit Context(Fields ids) : ids_(std::move(ids)) {}

    void emit(Level level, std::string_view event, const Fields& fields = {}) const;
    void debug(std::string_view event, const Fields& fields = {}) const {
        emit(Level::debug, event, fields);
    }
    void info(std::string_view event, const Fields& fields = {}) const {
        emit(Level::info, event, fields);
    }
    void warn(std::string_view event, const Fields& fields = {}) const {
        emit(Level::warn, event, fields);
    }
    void error(std::string_view event, const Fields& fields = {}) const {
        emit(Level::err, event, fields);
    }

    const Fields& ids() const { return ids_; }

  private:
    Fields ids_;
};

}  // namespace renderer::log

#include "common/log.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/json_parse.h"
#include "common/time_format.h"

namespace renderer::log {
namespace {

std::mutex g_secrets_mutex;
std::vector<std::string> g_secrets;
std::atomic<std::shared_ptr<spdlog::logger>> g_logger;

void redact(std::string& line) {
    std::lock_guard lock(g_secrets_mutex);
    for (const auto& secret : g_secrets) {
        for (auto pos = line.find(secret); pos != std::string::npos; pos = line.find(secret, pos)) {
            line.replace(pos, secret.size(), "[REDACTED]");
        }
    }
}

// A secret as a JSON encoder writes it inside a string. The token is printable ASCII without
// spaces, so only '"' and '\\' change (and '/' for encoders that escape it too).
std::vector<std::string> json_escaped_forms(const std::string& secret) {
    std::string plain, solidus;
    for (const char c : secret) {
        if (c == '"' || c == '\\') {
            plain += '\\';
            solidus += '\\';
        } else if (c == '/') {
            solidus += '\\';
        }
        plain += c;
        solidus += c;
    }
    std::vector<std::string> forms;
    for (auto* form : {&plain, &solidus}) {
        if (*form != secret && std::find(forms.begin(), forms.end(), *form) == forms.end())
            forms.push_back(std::move(*form));
    }
    return forms;
}

// Writes `v` compact with each string, key or value, redacted. The depth is bounded by the
// parser's cap, so the recursion is too.
void write_redacted(rapidjson::Writer<rapidjson::StringBuffer>& w, const rapidjson::Value& v) {
    const auto string = [&w](const rapidjson::Value& s, bool key) {
        const auto clean = redacted(std::string(s.GetString(), s.GetStringLength()));
        const auto size = static_cast<rapidjson::SizeType>(clean.size());
        key ? w.Key(clean.data(), size) : w.String(clean.data(), size);
    };
    if (v.IsString()) {
        string(v, false);
    } else if (v.IsObject()) {
        w.StartObject();
        for (const auto& m : v.GetObject()) {
            string(m.name, true);
            write_redacted(w, m.value);
        }
        w.EndObject();
    } else if (v.IsArray()) {
        w.StartArray();
        for (const auto& e : v.GetArray()) write_redacted(w, e);
        w.EndArray();
    } else {
        v.Accept(w);
    }
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::trace:
            return "trace";
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::err:
            return "error";
        case Level::critical:
            return "critical";
        default:
            return "off";
    }
}

// Secrets are replaced in each string before the writer escapes it: a secret holding '"' or '\\'
// no longer matches itself once escaped, so redacting only the finished line would miss it.
template <typename W>
void write_string(W& w, const std::string& s) {
    const auto clean = redacted(s);
    w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
}

template <typename W>
void write_value(W& w, const Value& v) {
    std::visit(
        [&w](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
                write_string(w, x);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                w.Int64(x);
            } else if constexpr (std::is_same_v<T, std::uint64_t>) {
                w.Uint64(x);
            } else if constexpr (std::is_same_v<T, double>) {
                w.Double(x);
            } else if constexpr (std::is_same_v<T, bool>) {
                w.Bool(x);
            } else {
                w.StartArray();
                for (const auto& s : x) write_string(w, s);
                w.EndArray();
            }
        },
        v);
}

// The payload handed to spdlog is itself a JSON object {"event":…, fields…} built by a writer;
// the formatters below add ts/level/service (JSON) or render it as text.
std::string payload_json(std::string_view event, const Fields& ids, const Fields& fields) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("event");
    w.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));
    for (const auto* list : {&ids, &fields}) {
        for (const auto& f : *list) {
            const auto key = redacted(f.key);
            w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
            write_value(w, f.value);
        }
    }
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

class JsonFormatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string_view payload(msg.payload.data(), msg.payload.size());
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        w.StartObject();
        const auto ts = format_utc_millis(msg.time);
        w.Key("ts");
        w.String(ts.c_str());
        w.Key("level");
        const auto lvl = level_name(msg.level);
        w.String(lvl.data(), static_cast<rapidjson::SizeType>(lvl.size()));
        w.Key("service");
        w.String("renderer");
        std::string line;
        if (!payload.empty() && payload.front() == '{') {
            // Splice the writer-built payload's members after our own.
            line.assign(buf.GetString(), buf.GetSize());
            line += ',';
            line.append(payload.substr(1));
        } else {
            // A message that did not come through emit(): keep it, escaped.
            w.Key("event");
            w.String("log");
            w.Key("msg");
            w.String(payload.data(), static_cast<rapidjson::SizeType>(payload.size()));
            w.EndObject();
            line.assign(buf.GetString(), buf.GetSize());
        }
        redact(line);
        line += '\n';
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonFormatter>();
    }
};

class TextFormatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string_view payload(msg.payload.data(), msg.payload.size());
        std::string line = format_utc_millis(msg.time);
        line += ' ';
        auto lvl = std::string(level_name(msg.level));
        lvl.resize(5, ' ');
        line += lvl;
        line += ' ';
        rapidjson::Document doc;
        if (!payload.empty() && payload.front() == '{' &&
            !doc.Parse(payload.data(), payload.size()).HasParseError() && doc.IsObject()) {
            for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
                const std::string_view key(it->name.GetString(), it->name.GetStringLength());
                if (key == "event") {
                    line.append(it->value.GetString(), it->value.GetStringLength());
                    continue;
                }
                line += ' ';
                line += key;
                line += '=';
                if (it->value.IsString()) {
                    line.append(it->value.GetString(), it->value.GetStringLength());
                } else {
                    rapidjson::StringBuffer vb;
                    rapidjson::Writer<rapidjson::StringBuffer> vw(vb);
                    it->value.Accept(vw);
                    line.append(vb.GetString(), vb.GetSize());
                }
            }
        } else {
            line.append(payload);
        }
        redact(line);
        line += '\n';
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<TextFormatter>();
    }
};

}  // namespace

void init(const Options& options, std::shared_ptr<spdlog::sinks::sink> sink) {
    if (!sink) sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("renderer", std::move(sink));
    if (options.json) {
        logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        logger->set_formatter(std::make_unique<TextFormatter>());
    }
    logger->set_level(options.level);
    logger->flush_on(Level::trace);  // one line, one flush: nothing sits in a buffer
    g_logger.store(std::move(logger));
}

std::string redacted(std::string text) {
    redact(text);
    return text;
}

std::string redacted_body(std::string_view text) {
    rapidjson::Document doc;
    if (!parse_untrusted_json(text, doc).empty()) return redacted(std::string(text));
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    write_redacted(w, doc);
    return {buf.GetString(), buf.GetSize()};
}

void add_secret(std::string secret) {
    if (secret.empty()) return;
    auto forms = json_escaped_forms(secret);
    forms.insert(forms.begin(), std::move(secret));
    std::lock_guard lock(g_secrets_mutex);
    // The same token is registered by several callers (env, then finalize()): keep one copy,
    // so redaction cost does not grow each time a configuration is read.
    for (auto& form : forms) {
        if (std::find(g_secrets.begin(), g_secrets.end(), form) == g_secrets.end())
            g_secrets.push_back(std::move(form));
    }
}

bool parse_level(std::string_view text, Level& out) {
    if (text == "debug")
        out = Level::debug;
    else if (text == "info")
        out = Level::info;
    else if (text == "warn" || text == "warning")
        out = Level::warn;
    else if (text == "error")
        out = Level::err;
    else
        return false;
    return true;
}

bool enabled(Level level) {
    auto logger = g_logger.load();
    return logger && logger->should_log(level);
}

namespace {
void emit_with_ids(Level level, std::string_view event, const Fields& ids, const Fields& fields) {
    auto logger = g_logger.load();
    if (!logger) {
        init(Options{});
        logger = g_logger.load();
    }
    if (!logger->should_log(level)) return;
    const auto payload = payload_json(event, ids, fields);
    logger->log(level, spdlog::string_view_t(payload.data(), payload.size()));
}
}  // namespace

void emit(Level level, std::string_view event, const Fields& fields) {
    emit_with_ids(level, event, {}, fields);
}

void Context::emit(Level level, std::string_view event, const Fields& fields) const {
    emit_with_ids(level, event, ids_, fields);
}

}  // namespace renderer::log

#include "support/capture_sink.h"

#include <sstream>

#include <gtest/gtest.h>

#include "common/log.h"

namespace renderer::testing {

void CaptureSink::sink_it_(const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string line(buf.data(), buf.size());
    while (!line.empty() && line.back() == '\n') line.pop_back();
    for (const auto& [event, action] : hooks_) {
        if (line.find("\"event\":\"" + event + "\"") != std::string::npos) action();
    }
    lines_.push_back(std::move(line));
}

void CaptureSink::on_event(const std::string& event, std::function<void()> action) {
    std::lock_guard lock(mutex_);
    hooks_.emplace_back(event, std::move(action));
}

std::vector<std::string> CaptureSink::lines() {
    std::lock_guard lock(mutex_);
    return lines_;
}

std::string CaptureSink::joined() {
    std::string out;
    for (const auto& l : lines()) out += l + "\n";
    return out;
}

std::vector<rapidjson::Document> CaptureSink::events(const std::string& event) {
    std::vector<rapidjson::Document> out;
    for (const auto& l : lines()) {
        rapidjson::Document d;
        if (d.Parse(l.c_str()).HasParseError() || !d.IsObject()) continue;
        if (!event.empty() && (!d.HasMember("event") || event != d["event"].GetString())) continue;
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<rapidjson::Document> json_lines(const std::string& text) {
    std::vector<rapidjson::Document> docs;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        rapidjson::Document d;
        EXPECT_FALSE(d.Parse(line.c_str()).HasParseError()) << "not JSON: " << line;
        docs.push_back(std::move(d));
    }
    return docs;
}

std::shared_ptr<CaptureSink> capture_json_logs(bool debug) {
    auto sink = std::make_shared<CaptureSink>();
    log::Options o;
    o.json = true;
    o.level = debug ? log::Level::debug : log::Level::info;
    log::init(o, sink);
    return sink;
}

}  // namespace renderer::testing

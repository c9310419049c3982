// A spdlog sink that keeps every formatted line, so tests can assert on the JSON logs.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <spdlog/sinks/base_sink.h>

namespace renderer::testing {

class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<std::string> lines();
    // Parsed JSON lines whose "event" equals `event` (all lines when empty).
    std::vector<rapidjson::Document> events(const std::string& event = {});
    std::string joined();

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override {}

private:
    std::vector<std::string> lines_;
};

// Each line of `text` (a process's captured output) parsed as JSON; a line that is not JSON
// fails the current test.
std::vector<rapidjson::Document> json_lines(const std::string& text);

// Installs a JSON-logging capture sink as the process logger and returns it.
std::shared_ptr<CaptureSink> capture_json_logs(bool debug = false);

}  // namespace renderer::testing

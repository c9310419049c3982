// A spdlog sink that keeps every formatted line, so tests can assert on the JSON logs.
#pragma once

#include <functional>
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
    // Runs `action` (on the logging thread) each time an event named `event` is logged: a hook
    // at a known point of a render, e.g. to change its inputs right after preflight.
    void on_event(const std::string& event, std::function<void()> action);

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override {}

  private:
    std::vector<std::string> lines_;
    std::vector<std::pair<std::string, std::function<void()>>> hooks_;
};

// Each line of `text` (a process's captured output) parsed as JSON; a line that is not JSON
// fails the current test.
std::vector<rapidjson::Document> json_lines(const std::string& text);

// Installs a JSON-logging capture sink as the process logger and returns it.
std::shared_ptr<CaptureSink> capture_json_logs(bool debug = false);

}  // namespace renderer::testing

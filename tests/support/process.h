// Runs a program (the real `renderer` binary) as a child process with extra env vars, capturing
// stdout and stderr, killed if it outlives its timeout.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace renderer::testing {

struct RunResult {
    int exit_code = -1;  // 128 + signal when killed by one
    std::string out;
    std::string err;
    bool timed_out = false;
};

RunResult run_process(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& env = {},
                      std::chrono::seconds timeout = std::chrono::seconds(120));

// $RENDERER_BIN (set by meson) or the build tree's src/app/renderer.
std::string renderer_bin();

}  // namespace renderer::testing

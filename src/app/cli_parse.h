// Command-line parsing with the service's exit codes, for both binaries' main().
#pragma once

#include <optional>

#include <CLI/CLI.hpp>

namespace renderer::app {

// Parses argv into `app`. nullopt to go on; otherwise the exit code: 0 after --help or
// --version (CLI11 printed them), kExitUsage for anything CLI11 refused (it printed why).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

}  // namespace renderer::app

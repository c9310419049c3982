// CLI wiring: each subcommand registers its options on the CLI11 app and sets the function that
// runs it once parsing succeeded. Runners return the process exit code.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/log.h"

namespace renderer::app {

struct GlobalOptions {
    bool json_logs = false;
    std::string log_level = "info";
    bool debug = false;
};

using Runner = std::function<int()>;

void add_render_command(CLI::App& app, const GlobalOptions& global, Runner& runner);
void add_probe_command(CLI::App& app, const GlobalOptions& global, Runner& runner);
// Also returns the runner used when no subcommand is given (`renderer --json-logs`).
void add_worker_command(CLI::App& app, const GlobalOptions& global, Runner& runner,
                        Runner& default_runner);
void add_bench_command(CLI::App& app, const GlobalOptions& global, Runner& runner);
void add_healthcheck_command(CLI::App& app, const GlobalOptions& global, Runner& runner);

// Maps an exception escaping a runner to an exit code after logging it once.
int report_failure(const std::exception& e);

}  // namespace renderer::app

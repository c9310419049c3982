// renderer: the render worker and its one-shot tools. CLI wiring only.
#include <stdlib.h>

#include <csignal>
#include <iostream>

#include <fmt/format.h>

#include "app/cli_parse.h"
#include "app/commands.h"
#include "common/error.h"
#include "renderer_version.h"

namespace {

const char* kDescription =
    "renderer: turns prepared PNG frames plus background music into H.264 (or HEVC, AV1)/AAC\n"
    "MP4s, in process\n"
    "through FFmpeg's libraries.\n\n"
    "Without a subcommand it runs the worker (same as `renderer worker`): poll the job API,\n"
    "claim jobs with leases, render, report. Configuration comes from env vars (see\n"
    "`renderer worker --help`); flags override them.\n\n"
    "Examples:\n"
    "  renderer --json-logs                         run the worker from env configuration\n"
    "  renderer render --stories-path /content/stories --output /output\n"
    "  renderer render --frames ./frames --story S1 --part P1 --music-dir ./music --output ./out\n"
    "  renderer probe out/S1_P1.mp4                 streams, codecs, durations as JSON\n"
    "  renderer bench --frames ./frames --preset veryfast,medium --crf 20,23\n"
    "  renderer healthcheck                         exit 0 if the worker's /livez answers 200\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace renderer;
    // SVT-AV1 (VIDEO_CODEC=av1) logs its banner and configuration to stderr at every encoder
    // open, outside libav's log; its own SVT_LOG variable keeps it to warnings and errors unless
    // the operator asks for more.
    ::setenv("SVT_LOG", "2", 0);
    CLI::App app{kDescription, "renderer"};
    app.set_version_flag("--version", std::string("renderer ") + RENDERER_VERSION);
    app.footer(
        "Exit codes: 0 ok, 1 render/runtime failure, 64 usage error, 78 configuration error.");

    app.fallthrough();  // global flags may follow the subcommand: `renderer render ... --debug`

    app::GlobalOptions global;
    app.add_flag("--json-logs", global.json_logs, "One JSON object per log line on stdout");
    app.add_option("--log-level", global.log_level, "debug|info|warn|error")
        ->capture_default_str()
        ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error"}));
    app.add_flag("--debug", global.debug,
                 "Debug logs, the ffmpeg_cmd event and a full libav report file per render");

    app::Runner runner, default_runner;
    app::add_worker_command(app, global, runner, default_runner);
    app::add_render_command(app, global, runner);
    app::add_probe_command(app, global, runner);
#if RENDERER_WITH_BENCH
    app::add_bench_command(app, global, runner);
#endif
    app::add_healthcheck_command(app, global, runner);

    if (const auto rc = app::parse_command_line(app, argc, argv)) return *rc;

    log::Options lo;
    lo.json = global.json_logs;
    log::parse_level(global.log_level, lo.level);
    if (global.debug) lo.level = log::Level::debug;
    log::init(lo);

    try {
        if (runner) return runner();
        return default_runner();
    } catch (const std::exception& e) {
        return app::report_failure(e);
    }
}

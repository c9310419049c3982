// `renderer healthcheck`: the container HEALTHCHECK. GETs the worker's /livez (or /readyz) on
// METRICS_ADDR and exits 0 on a 200 answer, 1 otherwise: the only two codes Docker's
// HEALTHCHECK defines, so a missing or malformed address is reported as unhealthy too.
#include <chrono>
#include <cstdio>
#include <optional>

#include "app/commands.h"
#include "common/env.h"
#include "common/error.h"
#include "worker/health_check.h"
#include "worker/metrics_server.h"

namespace renderer::app {
namespace {

struct HealthcheckFlags {
    std::optional<std::string> addr;
    bool ready = false;
    int timeout_sec = 5;
};

int report(bool ok, const std::string& detail) {
    // One line on stdout: Docker keeps it in the container's health log.
    std::printf("%s: %s\n", ok ? "healthy" : "unhealthy", detail.c_str());
    std::fflush(stdout);
    return ok ? kExitOk : kExitFailure;
}

int run_healthcheck(const HealthcheckFlags& f) {
    const std::string addr = f.addr ? *f.addr : env_string("METRICS_ADDR", "");
    if (addr.empty()) {
        return report(false,
                      "no address: the worker serves /livez only when METRICS_ADDR is set; set "
                      "it (the image does: 0.0.0.0:9090) or pass --addr host:port");
    }
    worker::ListenAddress address;
    try {
        address = worker::parse_listen_address(addr, f.addr ? "--addr" : "METRICS_ADDR");
    } catch (const Error& e) {
        return report(false, e.what());
    }
    const auto url = worker::local_base_url(address) + (f.ready ? "/readyz" : "/livez");
    const auto result = worker::check_health(url, std::chrono::seconds(f.timeout_sec));
    return report(result.ok, result.detail);
}

}  // namespace

void add_healthcheck_command(CLI::App& app, const GlobalOptions&, Runner& runner) {
    auto* cmd = app.add_subcommand(
        "healthcheck", "Ask a running worker's /livez (or /readyz); exit 0 if healthy, else 1");
    cmd->footer(
        "The container image's HEALTHCHECK. The worker must run with METRICS_ADDR set; a\n"
        "wildcard host (0.0.0.0, [::]) is reached on loopback.\n\n"
        "Examples:\n"
        "  renderer healthcheck                        # GET http://127.0.0.1:9090/livez when "
        "METRICS_ADDR=0.0.0.0:9090\n"
        "  renderer healthcheck --addr 10.0.0.5:9090 --ready");
    auto f = std::make_shared<HealthcheckFlags>();
    cmd->add_option("--addr", f->addr, "host:port of the worker's metrics server [METRICS_ADDR]");
    cmd->add_flag("--ready", f->ready, "Ask /readyz (fit to take work) instead of /livez (alive)");
    cmd->add_option("--timeout-sec", f->timeout_sec, "Give up after N seconds")
        ->capture_default_str()
        ->check(CLI::Range(1, 60));
    cmd->callback([&runner, f] { runner = [f] { return run_healthcheck(*f); }; });
}

}  // namespace renderer::app

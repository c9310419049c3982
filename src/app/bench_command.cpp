// `renderer bench`: compare encode settings by measurement (issue 7; not built yet).
#include "app/commands.h"
#include "common/error.h"

namespace renderer::app {

void add_bench_command(CLI::App&, const GlobalOptions&, Runner&) {}

}  // namespace renderer::app

#include "app/cli_parse.h"

#include "common/error.h"

namespace renderer::app {

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitUsage;
    }
    return std::nullopt;
}

}  // namespace renderer::app

#include "app/commands.h"
#include "common/error.h"

namespace renderer::app {

int report_failure(const std::exception& e) {
    if (const auto* err = dynamic_cast<const Error*>(&e)) {
        log::Fields f{{"error_class", std::string(to_string(err->error_class()))},
                      {"error_message", err->what()}};
        if (!err->stderr_snippet().empty()) f.emplace_back("stderr_snippet", err->stderr_snippet());
        log::error("error", f);
        if (err->error_class() == ErrorClass::ConfigError) return kExitConfig;
        if (err->error_class() == ErrorClass::UsageError) return kExitUsage;
        return kExitFailure;
    }
    log::error("error", {{"error_class", "InternalError"}, {"error_message", e.what()}});
    return kExitFailure;
}

}  // namespace renderer::app

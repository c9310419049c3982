#include "common/process_usage.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

namespace renderer {

double process_cpu_seconds() {
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    const auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    if (!f) return false;
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

std::optional<std::uint64_t> peak_rss_bytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmHWM:", 0) != 0) continue;
        std::istringstream in(line.substr(6));
        std::uint64_t kib = 0;
        if (in >> kib) return kib * 1024;  // the kernel reports kB (KiB)
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace renderer

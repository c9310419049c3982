#include "common/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace renderer {
namespace {

namespace fs = std::filesystem;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

// A whole decimal number, nothing else.
std::optional<long long> parse_integer(std::string_view s) {
    s = trim(s);
    long long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<double> quota_over_period(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return std::nullopt;
    return static_cast<double>(quota) / static_cast<double>(period);
}

std::optional<std::string> read_small_file(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::string text(4096, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

std::optional<double> min_of(std::optional<double> a, std::optional<double> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// The process's cgroup and each ancestor up to the mount's root: "/a/b" gives mount/a/b, mount/a,
// mount. A path that leaves the mount ("..") is not followed.
std::vector<fs::path> cgroup_chain(const fs::path& mount, std::string_view cgroup) {
    std::vector<fs::path> chain;
    fs::path relative = fs::path(std::string(trim(cgroup))).relative_path().lexically_normal();
    if (!relative.empty() && *relative.begin() == "..") relative.clear();
    for (;;) {
        chain.push_back(relative.empty() || relative == "." ? mount : mount / relative);
        if (relative.empty() || relative == "." || !relative.has_parent_path()) break;
        relative = relative.parent_path();
    }
    if (chain.back() != mount) chain.push_back(mount);
    return chain;
}

// "0::/path" (v2), or the path of the v1 hierarchy whose controllers include "cpu".
std::optional<std::string> own_cgroup(const std::string& self_cgroup, bool v2) {
    std::istringstream lines(self_cgroup);
    for (std::string line; std::getline(lines, line);) {
        const auto first = line.find(':');
        const auto second = first == std::string::npos ? first : line.find(':', first + 1);
        if (second == std::string::npos) continue;
        const std::string_view id(line.data(), first);
        const std::string_view controllers(line.data() + first + 1, second - first - 1);
        const std::string path = line.substr(second + 1);
        if (v2) {
            if (id == "0" && controllers.empty()) return path;
            continue;
        }
        std::string_view rest = controllers;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            if (rest.substr(0, comma) == "cpu") return path;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return std::nullopt;
}

std::optional<double> v2_limit(const CgroupFiles& files, const std::string& cgroup) {
    std::optional<double> limit;
    for (const auto& dir : cgroup_chain(files.mount, cgroup)) {
        if (const auto text = read_small_file(dir / "cpu.max"))
            limit = min_of(limit, parse_cgroup_v2_cpu_max(*text));
    }
    return limit;
}

std::optional<double> v1_limit(const CgroupFiles& files, const std::string& cgroup) {
    std::optional<double> limit;
    // Debian and most distributions mount the cpu controller with cpuacct; some alone.
    for (const char* hierarchy : {"cpu,cpuacct", "cpu"}) {
        for (const auto& dir : cgroup_chain(files.mount / hierarchy, cgroup)) {
            const auto quota = read_small_file(dir / "cpu.cfs_quota_us");
            const auto period = read_small_file(dir / "cpu.cfs_period_us");
            if (quota && period) limit = min_of(limit, parse_cgroup_v1_cpu_quota(*quota, *period));
        }
        if (limit) break;
    }
    return limit;
}

}  // namespace

std::optional<double> parse_cgroup_v2_cpu_max(std::string_view text) {
    text = trim(text);
    const auto space = text.find(' ');
    if (space == std::string_view::npos) return std::nullopt;  // "max" alone, or garbage
    const auto quota_text = text.substr(0, space);
    const auto period = parse_integer(text.substr(space + 1));
    if (quota_text == "max" || !period) return std::nullopt;
    const auto quota = parse_integer(quota_text);
    if (!quota) return std::nullopt;
    return quota_over_period(*quota, *period);
}

std::optional<double> parse_cgroup_v1_cpu_quota(std::string_view quota, std::string_view period) {
    const auto q = parse_integer(quota);
    const auto p = parse_integer(period);
    if (!q || !p) return std::nullopt;
    return quota_over_period(*q, *p);  // -1: no quota
}

std::optional<double> cgroup_cpu_limit(const CgroupFiles& files) {
    const auto self = read_small_file(files.self_cgroup);
    if (!self) return std::nullopt;
    if (const auto v2 = own_cgroup(*self, true)) {
        if (auto limit = v2_limit(files, *v2)) return limit;
    }
    if (const auto v1 = own_cgroup(*self, false)) return v1_limit(files, *v1);
    return std::nullopt;
}

int available_cpus(const CgroupFiles& files) {
    int cpus = static_cast<int>(std::thread::hardware_concurrency());
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
    if (const auto limit = cgroup_cpu_limit(files)) {
        // Compared before converting: the kernel takes quotas of billions of CPUs (no limit in
        // effect), past what an int holds.
        const double rounded_up = std::ceil(*limit);
        if (rounded_up < cpus) cpus = static_cast<int>(rounded_up);
    }
    return std::max(cpus, 1);
}

}  // namespace renderer

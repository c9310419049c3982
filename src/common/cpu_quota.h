// How many CPUs this process may really use. In a container the kernel shows every core of the
// node (hardware_concurrency() says 64 in a 3-CPU pod) while the cgroup's CFS quota lets the
// process run only 3 of them at a time: threads sized by the core count then queue for their
// quota, cost memory and get throttled. The quota is read from cgroup v2's cpu.max or cgroup v1's
// cpu.cfs_quota_us / cpu.cfs_period_us, on the process's own cgroup and every ancestor.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace renderer {

// "300000 100000" -> 3.0; "max 100000" (no limit) and anything malformed -> nullopt.
std::optional<double> parse_cgroup_v2_cpu_max(std::string_view text);
// cpu.cfs_quota_us "150000" over cpu.cfs_period_us "100000" -> 1.5; a quota of -1 (no limit) and
// anything malformed -> nullopt.
std::optional<double> parse_cgroup_v1_cpu_quota(std::string_view quota, std::string_view period);

// Where the cgroup files are: the cgroup filesystem's mount point and this process's
// /proc/self/cgroup. Tests point them at files of the same format.
struct CgroupFiles {
    std::filesystem::path mount = "/sys/fs/cgroup";
    std::filesystem::path self_cgroup = "/proc/self/cgroup";
};

// The smallest CPU quota on the way from this process's cgroup up to the root, in CPUs
// (cgroup v2 first, then v1's cpu controller); nullopt when none is set or none can be read.
std::optional<double> cgroup_cpu_limit(const CgroupFiles& files = {});

// The CPUs this process can use at once: the CPUs it may be scheduled on (sched_getaffinity),
// lowered to the cgroup quota rounded up, at least 1.
int available_cpus(const CgroupFiles& files = {});

}  // namespace renderer

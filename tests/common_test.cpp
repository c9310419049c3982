// Common utilities: natural order, ids and containment, env parsing, atomic files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/atomic_file.h"
#include "common/cpu_quota.h"
#include "common/env.h"
#include "common/error.h"
#include "common/natural_sort.h"
#include "common/paths.h"
#include "common/service_paths.h"
#include "support/fixtures.h"

namespace renderer::testing {
namespace {

TEST(NaturalSort, NumbersCompareByValue) {
    std::vector<std::string> v = {"frame_10.png", "frame_2.png", "frame_1.png", "frame_100.png",
                                  "frame_02.png", "a.png",       "B.png"};
    natural_sort(v);
    const std::vector<std::string> want = {"B.png",        "a.png",       "frame_1.png",
                                           "frame_02.png", "frame_2.png", "frame_10.png",
                                           "frame_100.png"};
    EXPECT_EQ(v, want);
    EXPECT_TRUE(natural_less("f9", "f10"));
    EXPECT_FALSE(natural_less("f10", "f9"));
    EXPECT_TRUE(natural_less("x99999999999999999999999", "x100000000000000000000000"));
}

TEST(SafeId, AcceptsOnlyPlainNames) {
    for (const char* ok : {"S45", "P2", "story-1.part_2", "a"}) EXPECT_TRUE(is_safe_id(ok)) << ok;
    for (const char* bad : {"", ".", "..", ".hidden", "a/b", "../x", "a b", "a\\b", "é"}) {
        EXPECT_FALSE(is_safe_id(bad)) << bad;
    }
    EXPECT_FALSE(is_safe_id(std::string("a\0b", 3)));
    EXPECT_FALSE(is_safe_id(std::string(129, 'a')));
}

TEST(IsWithin, RefusesEscapes) {
    TempDir t;
    fs::create_directories(t / "content/stories");
    EXPECT_TRUE(is_within(t / "content", t / "content/stories/x"));
    EXPECT_FALSE(is_within(t / "content", t / "content/../etc"));
    EXPECT_FALSE(is_within(t / "content", "/etc/passwd"));
    fs::create_directory_symlink("/etc", t / "content/link");
    EXPECT_FALSE(is_within(t / "content", t / "content/link/passwd"));
}

TEST(Env, ParsesAndExplains) {
    EXPECT_EQ(parse_int("X", "42", 0, 100), 42);
    EXPECT_THROW(parse_int("X", "abc", 0, 100), Error);
    EXPECT_THROW(parse_int("X", "-5", 0, 100), Error);
    EXPECT_THROW(parse_int("X", "5x", 0, 100), Error);
    EXPECT_EQ(parse_bytes("B", "2G"), 2ull << 30);
    EXPECT_EQ(parse_bytes("B", "512M"), 512ull << 20);
    EXPECT_EQ(parse_bytes("B", "1000"), 1000u);
    EXPECT_THROW(parse_bytes("B", "lots"), Error);
    EXPECT_EQ(parse_bitrate("R", "192k"), 192000);
    EXPECT_EQ(parse_bitrate("R", "2.5M"), 2500000);
    EXPECT_THROW(parse_bitrate("R", "fast"), Error);
    EXPECT_THROW(parse_abs_path("P", "relative/dir"), Error);
    // A range below zero takes negative numbers (AUDIO_LOUDNESS=-16, AUDIO_TRUE_PEAK=-1.0).
    EXPECT_EQ(parse_double("D", "-16", -70, -5), -16.0);
    EXPECT_EQ(parse_double("D", " -1.5 ", -9, 0), -1.5);
    EXPECT_EQ(parse_double("D", "0.25", 0, 1), 0.25);
    EXPECT_THROW(parse_double("D", "-", -9, 0), Error);
    EXPECT_THROW(parse_double("D", "--1", -9, 0), Error);
    EXPECT_THROW(parse_double("D", "-0.5", 0, 1), Error);
    EXPECT_THROW(parse_bytes("B", "-1G"), Error);
    try {
        parse_int("POLL_INTERVAL_MS", "soon", 100, 1000);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::ConfigError);
        EXPECT_NE(std::string(e.what()).find("POLL_INTERVAL_MS"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("soon"), std::string::npos);
    }
}

TEST(ServicePathsTest, DefaultsAreAbsoluteAndEnvOverrides) {
    ::unsetenv("CONTENT_DIR");
    ::unsetenv("MUSIC_DIR");
    ::unsetenv("OUTPUT_DIR");
    ::unsetenv("TMP_DIR");
    auto p = ServicePaths::from_env();
    EXPECT_EQ(p.music_dir, "/content/audio/music");
    EXPECT_EQ(p.output_dir, "/output");
    EXPECT_EQ(p.tmp_dir, "/tmp/renderer");
    ::setenv("CONTENT_DIR", "/srv/content", 1);
    p = ServicePaths::from_env();
    EXPECT_EQ(p.music_dir, "/srv/content/audio/music");
    ::setenv("OUTPUT_DIR", "out", 1);
    EXPECT_THROW(ServicePaths::from_env(), Error);
    ::unsetenv("CONTENT_DIR");
    ::unsetenv("OUTPUT_DIR");
}

TEST(AtomicFileTest, CommitPublishesAndDiscardLeavesNothing) {
    TempDir t;
    {
        AtomicFile f(t / "a.mp4");
        std::ofstream(f.temp_path()) << "data";
        EXPECT_EQ(f.temp_path().parent_path(), t.path());
        EXPECT_FALSE(fs::exists(t / "a.mp4"));
        f.commit();
    }
    EXPECT_EQ(read_text(t / "a.mp4"), "data");
    {
        AtomicFile f(t / "b.mp4");
        std::ofstream(f.temp_path()) << "partial";
    }
    EXPECT_EQ(dir_entries(t.path()), std::vector<std::string>{"a.mp4"});
}

TEST(AtomicFileTest, SweepRemovesOnlyOldTempFiles) {
    TempDir t;
    std::ofstream(t / (std::string(kTempPrefix) + "old")) << "x";
    std::ofstream(t / "keep.mp4") << "x";
    fs::last_write_time(t / (std::string(kTempPrefix) + "old"),
                        fs::file_time_type::clock::now() - std::chrono::hours(1));
    std::ofstream(t / (std::string(kTempPrefix) + "fresh")) << "x";
    EXPECT_EQ(sweep_stale_temp_files(t.path(), std::chrono::seconds(600)), 1);
    auto left = dir_entries(t.path());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{std::string(kTempPrefix) + "fresh", "keep.mp4"}));
}

// Issue 18: decode threads came from hardware_concurrency(), which in a container counts every
// core of the node, not the pod's CPU quota. The cgroup files below are in the kernel's own
// formats (cgroup v2 cpu.max, cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us, /proc/self/cgroup).
void write_text(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

TEST(CpuQuota, ParsesCgroupV2CpuMax) {
    EXPECT_EQ(parse_cgroup_v2_cpu_max("300000 100000\n"), 3.0);
    EXPECT_EQ(parse_cgroup_v2_cpu_max("150000 100000\n"), 1.5);
    EXPECT_EQ(parse_cgroup_v2_cpu_max("max 100000\n"), std::nullopt);
    EXPECT_EQ(parse_cgroup_v2_cpu_max("max\n"), std::nullopt);
    for (const char* bad : {"", "\n", "abc 100000", "300000 0", "300000", "-5 100000", "3e5 1e5",
                            "300000 100000 7"}) {
        EXPECT_EQ(parse_cgroup_v2_cpu_max(bad), std::nullopt) << bad;
    }
}

TEST(CpuQuota, ParsesCgroupV1CfsQuota) {
    EXPECT_EQ(parse_cgroup_v1_cpu_quota("200000\n", "100000\n"), 2.0);
    EXPECT_EQ(parse_cgroup_v1_cpu_quota("50000\n", "100000\n"), 0.5);
    EXPECT_EQ(parse_cgroup_v1_cpu_quota("-1\n", "100000\n"), std::nullopt);
    EXPECT_EQ(parse_cgroup_v1_cpu_quota("200000\n", "0\n"), std::nullopt);
    EXPECT_EQ(parse_cgroup_v1_cpu_quota("x\n", "100000\n"), std::nullopt);
}

TEST(CpuQuota, CgroupV2QuotaOfTheProcessOrAnAncestorWins) {
    TempDir dir;
    const auto mount = dir.path() / "sys-fs-cgroup";
    const CgroupFiles files{.mount = mount, .self_cgroup = dir.path() / "proc-self-cgroup"};
    // A pod's container cgroup under a kubepods slice, as the kubelet's systemd driver names it.
    const std::string leaf = "kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope";
    write_text(files.self_cgroup, "0::/" + leaf + "\n");
    write_text(mount / "cpu.max", "max 100000\n");
    write_text(mount / "kubepods.slice/cpu.max", "max 100000\n");
    write_text(mount / "kubepods.slice/kubepods-pod1.slice/cpu.max", "300000 100000\n");
    write_text(mount / leaf / "cpu.max", "max 100000\n");
    EXPECT_EQ(cgroup_cpu_limit(files), 3.0);
    // The container's own, lower quota.
    write_text(mount / leaf / "cpu.max", "100000 100000\n");
    EXPECT_EQ(cgroup_cpu_limit(files), 1.0);
    EXPECT_EQ(available_cpus(files), 1) << "a 1-CPU pod must size its threads for 1 CPU, not "
                                        << std::thread::hardware_concurrency() << " cores";
    // Inside a cgroup namespace (containerd, podman) the process sits at the namespace's root.
    write_text(files.self_cgroup, "0::/\n");
    write_text(mount / "cpu.max", "150000 100000\n");
    EXPECT_EQ(cgroup_cpu_limit(files), 1.5);
    EXPECT_EQ(available_cpus(files),
              std::min(2, static_cast<int>(std::thread::hardware_concurrency())));
}

TEST(CpuQuota, CgroupV1CfsQuota) {
    TempDir dir;
    const auto mount = dir.path() / "sys-fs-cgroup";
    const CgroupFiles files{.mount = mount, .self_cgroup = dir.path() / "proc-self-cgroup"};
    write_text(files.self_cgroup,
               "12:memory:/kubepods/burstable/pod1/abc\n"
               "4:cpu,cpuacct:/kubepods/burstable/pod1/abc\n"
               "1:name=systemd:/kubepods/burstable/pod1/abc\n");
    const auto cpu = mount / "cpu,cpuacct";
    write_text(cpu / "cpu.cfs_quota_us", "-1\n");
    write_text(cpu / "cpu.cfs_period_us", "100000\n");
    write_text(cpu / "kubepods/burstable/pod1/abc/cpu.cfs_quota_us", "100000\n");
    write_text(cpu / "kubepods/burstable/pod1/abc/cpu.cfs_period_us", "100000\n");
    EXPECT_EQ(cgroup_cpu_limit(files), 1.0);
    EXPECT_EQ(available_cpus(files), 1);
}

// The kernel accepts quotas far above any node's core count (cpu.max's quota up to about 1.7e13
// us at a 1 ms period: 1.7e10 CPUs), which means no limit. Rounded up into an int such a quota
// overflowed (undefined; on x86 INT_MIN) and the process was sized for 1 CPU.
TEST(CpuQuota, AQuotaAboveTheCoreCountIsNoLimit) {
    TempDir dir;
    const auto mount = dir.path() / "sys-fs-cgroup";
    const CgroupFiles files{.mount = mount, .self_cgroup = dir.path() / "proc-self-cgroup"};
    const CgroupFiles none{.mount = dir.path() / "none", .self_cgroup = dir.path() / "none-cgroup"};
    write_text(files.self_cgroup, "0::/\n");
    for (const char* cpu_max :
         {"17592186044415 1000\n", "9223372036854775807 1000\n", "2147483648 1\n"}) {
        write_text(mount / "cpu.max", cpu_max);
        ASSERT_TRUE(cgroup_cpu_limit(files).has_value()) << cpu_max;
        EXPECT_EQ(available_cpus(files), available_cpus(none)) << cpu_max;
    }
    const auto v1 = mount / "v1";
    const CgroupFiles v1_files{.mount = v1, .self_cgroup = dir.path() / "proc-self-cgroup-v1"};
    write_text(v1_files.self_cgroup, "4:cpu,cpuacct:/\n");
    write_text(v1 / "cpu,cpuacct/cpu.cfs_quota_us", "17592186044415\n");
    write_text(v1 / "cpu,cpuacct/cpu.cfs_period_us", "1000\n");
    EXPECT_EQ(available_cpus(v1_files), available_cpus(none));
}

TEST(CpuQuota, NoQuotaMeansTheSchedulableCpus) {
    TempDir dir;
    const CgroupFiles files{.mount = dir.path() / "none",
                            .self_cgroup = dir.path() / "none-cgroup"};
    EXPECT_EQ(cgroup_cpu_limit(files), std::nullopt);
    EXPECT_GE(available_cpus(files), 1);
    EXPECT_LE(available_cpus(files), static_cast<int>(std::thread::hardware_concurrency()));
    // This machine's own cgroup files, whatever they say, give a usable answer.
    EXPECT_GE(available_cpus(), 1);
    EXPECT_LE(available_cpus(), static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace renderer::testing

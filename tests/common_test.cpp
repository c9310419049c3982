// Common utilities: natural order, ids and containment, env parsing, atomic files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/atomic_file.h"
#include "common/env.h"
#include "common/error.h"
#include "common/natural_sort.h"
#include "common/paths.h"
#include "common/service_paths.h"
#include "support/fixtures.h"

namespace renderer::testing {
namespace {

TEST(NaturalSort, NumbersCompareByValue) {
    std::vector<std::string> v = {"frame_10.png", "frame_2.png", "frame_1.png", "frame_100.png", "frame_02.png",
                                  "a.png", "B.png"};
    natural_sort(v);
    const std::vector<std::string> want = {"B.png", "a.png", "frame_1.png", "frame_02.png",
                                           "frame_2.png", "frame_10.png", "frame_100.png"};
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
    fs::last_write_time(t / (std::string(kTempPrefix) + "old"), fs::file_time_type::clock::now() - std::chrono::hours(1));
    std::ofstream(t / (std::string(kTempPrefix) + "fresh")) << "x";
    EXPECT_EQ(sweep_stale_temp_files(t.path(), std::chrono::seconds(600)), 1);
    auto left = dir_entries(t.path());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{std::string(kTempPrefix) + "fresh", "keep.mp4"}));
}

}  // namespace
}  // namespace renderer::testing

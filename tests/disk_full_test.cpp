// A disk that fills up mid-render, for real: the output dir is a 64 KiB tmpfs, so the MP4
// writes fail with ENOSPC in the kernel, not in a test hook. The render ends in IoError with no
// partial file (temp or final) left, and the worker reports the job `errored` with IoError
// after retrying it (IoError is transient: another job may free space).
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "common/error.h"
#include "media/slideshow.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/secret_scan.h"
#include "worker_fixture.h"

namespace renderer::testing {
namespace {

// A small tmpfs mounted over `dir` for the object's lifetime. Mounting needs root (or
// CAP_SYS_ADMIN); where it is refused the tests say so and skip, visibly.
class ScopedTmpfs {
  public:
    ScopedTmpfs(const fs::path& dir, const std::string& size) : dir_(dir) {
        fs::create_directories(dir_);
        const std::string opts = "size=" + size + ",mode=0755";
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0) {
            mounted_ = true;
        } else {
            error_ = std::strerror(errno);
        }
    }
    ~ScopedTmpfs() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    ScopedTmpfs(const ScopedTmpfs&) = delete;
    ScopedTmpfs& operator=(const ScopedTmpfs&) = delete;

    bool mounted() const { return mounted_; }
    const std::string& error() const { return error_; }

  private:
    fs::path dir_;
    bool mounted_ = false;
    std::string error_;
};

// Frames with texture: their MP4 is several times larger than the 64 KiB tmpfs.
void write_big_frames(const fs::path& dir) { write_textured_frames(dir, 45, 320, 180); }

TEST(DiskFullTest, RenderEndsInIoErrorAndLeavesNoPartialFile) {
    auto logs = capture_json_logs();
    TempDir tmp;
    ScopedTmpfs disk(tmp / "out", "64k");
    if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
    write_big_frames(tmp / "frames");
    fs::create_directories(tmp / "music");
    fs::copy_file(testdata() / "audio/music/background.mp3", tmp / "music/background.mp3");

    media::RenderRequest req;
    req.story_id = "S1";
    req.part_id = "P1";
    req.frames_dir = tmp / "frames";
    req.music_dir = tmp / "music";
    req.output_dir = tmp / "out";
    req.min_free_bytes = 1;  // the disk has room when the render starts: it fills up during it
    req.settings.preset = "ultrafast";
    req.settings.crf = 10;
    req.settings.threads = 1;
    media::CancelToken cancel;
    try {
        media::render_slideshow(req, log::Context{}, cancel);
        FAIL() << "the render fit in 64 KiB; the test needs bigger frames";
    } catch (const Error& e) {
        EXPECT_EQ(to_string(e.error_class()), "IoError") << e.what();
        EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(dir_entries(tmp / "out").empty()) << "no temp file, no partial MP4";
}

TEST(DiskFullTest, WorkerReportsErroredWithIoErrorAfterRetrying) {
    WorkerEnv env;
    ScopedTmpfs disk(env.output, "64k");
    if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
    write_big_frames(env.content / "stories" / "full" / "p1" / "frames");
    const auto id = env.add_job("full", "p1");
    auto config = env.config();
    config.min_free_bytes = 1;
    config.max_retries = 1;
    config.render.preset = "ultrafast";
    config.render.crf = 10;
    worker::Worker w(config);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, std::chrono::seconds(90)));

    const auto job = env.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(devapi::to_string(job->status), "errored");
    EXPECT_EQ(job->last_report.error_class.value_or("(none)"), "IoError");
    EXPECT_NE(job->last_report.error_message.value_or("").find("No space left on device"),
              std::string::npos);
    EXPECT_EQ(env.count_events("retry"), 1) << "IoError is transient: retried MAX_RETRIES times";
    EXPECT_TRUE(env.outputs().empty()) << "no temp file, no partial MP4";
    EXPECT_TRUE(dir_entries(env.tmp).empty());
    expect_no_secret(env.token(),
                     SecretScan{{{"logs", env.logs().joined()}}, {env.output, env.tmp}, {}});
}

}  // namespace
}  // namespace renderer::testing

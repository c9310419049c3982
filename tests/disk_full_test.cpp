// A disk that fills up mid-render, for real: the output dir is a 64 KiB tmpfs, so the MP4
// writes fail with ENOSPC in the kernel, not in a test hook. The render ends in IoError with no
// partial file (temp or final) left, and the worker reports the job `errored` with IoError
// after retrying it (IoError is transient: another job may free space).
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/secret_scan.h"
#include "support/worker_fixture.h"

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

TEST(DiskFullTest, LowDiskAtPreflightReleasesTheJobInsteadOfFailingIt) {
    // Issue 11.8: the disk filling up between the claim and the render's preflight (another
    // process wrote to it) is the worker's problem, not the job's; the job was reported
    // `errored` (PreflightError) for good. It is now released (the lease lapses, the API
    // requeues it), the worker claims nothing while the disk is low, and renders it once space
    // is back. A real 8 MiB tmpfs with MIN_FREE_BYTES 4 MiB; a 6 MiB file fills it.
    WorkerEnv env;
    ScopedTmpfs disk(env.output, "8m");
    if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
    env.add_story("demo", "part1", "part1");
    devapi::JobSpec spec;
    spec.lease_seconds = 2;
    const auto id = env.add_job("demo", "part1", spec);
    const auto filler = env.output / "filler.bin";
    std::atomic<int> renders{0};
    worker::RenderFn filling = [&](const media::RenderRequest& req, const log::Context& log,
                                   const media::CancelToken& cancel,
                                   const media::ProgressFn& progress,
                                   const std::function<bool()>& gate) {
        if (++renders == 1) write_bytes(filler, std::string(6u << 20, 'x'));
        return media::render_slideshow(req, log, cancel, progress, gate);
    };
    auto config = env.config();
    config.min_free_bytes = 4u << 20;
    worker::Worker w(config, filling);
    std::thread freer([&] {
        // Space comes back a little after the worker has noticed it was gone.
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < end && env.count_events("disk_low") < 2)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        fs::remove(filler);
    });
    const bool finished = WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, std::chrono::seconds(120));
    freer.join();
    ASSERT_TRUE(finished);

    const auto job = env.job(id);
    ASSERT_TRUE(job);
    for (const auto& s : env.history(id)) EXPECT_NE(s, "errored");
    EXPECT_EQ(env.history(id).back(), "rendered");
    EXPECT_GE(job->lease_expirations, 1);
    EXPECT_EQ(renders.load(), 2);
    const auto released = env.logs().events("job_released");
    ASSERT_EQ(released.size(), 1u);
    EXPECT_NE(std::string(released[0]["reason"].GetString()).find("MIN_FREE_BYTES"),
              std::string::npos)
        << released[0]["reason"].GetString();
    EXPECT_EQ(env.count_events("error"), 0);
    EXPECT_EQ(env.outputs(), std::vector<std::string>{"demo_part1.mp4"});
    EXPECT_TRUE(dir_entries(env.tmp).empty());
}

TEST(DiskFullTest, ABadJobIsFailedNotReleasedWhileTheDiskHappensToBeLow) {
    // Any preflight refusal or I/O error released the job if the disk was below MIN_FREE_BYTES
    // when it was examined, whatever the refusal said: a job whose frames do not exist, failing
    // while other renders filled the shared OUTPUT_DIR, was given back (no status, the lease
    // left to lapse, claims paused) instead of reported `errored`, and came back to fail the
    // same way. Only a failure for lack of space (preflight's MIN_FREE_BYTES refusal, ENOSPC or
    // EDQUOT) is the machine's. The disk here is filled between the claim and the preflight,
    // as in the test above, and freed once the worker has seen it low.
    WorkerEnv env;
    ScopedTmpfs disk(env.output, "8m");
    if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
    devapi::JobSpec spec;
    spec.lease_seconds = 2;
    const auto id = env.add_job("missing", "part1", spec);  // no frames for this story
    const auto filler = env.output / "filler.bin";
    std::atomic<int> renders{0};
    worker::RenderFn filling = [&](const media::RenderRequest& req, const log::Context& log,
                                   const media::CancelToken& cancel,
                                   const media::ProgressFn& progress,
                                   const std::function<bool()>& gate) {
        if (++renders == 1) write_bytes(filler, std::string(6u << 20, 'x'));
        return media::render_slideshow(req, log, cancel, progress, gate);
    };
    auto config = env.config();
    config.min_free_bytes = 4u << 20;
    worker::Worker w(config, filling);
    std::thread freer([&] {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < end && env.count_events("disk_low") < 2 &&
               !env.all_final()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        fs::remove(filler);
    });
    const bool finished = WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, std::chrono::seconds(120));
    freer.join();
    ASSERT_TRUE(finished);

    const auto job = env.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(env.history(id),
              (std::vector<std::string>{"queued", "claimed", "rendering", "errored"}));
    EXPECT_EQ(job->last_report.error_class.value_or("(none)"), "PreflightError");
    EXPECT_EQ(job->lease_expirations, 0);
    EXPECT_EQ(env.count_events("job_released"), 0);
    EXPECT_EQ(renders.load(), 1);
}

}  // namespace
}  // namespace renderer::testing

// The worker with remote inputs and output (DESIGN §4.1), end to end over real HTTP: the
// reference API hands out jobs with frames_url / music_url / output_url, the frames and music
// come from s3rver behind the signature-checking proxy, and the artifact goes back to it.
#include <algorithm>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "media/probe.h"
#include "storage/object_download.h"
#include "storage/s3_client.h"
#include "support/fixtures.h"
#include "support/s3_server.h"
#include "support/worker_fixture.h"
#include "worker/worker.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::S3Server;
using testing::WorkerEnv;

constexpr const char* kBucket = "renderer-stories";
const std::vector<std::string> kRenderedHistory{"queued", "claimed", "rendering", "rendered"};
const std::vector<std::string> kErroredHistory{"queued", "claimed", "rendering", "errored"};

using testing::count_of;

class StorageWorkerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ = std::make_unique<S3Server>(env_.dir.path() / "s3");
        server_->create_bucket(kBucket);
    }

    storage::StorageConfig storage_config() const { return testing::storage_config_for(*server_); }

    void upload_frames(const std::string& prefix) {
        for (const auto& e : fs::directory_iterator(testing::testdata() / "stories" / "demo" /
                                                    "part1" / "frames")) {
            server_->put(kBucket, prefix + e.path().filename().string(),
                         testing::read_text(e.path()));
        }
    }

    void upload_music(const std::string& key) {
        server_->put(
            kBucket, key,
            testing::read_text(testing::testdata() / "audio" / "music" / "background.mp3"));
    }

    // Runs one worker until every job is final.
    void run(const storage::StorageConfig& storage) {
        auto config = env_.config();
        config.storage = storage;
        Worker w(config);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env_.all_final(); }, 180s));
    }

    // The secret key, the session token and every presigned signature stay out of the logs.
    void expect_no_storage_secret_logged() {
        const auto all = env_.logs().joined();
        EXPECT_EQ(all.find(server_->identity().secret_key), std::string::npos);
        EXPECT_EQ(all.find("X-Amz-Signature"), std::string::npos);
        EXPECT_EQ(all.find("X-Amz-Credential"), std::string::npos);
        env_.expect_no_secret_logged();
    }

    // demo-part1, then demo-part2, from the frames under f/ and music/background.mp3, each run
    // by a worker of its own.
    void run_two_parts_with_the_same_music() {
        for (const auto* part : {"part1", "part2"}) {
            devapi::JobSpec spec;
            spec.frames_url = "s3://renderer-stories/f/";
            spec.music_url = "s3://renderer-stories/music/background.mp3";
            spec.output_url = std::string("s3://renderer-stories/out/") + part + ".mp4";
            env_.add_job("demo", part, spec);
            run(storage_config());
        }
    }

    // The job errored, its message naming `what`.
    void expect_errored_naming(const std::string& id, const std::string& what) {
        EXPECT_EQ(env_.history(id), kErroredHistory);
        const auto job = env_.job(id);
        ASSERT_TRUE(job && job->last_report.error_message);
        EXPECT_NE(job->last_report.error_message->find(what), std::string::npos)
            << *job->last_report.error_message;
    }

    WorkerEnv env_;
    std::unique_ptr<S3Server> server_;
};

TEST_F(StorageWorkerTest, AJobRendersFromS3FramesAndPresignedMusicToAnS3Output) {
    upload_frames("stories/demo/part1/frames/");
    upload_music("music/background.mp3");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/stories/demo/part1/frames/";
    spec.music_url = server_->presign("GET", "/renderer-stories/music/background.mp3");
    spec.output_url = "s3://renderer-stories/videos/demo_part1.mp4";
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    EXPECT_EQ(env_.history(id), kRenderedHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job);
    const auto& r = job->last_report;
    ASSERT_TRUE(r.artifact_path);
    EXPECT_EQ(*r.artifact_path, "s3://renderer-stories/videos/demo_part1.mp4");
    EXPECT_EQ(r.audio_track, "background.mp3");

    // The uploaded object is the whole, playable artifact; nothing was written locally.
    storage::S3Client client(storage_config());
    const auto copy = env_.dir.path() / "downloaded.mp4";
    storage::download_all(
        client, {{.object = storage::S3Location{kBucket, "videos/demo_part1.mp4"}, .dest = copy}},
        [] { return false; });
    EXPECT_EQ(r.bytes, static_cast<std::int64_t>(fs::file_size(copy)));
    const auto info = media::probe_file(copy);
    EXPECT_NEAR(info.duration_sec, 60 / 30.0, 0.1);
    EXPECT_TRUE(env_.outputs().empty());
    EXPECT_FALSE(fs::exists(env_.tmp / id));
    EXPECT_EQ(count_of(server_->request_log(), "\"status\":403"), 0);
    EXPECT_TRUE(env_.has_event("inputs_downloaded"));
    EXPECT_TRUE(env_.has_event("output_uploaded"));
    expect_no_storage_secret_logged();
}

// Two parts with the same music: the second asks with If-None-Match, gets 304 and renders
// from the cached copy, with the same audio.
TEST_F(StorageWorkerTest, MusicByUrlIsCachedByEtag) {
    upload_frames("f/");
    upload_music("music/background.mp3");
    run_two_parts_with_the_same_music();
    EXPECT_EQ(env_.history("demo-part1"), kRenderedHistory);
    EXPECT_EQ(env_.history("demo-part2"), kRenderedHistory);
    const auto downloads = env_.logs().events("inputs_downloaded");
    ASSERT_EQ(downloads.size(), 2u);
    EXPECT_FALSE(downloads[0]["music_cached"].GetBool());
    EXPECT_TRUE(downloads[1]["music_cached"].GetBool());
    const auto log = server_->request_log();
    EXPECT_EQ(
        count_of(
            log,
            "\"path\":\"/renderer-stories/music/background.mp3\",\"query\":\"\",\"status\":200"),
        1)
        << log;
    EXPECT_EQ(
        count_of(
            log,
            "\"path\":\"/renderer-stories/music/background.mp3\",\"query\":\"\",\"status\":304"),
        1)
        << log;
    // The second part rendered with the cached track.
    const auto second = env_.job("demo-part2");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->last_report.audio_track, "background.mp3");
    EXPECT_TRUE(fs::exists(env_.tmp / ".music-cache"));
}

// Renders the demo frames (uploaded once under f/) as job `part` to s3://.../out/PART.mp4 and
// returns the artifact's bytes as stored.
class StorageWorkerFaultTest : public StorageWorkerTest {
  protected:
    std::string render_to_bucket(const std::string& part, const storage::StorageConfig& storage,
                                 const std::optional<std::string>& render_json = {}) {
        devapi::JobSpec spec;
        spec.frames_url = "s3://renderer-stories/f/";
        spec.output_url = "s3://renderer-stories/out/" + part + ".mp4";
        spec.render_json = render_json;
        const auto id = env_.add_job("demo", part, spec);
        run(storage);
        EXPECT_EQ(env_.history(id), kRenderedHistory);
        storage::S3Client client(storage_config());
        const auto copy = env_.dir.path() / (part + ".mp4");
        storage::download_all(
            client,
            {{.object = storage::S3Location{kBucket, "out/" + part + ".mp4"}, .dest = copy}},
            [] { return false; });
        return testing::read_text(copy);
    }
};

// The store fails in the middle of the frame download: one frame answers 503 twice, another's
// answer is cut off halfway. Each is fetched again, and the job renders exactly the artifact a
// fault-free run renders from the same frames.
TEST_F(StorageWorkerFaultTest, A5xxInTheMiddleOfTheFrameDownloadIsRecovered) {
    upload_frames("f/");
    const auto clean = render_to_bucket("part1", storage_config());
    ASSERT_FALSE(clean.empty());

    server_->fault("GET", "/f/frame_30.png", "", 503, 2);
    server_->fault("GET", "/f/frame_45.png", "", 0, 1, /*truncate=*/true);
    const auto recovered = render_to_bucket("part2", storage_config());

    EXPECT_TRUE(recovered == clean) << "the artifact differs from the fault-free render";
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log,
                       "\"path\":\"/renderer-stories/f/frame_30.png\",\"query\":\"\","
                       "\"status\":503"),
              2)
        << log;
    // Twice per render, plus the fault's retry (the cut answer is logged as a 200).
    EXPECT_EQ(count_of(log, "\"path\":\"/renderer-stories/f/frame_45.png\""), 3) << log;
    EXPECT_EQ(count_of(log, "\"status\":403"), 0) << log;
    EXPECT_FALSE(fs::exists(env_.tmp / "demo-part2"));
}

// The render does not wait for the whole download: with the last frame's GET held open by the
// store, preflight runs and the render starts on the frames already there. Once the frame is
// let go the job completes, with exactly the bytes of a render whose frames were all on disk
// first.
TEST_F(StorageWorkerFaultTest, TheRenderStartsWhileTheLastFrameIsStillDownloading) {
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/part1.mp4";
    env_.add_job("demo", "part1", spec);
    server_->hold("GET", "/f/frame_60.png", "last");
    std::thread worker([&] { run(storage_config()); });
    bool overlapped = false;
    for (int i = 0; i < 1200 && !overlapped; ++i) {  // 2 minutes at most
        overlapped = server_->held("last") == 1 && env_.has_event("preflight");
        if (!overlapped) std::this_thread::sleep_for(100ms);
    }
    EXPECT_FALSE(env_.has_event("inputs_downloaded"));
    server_->release("last");
    worker.join();
    EXPECT_TRUE(overlapped) << "preflight never ran while the last frame was downloading";

    ASSERT_EQ(env_.history("demo-part1"), kRenderedHistory);
    const auto downloads = env_.logs().events("inputs_downloaded");
    ASSERT_EQ(downloads.size(), 1u);
    EXPECT_TRUE(downloads[0]["while_rendering"].GetBool());
    EXPECT_EQ(downloads[0]["files"].GetUint64(), 60u);
    EXPECT_FALSE(fs::exists(env_.tmp / "demo-part1"));

    // The same job with nothing held (the frames land long before the encoder wants them, but
    // the bytes may not depend on when they land either way).
    storage::S3Client client(storage_config());
    const auto first = env_.dir.path() / "first.mp4";
    storage::download_all(
        client, {{.object = storage::S3Location{kBucket, "out/part1.mp4"}, .dest = first}},
        [] { return false; });
    EXPECT_TRUE(render_to_bucket("part2", storage_config()) == testing::read_text(first));
}

// A frame the store keeps refusing, reached while the render runs: the job errors with the
// download's own error, at once (the store's retries are spent: the render is not retried on
// top of them), uploads nothing and leaves no work dir.
TEST_F(StorageWorkerFaultTest, AFrameTheStoreKeepsRefusingFailsTheRenderWithoutARenderRetry) {
    upload_frames("f/");
    server_->fault("GET", "/f/frame_50.png", "", 503, 1000);
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/refused.mp4";
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    expect_errored_naming(id, "frame_50.png");
    EXPECT_EQ(env_.job(id)->last_report.error_class, "IoError");
    EXPECT_EQ(env_.count_events("retry"), 0) << "the render was retried on a spent download";
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"POST\""), 0) << log;
    EXPECT_FALSE(fs::exists(env_.tmp / id));
    EXPECT_TRUE(env_.outputs().empty());
}

// A frame that is not a PNG, reached only after the render began: still a PreflightError
// naming it, with nothing uploaded and nothing left.
TEST_F(StorageWorkerTest, ALastFrameThatIsNotAPngFailsAsPreflightMidRender) {
    upload_frames("bad/");
    server_->put(kBucket, "bad/frame_60.png", "this is not a PNG");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/bad/";
    spec.output_url = "s3://renderer-stories/out/bad.mp4";
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    expect_errored_naming(id, "frame_60.png");
    EXPECT_EQ(env_.job(id)->last_report.error_class, "PreflightError");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"POST\""), 0) << log;
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// STORAGE_MAX_BYTES is one budget for the music and the frames: inputs one byte over it are
// refused before the frames are fetched, and the message states the configured limit and the
// inputs' whole size (the frames' share of the budget is no setting an operator can find).
TEST_F(StorageWorkerTest, InputsOverStorageMaxBytesAreRefusedNamingTheConfiguredLimit) {
    upload_frames("f/");
    upload_music("music/background.mp3");
    std::uint64_t total = fs::file_size(testing::testdata() / "audio" / "music" / "background.mp3");
    for (const auto& e :
         fs::directory_iterator(testing::testdata() / "stories" / "demo" / "part1" / "frames")) {
        total += fs::file_size(e.path());
    }
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.music_url = "s3://renderer-stories/music/background.mp3";
    spec.output_url = "s3://renderer-stories/out/over.mp4";
    const auto id = env_.add_job("demo", "part1", spec);
    auto storage = storage_config();
    storage.limits.max_bytes = total - 1;

    run(storage);

    expect_errored_naming(
        id, fmt::format("{} bytes, more than {} (STORAGE_MAX_BYTES)", total, total - 1));
    EXPECT_EQ(env_.job(id)->last_report.error_class, "PreflightError");
    EXPECT_EQ(count_of(server_->request_log(), "\"path\":\"/renderer-stories/f/frame_"), 0)
        << "frames were fetched for a job over its byte budget";
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// The music (4.05 s) is shorter than the frames at 10 fps (6 s), and AUDIO_FIT=shortest cuts the
// video at 41 frames: frame_60 is never encoded. Its header is still checked, as preflight
// checks every frame on disk, so the same frames give the same outcome wherever they come from.
constexpr const char* kCutRender = R"({"fps":10,"audio_fit":"shortest"})";

// A frame past the cut that is not a PNG: a PreflightError naming it, as for frames on disk,
// not a rendered job whose inputs were never all checked.
TEST_F(StorageWorkerTest, AFramePastTheCutThatIsNotAPngFailsAsOnDisk) {
    upload_frames("cut/");
    server_->put(kBucket, "cut/frame_60.png", "this is not a PNG");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/cut/";
    spec.output_url = "s3://renderer-stories/out/cut.mp4";
    spec.render_json = kCutRender;
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    expect_errored_naming(id, "frame_60.png");
    EXPECT_EQ(env_.job(id)->last_report.error_class, "PreflightError");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// A frame past the cut whose download fails, with a local OUTPUT_DIR: the job errors and no
// artifact is published at the final path (an errored job leaves nothing behind; a later
// claim of the job must not take it for a cache hit). frame_60's GET is held until the render
// has had every chance to publish (the other frames are encoded in a few seconds), then the
// object is replaced by one of another size, so every attempt at it ends short.
TEST_F(StorageWorkerFaultTest, AFramePastTheCutThatFailsToDownloadPublishesNothing) {
    upload_frames("cut/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/cut/";
    spec.render_json = kCutRender;
    const auto id = env_.add_job("demo", "part1", spec);
    server_->hold("GET", "/cut/frame_60.png", "past-cut");
    std::thread worker([&] { run(storage_config()); });
    for (int i = 0; i < 1200 && server_->held("past-cut") == 0; ++i)
        std::this_thread::sleep_for(100ms);
    // Published (the defect) or waiting for frame_60 before publishing: 15 s is several times
    // what 41 small frames take on a loaded 2-core machine. The render's hidden temp file is
    // there from its start; only a published name counts.
    const auto published = [&] {
        const auto names = env_.outputs();
        return std::any_of(names.begin(), names.end(),
                           [](const std::string& n) { return n.front() != '.'; });
    };
    for (int i = 0; i < 150 && !published(); ++i) std::this_thread::sleep_for(100ms);
    server_->put(kBucket, "cut/frame_60.png", "short");
    server_->release("past-cut");
    worker.join();

    EXPECT_EQ(env_.history(id), kErroredHistory);
    EXPECT_TRUE(env_.outputs().empty()) << "an errored job left its artifact at the final path";
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// vfr with frames still arriving: the demo's frames are runs of 15 equal slides, and frame_20's
// GET is held until preflight has run, so a held run spans a frame still downloading. The
// artifact is byte for byte the one rendered with nothing held.
TEST_F(StorageWorkerFaultTest, AVfrRenderAcrossAHeldFrameHasTheSameBytes) {
    upload_frames("f/");
    const std::string vfr = R"({"frame_timing":"vfr","keyint_sec":2})";
    server_->hold("GET", "/f/frame_20.png", "mid-run");
    std::string held;
    std::thread worker([&] { held = render_to_bucket("part1", storage_config(), vfr); });
    for (int i = 0; i < 1200 && !(server_->held("mid-run") == 1 && env_.has_event("preflight"));
         ++i) {
        std::this_thread::sleep_for(100ms);
    }
    server_->release("mid-run");
    worker.join();
    ASSERT_FALSE(held.empty());
    EXPECT_TRUE(render_to_bucket("part2", storage_config(), vfr) == held)
        << "the vfr artifact depends on when its frames landed";
}

// The render cache with frames still arriving and a local OUTPUT_DIR: the same job claimed
// again finds its artifact at the final path, waits for every frame (the check hashes them
// all; frame_60's GET is held until preflight has run) and reports a cache hit with the same
// bytes, the artifact untouched.
TEST_F(StorageWorkerFaultTest, AnArtifactAtTheFinalPathIsACacheHitOnceEveryFrameArrived) {
    upload_frames("f/");
    auto config = env_.config();
    config.storage = storage_config();
    config.render.use_cache = true;
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    const auto first = env_.add_job("demo", "part1", spec);
    {
        Worker w(config);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env_.all_final(); }, 120s));
    }
    ASSERT_EQ(env_.history(first), kRenderedHistory);
    const auto outputs = env_.outputs();
    ASSERT_EQ(outputs.size(), 1u);
    const auto artifact = env_.output / outputs[0];
    const auto bytes = testing::read_text(artifact);

    spec.id = "again";
    const auto again = env_.add_job("demo", "part1", spec);
    server_->hold("GET", "/f/frame_60.png", "last");
    std::thread worker([&] {
        Worker w(config);
        WorkerEnv::run_until(
            w, [&] { return env_.all_final(); }, 120s);
    });
    for (int i = 0;
         i < 1200 && !(server_->held("last") == 1 && env_.count_events("preflight") == 2); ++i) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_FALSE(env_.has_event("cache_hit")) << "a cache hit before every frame arrived";
    server_->release("last");
    worker.join();

    EXPECT_EQ(env_.history(again), kRenderedHistory);
    const auto done = env_.logs().events("done");
    ASSERT_EQ(done.size(), 2u);
    EXPECT_TRUE(done[1]["cache_hit"].GetBool());
    EXPECT_EQ(env_.outputs(), outputs);
    EXPECT_TRUE(testing::read_text(artifact) == bytes);
    EXPECT_FALSE(fs::exists(env_.tmp / again));
}

// Two jobs at once (MAX_CONCURRENT=2), each with its last frame's GET held and a download of
// its own, one connection each (STORAGE_PARALLEL=1): both render while their frames arrive,
// and each artifact has the bytes of the same job rendered alone.
TEST_F(StorageWorkerFaultTest, TwoJobsAtOnceEachWithAHeldFrameBothRender) {
    upload_frames("f/");
    auto storage = storage_config();
    storage.limits.parallel = 1;
    const auto alone = render_to_bucket("alone", storage);
    ASSERT_FALSE(alone.empty());

    auto config = env_.config();
    config.storage = storage;
    config.max_concurrent = 2;
    for (const auto* part : {"one", "two"}) {
        devapi::JobSpec spec;
        spec.frames_url = "s3://renderer-stories/f/";
        spec.output_url = std::string("s3://renderer-stories/out/") + part + ".mp4";
        env_.add_job("demo", part, spec);
    }
    server_->hold("GET", "/f/frame_60.png", "last", 2);
    std::thread worker([&] {
        Worker w(config);
        WorkerEnv::run_until(
            w, [&] { return env_.all_final(); }, 180s);
    });
    bool both = false;
    for (int i = 0; i < 1200 && !both; ++i) {
        both = server_->held("last") == 2 && env_.count_events("preflight") == 3;
        if (!both) std::this_thread::sleep_for(100ms);
    }
    server_->release("last");
    worker.join();
    EXPECT_TRUE(both) << "the two jobs never waited on their held frames together";

    storage::S3Client client(storage_config());
    for (const auto* part : {"one", "two"}) {
        EXPECT_EQ(env_.history(std::string("demo-") + part), kRenderedHistory);
        const auto copy = env_.dir.path() / (std::string(part) + ".mp4");
        storage::download_all(
            client,
            {{.object = storage::S3Location{kBucket, std::string("out/") + part + ".mp4"},
              .dest = copy}},
            [] { return false; });
        EXPECT_TRUE(testing::read_text(copy) == alone) << part;
    }
}

// A listing of one frame, held until preflight waits on it: the render takes it as soon as it
// lands, a one-frame video.
TEST_F(StorageWorkerFaultTest, AOneFrameListingRendersOnceItsFrameLands) {
    server_->put(kBucket, "one/frame_1.png",
                 testing::read_text(testing::testdata() / "stories" / "demo" / "part1" / "frames" /
                                    "frame_1.png"));
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/one/";
    spec.output_url = "s3://renderer-stories/out/one.mp4";
    const auto id = env_.add_job("demo", "part1", spec);
    server_->hold("GET", "/one/frame_1.png", "only");
    std::thread worker([&] { run(storage_config()); });
    for (int i = 0; i < 1200 && server_->held("only") == 0; ++i) std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(env_.has_event("preflight")) << "preflight ran before its only frame landed";
    server_->release("only");
    worker.join();
    EXPECT_EQ(env_.history(id), kRenderedHistory);
    ASSERT_TRUE(env_.job(id)->last_report.duration_ms);
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// The music's download fails (the object is missing): the job errors naming it, before any
// frame is fetched, and leaves no work dir.
TEST_F(StorageWorkerTest, AMissingMusicObjectFailsTheJobBeforeAnyFrameIsFetched) {
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.music_url = "s3://renderer-stories/music/missing.mp3";
    spec.output_url = "s3://renderer-stories/out/nomusic.mp4";
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    expect_errored_naming(id, "missing.mp3");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"path\":\"/renderer-stories/f/frame_"), 0) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// JOB_TIMEOUT_SEC passes while the render waits on a frame whose GET the store holds open:
// before the render (preflight waits on frame_1) and mid-render (a decode thread waits on
// frame_30). The job errors as a Timeout, the held transfer is dropped, nothing is uploaded and
// the work dir goes; the worker does not hang in the download or the pipeline.
class StorageWorkerHeldFrameTest : public StorageWorkerFaultTest,
                                   public ::testing::WithParamInterface<const char*> {};

TEST_P(StorageWorkerHeldFrameTest, AJobTimeoutEndsTheJobAndTheDownload) {
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/timeout.mp4";
    const auto id = env_.add_job("demo", "part1", spec);
    server_->hold("GET", std::string("/f/") + GetParam(), "frame");
    auto config = env_.config();
    config.storage = storage_config();
    config.job_timeout_sec = 2;
    Worker w(config);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env_.all_final(); }, 120s));

    EXPECT_EQ(env_.history(id), kErroredHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->last_report.error_class, "Timeout");
    EXPECT_EQ(job->last_report.timeout, true);
    EXPECT_EQ(server_->held("frame"), 0) << "the held GET was left open";
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_FALSE(env_.has_event("inputs_downloaded"));
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// A shutdown (SIGTERM, no grace left) while the render waits on a held frame: the job is
// cancelled without a final status (the lease lapses, the API requeues it), the held transfer
// is dropped and the work dir removed, and the worker's run returns.
TEST_P(StorageWorkerHeldFrameTest, AShutdownCancelsTheJobAndTheDownload) {
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/shutdown.mp4";
    const auto id = env_.add_job("demo", "part1", spec);
    server_->hold("GET", std::string("/f/") + GetParam(), "frame");
    auto config = env_.config();
    config.storage = storage_config();
    config.shutdown_grace_sec = 0;
    Worker w(config);
    // Stopped (request_stop, as SIGTERM does) once the render waits on the held frame.
    bool waiting = false;
    ASSERT_TRUE(WorkerEnv::run_until(
        w,
        [&] {
            waiting = waiting || (server_->held("frame") == 1 && env_.has_event("claim"));
            return waiting;
        },
        120s));

    EXPECT_EQ(env_.history(id), (std::vector<std::string>{"queued", "claimed", "rendering"}));
    EXPECT_TRUE(env_.has_event("cancelled"));
    EXPECT_EQ(server_->held("frame"), 0) << "the held GET was left open";
    EXPECT_EQ(count_of(server_->request_log(), "\"method\":\"PUT\""), 0);
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

INSTANTIATE_TEST_SUITE_P(FirstAndMiddleFrame, StorageWorkerHeldFrameTest,
                         ::testing::Values("frame_1.png", "frame_30.png"));

// The store fails in the middle of a multipart upload: part 2 answers 503 twice and part 3's
// answer is cut off. Each part is sent again, the upload completes (never aborted), the job
// ends rendered, and the object holds the fault-free render's bytes.
TEST_F(StorageWorkerFaultTest, A5xxInTheMiddleOfAMultipartUploadIsRecovered) {
    upload_frames("f/");
    const auto clean = render_to_bucket("part1", storage_config());
    ASSERT_GT(clean.size(), 3u * (8u << 10));  // at least four parts below

    auto storage = storage_config();
    storage.limits.multipart_threshold = 1;  // the small test artifact goes in parts
    storage.limits.part_size = 8 << 10;
    server_->fault("PUT", "/out/part2.mp4", "partNumber=2&", 503, 2);
    server_->fault("PUT", "/out/part2.mp4", "partNumber=3&", 0, 1, /*truncate=*/true);
    const auto recovered = render_to_bucket("part2", storage);

    EXPECT_TRUE(recovered == clean) << "the uploaded artifact differs from the fault-free render";
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "partNumber=2&"), 3) << log;
    EXPECT_EQ(count_of(log, "partNumber=3&"), 2) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"DELETE\""), 0) << log;
    EXPECT_EQ(count_of(log,
                       "\"method\":\"POST\",\"path\":\"/renderer-stories/out/part2.mp4\","
                       "\"query\":\"?uploadId="),
              1)
        << log;
    const auto job = env_.job("demo-part2");
    ASSERT_TRUE(job && job->last_report.artifact_path);
    EXPECT_EQ(*job->last_report.artifact_path, "s3://renderer-stories/out/part2.mp4");
    EXPECT_EQ(job->last_report.bytes, static_cast<std::int64_t>(clean.size()));
}

TEST_F(StorageWorkerTest, APresignedPutOutputIsReportedWithoutItsQuery) {
    upload_frames("f/");
    const auto put_url = server_->presign("PUT", "/renderer-stories/out/presigned.mp4");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = put_url;
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    EXPECT_EQ(env_.history(id), kRenderedHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job && job->last_report.artifact_path);
    EXPECT_EQ(*job->last_report.artifact_path,
              server_->endpoint() + "/renderer-stories/out/presigned.mp4");
    expect_no_storage_secret_logged();
}

TEST_F(StorageWorkerTest, AWrongSecretErrorsTheJobAsAConfigErrorWithoutRetrying) {
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/never.mp4";
    const auto id = env_.add_job("demo", "part1", spec);

    auto storage = storage_config();
    storage.credentials->secret_access_key = "a-wrong-secret-key-for-this-store-000000";
    run(storage);

    EXPECT_EQ(env_.history(id), kErroredHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->last_report.error_class, "ConfigError");
    ASSERT_TRUE(job->last_report.error_message);
    EXPECT_NE(job->last_report.error_message->find("SignatureDoesNotMatch"), std::string::npos);
    EXPECT_EQ(count_of(server_->request_log(), "\"method\""), 1);
}

TEST_F(StorageWorkerTest, AnObjectThatIsNotAPngFailsPreflightAndUploadsNothing) {
    upload_frames("bad/");
    server_->put(kBucket, "bad/frame_0005.png", "this is not a PNG");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/bad/";
    spec.output_url = "s3://renderer-stories/out/bad.mp4";
    const auto id = env_.add_job("demo", "part1", spec);

    run(storage_config());

    EXPECT_EQ(env_.history(id), kErroredHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->last_report.error_class, "PreflightError");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"POST\""), 0) << log;
    EXPECT_FALSE(fs::exists(env_.tmp / id));
}

// The lease is taken back while the render waits on a frame whose GET the store holds open
// (the API refuses the 4th beat, about 2 s in): the render and the download stop, the held
// transfer is dropped, no status follows, nothing is uploaded and the work dir goes.
TEST(StorageWorkerLeaseTest, ALeaseLostWhileTheRenderWaitsOnAHeldFrameStopsBoth) {
    devapi::ApiServer::Options o;
    o.heartbeat_refuse_after = 4;
    WorkerEnv env(o);
    S3Server server(env.dir.path() / "s3");
    server.create_bucket(kBucket);
    for (const auto& e :
         fs::directory_iterator(testing::testdata() / "stories" / "demo" / "part1" / "frames")) {
        server.put(kBucket, "f/" + e.path().filename().string(), testing::read_text(e.path()));
    }
    server.hold("GET", "/f/frame_30.png", "mid");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/lost.mp4";
    spec.lease_seconds = 2;
    const auto id = env.add_job("demo", "part1", spec);

    auto config = env.config();
    config.storage = testing::storage_config_for(server);
    Worker w(config);
    bool ended = false;
    ASSERT_TRUE(WorkerEnv::run_until(
        w,
        [&] {
            ended = ended || (env.has_event("lease_lost") && !fs::exists(env.tmp / id));
            return ended;
        },
        120s));

    EXPECT_EQ(server.held("mid"), 0) << "the held GET was left open";
    for (const auto& s : env.history(id)) {
        EXPECT_NE(s, "rendered");
        EXPECT_NE(s, "errored");
    }
    EXPECT_EQ(count_of(server.request_log(), "\"method\":\"PUT\""), 0);
    EXPECT_FALSE(env.has_event("inputs_downloaded"));
}

// The lease is taken back while the artifact's parts are being refused: the upload stops, is
// aborted, nothing is completed and no status follows. The store refuses every part, so the
// upload outlasts whatever the render took; the API refuses the 15th beat (about 10 s in).
TEST(StorageWorkerLeaseTest, ALeaseLostDuringTheUploadAbortsItAndPostsNothing) {
    devapi::ApiServer::Options o;
    o.heartbeat_refuse_after = 15;
    WorkerEnv env(o);
    S3Server server(env.dir.path() / "s3");
    server.create_bucket(kBucket);
    for (const auto& e :
         fs::directory_iterator(testing::testdata() / "stories" / "demo" / "part1" / "frames")) {
        server.put(kBucket, "f/" + e.path().filename().string(), testing::read_text(e.path()));
    }
    server.fault("PUT", "/out/lost.mp4", "partNumber=", 503, 100000);
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/lost.mp4";
    spec.lease_seconds = 2;
    const auto id = env.add_job("demo", "part1", spec);

    auto config = env.config();
    config.storage = testing::storage_config_for(server);
    config.storage.limits.attempts = 100000;
    config.storage.limits.multipart_threshold = 1;  // the small test artifact goes in parts
    config.storage.limits.part_size = 64 << 10;
    config.shutdown_grace_sec = 0;
    Worker w(config);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.has_event("lease_lost"); }, 120s));

    const auto log = server.request_log();
    EXPECT_GE(count_of(log, "partNumber=1"), 1) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"DELETE\",\"path\":\"/renderer-stories/out/lost.mp4\""), 1)
        << log;
    EXPECT_EQ(count_of(log,
                       "\"method\":\"POST\",\"path\":\"/renderer-stories/out/"
                       "lost.mp4\",\"query\":\"?uploadId="),
              0)
        << log;
    for (const auto& s : env.history(id)) {
        EXPECT_NE(s, "rendered");
        EXPECT_NE(s, "errored");
    }
    EXPECT_FALSE(env.has_event("output_uploaded"));
    EXPECT_TRUE(env.outputs().empty());
}

TEST_F(StorageWorkerTest, AnS3UrlToABucketOutsideTheAllowListIsRefused) {
    devapi::JobSpec spec;
    spec.frames_url = "s3://someone-elses-bucket/frames/";
    const auto id = env_.add_job("demo", "part1", spec);
    auto storage = storage_config();
    storage.allowed_hosts = {kBucket};
    run(storage);
    expect_errored_naming(id, "STORAGE_ALLOWED_HOSTS");
    EXPECT_EQ(count_of(server_->request_log(), "\"method\""), 0);
}

// The allow-list names buckets, and a key's ".." segment (resolved by libcurl before the
// request is sent) led the upload into another bucket: the job rendered, and its artifact was
// planted in a bucket the worker was told not to touch.
TEST_F(StorageWorkerTest, AnOutputKeyWithDotSegmentsCannotLeaveTheAllowedBucket) {
    server_->create_bucket("victim-bucket");
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/../victim-bucket/planted.mp4";
    const auto id = env_.add_job("demo", "part1", spec);
    auto storage = storage_config();
    storage.allowed_hosts = {kBucket};
    run(storage);
    expect_errored_naming(id, "output_url");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "victim-bucket"), 0) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
}

// '?' and '#' are ordinary bytes of an S3 key, but the s3:// URL was cut there for the
// status: artifact_path named another object ("s3://.../take" for ".../take#2.mp4").
TEST_F(StorageWorkerTest, AnS3ArtifactPathKeepsTheWholeKey) {
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-stories/f/";
    spec.output_url = "s3://renderer-stories/out/take?v=2#b.mp4";
    const auto id = env_.add_job("demo", "part1", spec);
    run(storage_config());
    EXPECT_EQ(env_.history(id), kRenderedHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job && job->last_report.artifact_path);
    EXPECT_EQ(*job->last_report.artifact_path, "s3://renderer-stories/out/take?v=2#b.mp4");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"path\":\"/renderer-stories/out/take%3Fv%3D2%23b.mp4\""), 1) << log;
}

// A store's ETag is sent back as If-None-Match by every later job naming the same music. One
// holding a control byte (libcurl hands a bare CR inside a header line through) was cached,
// and every later request carrying it was refused by the server (400): the music URL failed on
// this worker for good, even after the store was fixed.
TEST_F(StorageWorkerTest, AnEtagThatCannotBeSentBackIsNotCached) {
    upload_frames("f/");
    upload_music("music/background.mp3");
    server_->answer_etag("GET", "/renderer-stories/music/background.mp3", "\"ab\rX-Injected: 1\"",
                         1);
    run_two_parts_with_the_same_music();
    EXPECT_EQ(env_.history("demo-part1"), kRenderedHistory);
    const auto second = env_.job("demo-part2");
    ASSERT_TRUE(second);
    EXPECT_EQ(env_.history("demo-part2"), kRenderedHistory)
        << second->last_report.error_message.value_or("");
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"path\":\"/renderer-stories/music/background.mp3\""), 2) << log;
}

}  // namespace
}  // namespace renderer::worker

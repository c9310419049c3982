// The reference API's --seed-bucket mode (src/devapi/bucket_seeder): the seeded stories'
// frames and a track uploaded to s3rver behind the signature-checking proxy, the jobs pointed
// at them, and a worker that shares no volume with the API rendering them into the bucket.
// Then the real renderer-devapi binary with the flag.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/paths.h"
#include "devapi/bucket_seeder.h"
#include "devapi/story_scanner.h"
#include "media/probe.h"
#include "storage/object_download.h"
#include "storage/remote_frames.h"
#include "support/fixtures.h"
#include "support/process.h"
#include "support/s3_server.h"
#include "support/worker_fixture.h"
#include "worker/worker.h"

namespace renderer::devapi {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::count_of;
using testing::S3Server;
using testing::WorkerEnv;

constexpr const char* kBucket = "renderer-seed";
const std::vector<std::string> kRenderedHistory{"queued", "claimed", "rendering", "rendered"};

fs::path music_file() { return testing::testdata() / "audio" / "music" / "background.mp3"; }

TEST(BucketSeedTest, SeededJobsRenderFromTheBucketWithoutASharedVolume) {
    WorkerEnv env;
    S3Server server(env.dir.path() / "s3");
    server.create_bucket(kBucket);
    const storage::S3Client client(testing::storage_config_for(server));
    const auto stories = testing::testdata() / "stories";
    auto specs = scan_stories(stories);
    ASSERT_EQ(specs.size(), 2u);

    seed_bucket(client, {.root = {kBucket, "demo"}, .stories_dir = stories, .music = music_file()},
                specs);

    for (const auto& spec : specs) {
        const auto base = "s3://renderer-seed/demo/";
        EXPECT_EQ(spec.frames_url.value_or(""),
                  base + ("stories/demo/" + spec.part_id + "/frames/"));
        EXPECT_EQ(spec.output_url.value_or(""), base + ("videos/demo_" + spec.part_id + ".mp4"));
        EXPECT_EQ(spec.music_url.value_or(""), std::string(base) + "music/background.mp3");
        EXPECT_FALSE(spec.frames_dir);
        // Every local frame is in the bucket under the job's prefix.
        const auto listed = storage::list_frames(client, *storage::parse_s3_url(*spec.frames_url),
                                                 [] { return false; });
        EXPECT_EQ(listed.size(),
                  list_files_with_ext(stories / "demo" / spec.part_id / "frames", "png").size());
        ASSERT_TRUE(env.api().store().add(spec).ok());
    }

    // The worker's content dir holds no story: the frames can only come from the bucket.
    ASSERT_TRUE(!fs::exists(env.content / "stories") || fs::is_empty(env.content / "stories"));
    auto config = env.config();
    config.storage = testing::storage_config_for(server);
    worker::Worker w(config);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, 180s));

    for (const auto& spec : specs) {
        EXPECT_EQ(env.history(spec.id), kRenderedHistory) << spec.id;
        const auto job = env.job(spec.id);
        ASSERT_TRUE(job && job->last_report.artifact_path);
        EXPECT_EQ(*job->last_report.artifact_path, *spec.output_url);
        const auto copy = env.dir.path() / (spec.id + ".mp4");
        storage::download_all(client,
                              {{.object = storage::parse_s3_url(*spec.output_url), .dest = copy}},
                              [] { return false; });
        EXPECT_GT(media::probe_file(copy).duration_sec, 1.0);
    }
    EXPECT_TRUE(env.outputs().empty());
    EXPECT_EQ(count_of(server.request_log(), "\"status\":403"), 0);
}

// A part whose frames dir is gone (or empty) by the time the seeding reads it: a ConfigError
// naming the dir, not a bare filesystem exception, and nothing uploaded.
TEST(BucketSeedTest, AFramesDirWithoutPngsIsAConfigError) {
    testing::TempDir dir;
    S3Server server(dir.path() / "s3");
    server.create_bucket(kBucket);
    const storage::S3Client client(testing::storage_config_for(server));
    fs::create_directories(dir.path() / "stories" / "empty" / "p" / "frames");
    for (const auto& [story, needle] :
         {std::pair{"gone", "is not a directory"}, std::pair{"empty", "holds no .png frames"}}) {
        std::vector<JobSpec> specs{{.id = "x-p", .story_id = story, .part_id = "p"}};
        try {
            seed_bucket(client, {.root = {kBucket, ""}, .stories_dir = dir.path() / "stories"},
                        specs);
            ADD_FAILURE() << "seeded a part without frames: " << story;
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::ConfigError) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(count_of(server.request_log(), "\"method\":\"PUT\""), 0);
}

// `--seed-stories DIR/` (a trailing slash, as shell completion writes it) or `DIR/.`, with a part's
// frames directly in its dir (no frames/ subdir): scan_stories finds them, so seeding must too, and
// frame names with a space, '+', '#' and non-ASCII letters reach the bucket under their names.
TEST(BucketSeedTest, FramesInThePartDirSeedFromAStoriesDirWithATrailingSlash) {
    testing::TempDir dir;
    S3Server server(dir.path() / "s3");
    server.create_bucket(kBucket);
    const storage::S3Client client(testing::storage_config_for(server));
    const auto part = dir.path() / "stories" / "odd" / "p1";
    fs::create_directories(part);
    const auto demo = testing::testdata() / "stories" / "demo" / "part1" / "frames";
    const std::vector<std::string> names{"frame 1.png", "frame+2#x.png", "kadr_\xc3\xa9_3.png"};
    const auto sources = list_files_with_ext(demo, "png");
    for (std::size_t i = 0; i < names.size(); ++i) fs::copy_file(sources[i], part / names[i]);
    // "DIR/." is what `--seed-stories .` becomes run from inside DIR.
    for (const auto* tail : {"/stories/.", "/stories/"}) {
        const auto stories = dir.path().string() + tail;
        auto specs = scan_stories(stories);
        ASSERT_EQ(specs.size(), 1u);
        seed_bucket(client, {.root = {kBucket, "t"}, .stories_dir = stories}, specs);
    }
    const auto stories = dir.path().string() + "/stories/";
    auto specs = scan_stories(stories);
    seed_bucket(client, {.root = {kBucket, "t"}, .stories_dir = stories}, specs);

    ASSERT_EQ(specs[0].frames_url.value_or(""), "s3://renderer-seed/t/stories/odd/p1/frames/");
    const auto listed = storage::list_frames(client, *storage::parse_s3_url(*specs[0].frames_url),
                                             [] { return false; });
    ASSERT_EQ(listed.size(), names.size());
    for (const auto& frame : listed) {
        const auto copy = dir.path() / "copy.png";
        fs::remove(copy);
        storage::download_all(client,
                              {{.object = storage::S3Location{kBucket, frame.key}, .dest = copy}},
                              [] { return false; });
        EXPECT_EQ(testing::read_text(copy), testing::read_text(part / frame.name)) << frame.name;
    }
}

// The binary: credentials from the AWS_* variables, every frame and the track put through the
// verifying proxy, the secret in no output; a value that is not s3:// exits 78 before serving.
TEST(BucketSeedCliTest, TheFlagUploadsTheStoriesAndSeedsTheJobs) {
    testing::TempDir dir;
    S3Server server(dir.path() / "s3");
    server.create_bucket(kBucket);
    const auto& id = server.identity();
    std::vector<std::string> env{"PATH=/usr/bin:/bin",
                                 "LC_ALL=C",
                                 "API_AUTH_TOKEN=seed-test-token-0123456789",
                                 "AWS_ACCESS_KEY_ID=" + id.access_key,
                                 "AWS_SECRET_ACCESS_KEY=" + id.secret_key,
                                 "AWS_REGION=" + id.region,
                                 "AWS_ENDPOINT_URL=" + server.endpoint()};
    for (auto& kv : testing::sanitizer_env()) env.push_back(std::move(kv));
    const auto stories = (testing::testdata() / "stories").string();
    {
        testing::Child api(
            {testing::devapi_bin(), "--json-logs", "--port", "0", "--port-file",
             (dir.path() / "port").string(), "--seed-stories", stories, "--seed-bucket",
             "s3://renderer-seed/cli/", "--seed-music", music_file().string()},
            env, dir.path() / "devapi.log");
        const auto until = std::chrono::steady_clock::now() + 120s;
        while (std::chrono::steady_clock::now() < until && !fs::exists(dir.path() / "port") &&
               api.running()) {
            std::this_thread::sleep_for(20ms);
        }
        ASSERT_TRUE(fs::exists(dir.path() / "port")) << api.output();
        const auto out = api.output();
        EXPECT_NE(out.find("\"event\":\"bucket_seeded\""), std::string::npos) << out;
        EXPECT_NE(out.find("\"jobs\":2"), std::string::npos) << out;
        EXPECT_EQ(out.find(id.secret_key), std::string::npos);
    }
    const auto log = server.request_log();
    EXPECT_EQ(
        count_of(log, "\"method\":\"PUT\",\"path\":\"/renderer-seed/cli/stories/demo/"),
        static_cast<int>(
            list_files_with_ext(testing::testdata() / "stories/demo/part1/frames", "png").size() +
            list_files_with_ext(testing::testdata() / "stories/demo/part2/frames", "png").size()))
        << log;
    EXPECT_EQ(count_of(log, "/renderer-seed/cli/music/background.mp3"), 1) << log;
    EXPECT_EQ(count_of(log, "\"status\":403"), 0) << log;

    const auto bad = testing::run_process({testing::devapi_bin(), "--port", "0", "--seed-stories",
                                           stories, "--seed-bucket", "https://not-a-bucket/x"},
                                          {{"API_AUTH_TOKEN", "seed-test-token-0123456789"}});
    EXPECT_EQ(bad.exit_code, kExitConfig) << bad.out << bad.err;
    EXPECT_NE((bad.out + bad.err).find("--seed-bucket"), std::string::npos) << bad.out << bad.err;
}

}  // namespace
}  // namespace renderer::devapi

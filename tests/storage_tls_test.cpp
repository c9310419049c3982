// Object storage over real TLS (issue 15): the worker against the S3 test server in https mode
// on 127.0.0.1, its certificate self-signed for this run (tests/support/s3_server.h). Presigned
// https:// URLs and an https:// AWS_ENDPOINT_URL work when AWS_CA_BUNDLE trusts the store; a
// certificate that is not trusted, or not for the URL's host, errors the job as a ConfigError
// naming AWS_CA_BUNDLE, after one attempt.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "media/probe.h"
#include "storage/object_download.h"
#include "storage/s3_client.h"
#include "storage/storage_config.h"
#include "support/fixtures.h"
#include "support/process.h"
#include "support/s3_server.h"
#include "support/tar_writer.h"
#include "support/worker_fixture.h"
#include "worker/worker.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::count_of;
using testing::S3Server;
using testing::S3Tls;
using testing::WorkerEnv;

constexpr const char* kBucket = "renderer-tls";
const std::vector<std::string> kRenderedHistory{"queued", "claimed", "rendering", "rendered"};
const std::vector<std::string> kErroredHistory{"queued", "claimed", "rendering", "errored"};

// The variables storage_config_from_env reads, set for one scope and unset after it.
class ScopedEnv {
  public:
    explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars)
        : vars_(std::move(vars)) {
        for (const auto& [name, value] : vars_) ::setenv(name.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() {
        for (const auto& [name, value] : vars_) ::unsetenv(name.c_str());
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    std::vector<std::pair<std::string, std::string>> vars_;
};

class StorageTlsTest : public ::testing::Test {
  protected:
    // The store in https mode with a certificate for `names`.
    void start(std::vector<std::string> names = {"127.0.0.1", "localhost"}) {
        server_ = std::make_unique<S3Server>(env_.dir.path() / "s3", testing::S3Identity{},
                                             S3Tls{.enabled = true, .names = std::move(names)});
        server_->create_bucket(kBucket);
        ASSERT_EQ(server_->endpoint().rfind("https://127.0.0.1:", 0), 0u) << server_->endpoint();
    }

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

    // Stores the demo frames as a tar at KEY; returns a presigned https GET URL for it.
    std::string put_frames_tar(const std::string& key) {
        const auto path = env_.dir.path() / "upload.tar";
        testing::write_tar(path, testing::demo_frame_entries("./"));
        server_->put(kBucket, key, testing::read_text(path));
        return server_->presign("GET", std::string("/") + kBucket + "/" + key);
    }

    std::string add_job(const std::string& part, devapi::JobSpec spec) {
        return env_.add_job("demo", part, std::move(spec));
    }

    // Runs one worker until every job is final.
    void run(const storage::StorageConfig& storage) {
        auto config = env_.config();
        config.storage = storage;
        Worker w(config);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env_.all_final(); }, 180s));
    }

    // The object at KEY, fetched back over TLS, is a playable MP4 of the 60 demo frames whose
    // size is the one the job reported.
    void expect_playable_artifact(const std::string& key, const std::string& id) {
        storage::S3Client client(testing::storage_config_for(*server_));
        const auto copy = env_.dir.path() / (id + ".mp4");
        storage::download_all(client, {{.object = storage::S3Location{kBucket, key}, .dest = copy}},
                              [] { return false; });
        const auto job = env_.job(id);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->last_report.bytes, static_cast<std::int64_t>(fs::file_size(copy)));
        const auto info = media::probe_file(copy);
        EXPECT_NEAR(info.duration_sec, 60 / 30.0, 0.1);
    }

    // The job errored as a ConfigError saying the certificate was not trusted, naming
    // AWS_CA_BUNDLE and `reason`, and the store saw exactly one connection: no retry, no
    // request past the handshake.
    void expect_refused_certificate(const std::string& id, const std::string& reason) {
        EXPECT_EQ(env_.history(id), kErroredHistory);
        const auto job = env_.job(id);
        ASSERT_TRUE(job && job->last_report.error_message);
        EXPECT_EQ(job->last_report.error_class, "ConfigError");
        const auto& message = *job->last_report.error_message;
        for (const auto& needle :
             {std::string("certificate was not trusted"), std::string("AWS_CA_BUNDLE"), reason}) {
            EXPECT_NE(message.find(needle), std::string::npos) << needle << " in: " << message;
        }
        EXPECT_EQ(message.find("X-Amz-"), std::string::npos) << message;
        EXPECT_EQ(server_->connections(), 1);
        const auto log = server_->request_log();
        EXPECT_EQ(count_of(log, "\"method\""), 0) << log;
        EXPECT_FALSE(fs::exists(env_.tmp / id));
        EXPECT_TRUE(env_.outputs().empty());
    }

    // The secret key, the session token, every presigned signature and the API token stay out
    // of the logs.
    void expect_no_storage_secret_logged() {
        const auto all = env_.logs().joined();
        EXPECT_EQ(all.find(server_->identity().secret_key), std::string::npos);
        EXPECT_EQ(all.find("X-Amz-Signature"), std::string::npos);
        EXPECT_EQ(all.find("X-Amz-Credential"), std::string::npos);
        env_.expect_no_secret_logged();
    }

    WorkerEnv env_;
    std::unique_ptr<S3Server> server_;
};

// (1) Presigned https:// URLs: frames as a .tar, the music, and the artifact's PUT.
TEST_F(StorageTlsTest, AJobRendersFromAPresignedHttpsTarToAPresignedHttpsPut) {
    start();
    upload_music("music/background.mp3");
    devapi::JobSpec spec;
    spec.frames_url = put_frames_tar("in/demo_part1.tar");
    spec.music_url = server_->presign("GET", "/renderer-tls/music/background.mp3");
    spec.output_url = server_->presign("PUT", "/renderer-tls/out/demo_part1.mp4");
    for (const auto& url : {*spec.frames_url, *spec.music_url, *spec.output_url})
        ASSERT_EQ(url.rfind("https://127.0.0.1:", 0), 0u) << url;
    const auto id = add_job("part1", spec);

    run(testing::storage_config_for(*server_));

    EXPECT_EQ(env_.history(id), kRenderedHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job && job->last_report.artifact_path);
    EXPECT_EQ(*job->last_report.artifact_path,
              server_->endpoint() + "/renderer-tls/out/demo_part1.mp4");
    EXPECT_EQ(job->last_report.audio_track, "background.mp3");
    expect_playable_artifact("out/demo_part1.mp4", id);
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"GET\",\"path\":\"/renderer-tls/in/demo_part1.tar\""), 1)
        << log;
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\",\"path\":\"/renderer-tls/out/demo_part1.mp4\""), 1)
        << log;
    EXPECT_EQ(count_of(log, "\"status\":403"), 0) << log;
    EXPECT_TRUE(env_.outputs().empty());
    EXPECT_FALSE(fs::exists(env_.tmp / id));
    expect_no_storage_secret_logged();
}

// (2) s3:// URLs through AWS_ENDPOINT_URL=https://127.0.0.1:PORT, the store trusted through
// AWS_CA_BUNDLE, both read by storage_config_from_env as the worker reads them at start: a
// listing, parallel GETs, the music, and a multipart upload, all over TLS.
TEST_F(StorageTlsTest, S3UrlsWorkThroughAnHttpsEndpointTrustedByAwsCaBundle) {
    start();
    upload_frames("f/");
    upload_music("music/background.mp3");
    const auto& identity = server_->identity();
    storage::StorageConfig storage;
    {
        ScopedEnv vars({{"AWS_ACCESS_KEY_ID", identity.access_key},
                        {"AWS_SECRET_ACCESS_KEY", identity.secret_key},
                        {"AWS_REGION", identity.region},
                        {"AWS_ENDPOINT_URL", server_->endpoint()},
                        {"AWS_CA_BUNDLE", server_->certificate().string()}});
        storage = storage::storage_config_from_env();
    }
    ASSERT_EQ(storage.ca_bundle, server_->certificate());
    storage.limits.min_free_bytes = 1 << 20;
    storage.limits.multipart_threshold = 1;  // the small test artifact goes in parts
    storage.limits.part_size = 8 << 10;
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-tls/f/";
    spec.music_url = "s3://renderer-tls/music/background.mp3";
    spec.output_url = "s3://renderer-tls/out/part1.mp4";
    const auto id = add_job("part1", spec);

    run(storage);

    EXPECT_EQ(env_.history(id), kRenderedHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job && job->last_report.artifact_path);
    EXPECT_EQ(*job->last_report.artifact_path, "s3://renderer-tls/out/part1.mp4");
    expect_playable_artifact("out/part1.mp4", id);
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "list-type=2"), 1) << log;
    EXPECT_EQ(count_of(log, "\"method\":\"GET\",\"path\":\"/renderer-tls/f/frame_"), 60) << log;
    EXPECT_GE(count_of(log, "partNumber=2&"), 1) << log;
    EXPECT_EQ(count_of(log, "\"status\":403"), 0) << log;
    expect_no_storage_secret_logged();
}

// (3) The store's self-signed certificate without AWS_CA_BUNDLE: libcurl's default CAs do not
// trust it. Before, the refused handshake was an IoError like a cut connection: each transfer
// was tried four times, the job retried as transient, and the message ("SSL peer certificate
// or SSH remote key was not OK") named nothing to fix.
TEST_F(StorageTlsTest, AnUntrustedCertificateErrorsTheJobNamingAwsCaBundleWithoutRetrying) {
    start();
    const auto frames_url = put_frames_tar("in/demo_part1.tar");
    devapi::JobSpec spec;
    spec.frames_url = frames_url;
    spec.output_url = server_->presign("PUT", "/renderer-tls/out/never.mp4");
    const auto id = add_job("part1", spec);

    auto storage = testing::storage_config_for(*server_);
    storage.ca_bundle.reset();
    run(storage);

    expect_refused_certificate(id, "self-signed certificate");
    expect_no_storage_secret_logged();
}

// The same through s3:// (the listing's single request, S3Client::perform).
TEST_F(StorageTlsTest, AnUntrustedEndpointRefusesAnS3ListingTheSameWay) {
    start();
    upload_frames("f/");
    devapi::JobSpec spec;
    spec.frames_url = "s3://renderer-tls/f/";
    spec.output_url = "s3://renderer-tls/out/never.mp4";
    const auto id = add_job("part1", spec);

    auto storage = testing::storage_config_for(*server_);
    storage.ca_bundle.reset();
    run(storage);

    expect_refused_certificate(id, "self-signed certificate");
    expect_no_storage_secret_logged();
}

// (4) A certificate that is trusted (AWS_CA_BUNDLE holds it) but made for another host name:
// refused, never sent a request, not retried.
TEST_F(StorageTlsTest, ACertificateForAnotherHostNameIsRefused) {
    start({"storage.other.example"});
    const auto frames_url = put_frames_tar("in/demo_part1.tar");
    devapi::JobSpec spec;
    spec.frames_url = frames_url;
    spec.output_url = server_->presign("PUT", "/renderer-tls/out/never.mp4");
    const auto id = add_job("part1", spec);

    const auto storage = testing::storage_config_for(*server_);
    ASSERT_EQ(storage.ca_bundle, server_->certificate());
    run(storage);

    // libcurl's wording: "... subject name matches target host name '127.0.0.1'" (curl 7.88,
    // Debian 12), "... target ipv4 address '127.0.0.1'" (curl 8.14, Debian 13).
    expect_refused_certificate(id, "subject name matches target");
    EXPECT_NE(env_.job(id)->last_report.error_message->find("'127.0.0.1'"), std::string::npos);
    expect_no_storage_secret_logged();
}

TEST(StorageTlsConfigTest, AwsCaBundleMustBeAReadablePemFile) {
    testing::TempDir dir;
    const auto pem = dir / "ca.pem";
    std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    std::ofstream(dir / "key.pem") << "-----BEGIN PRIVATE KEY-----\nMIIB\n";
    // The marker across the checker's 64 KiB read boundary, after a long comment.
    const auto split = dir / "split.pem";
    std::ofstream(split) << std::string(65'530, '#') << "\n-----BEGIN CERTIFICATE-----\nMIIB\n";
    for (const auto& good : {pem, split}) {
        ScopedEnv vars({{"AWS_CA_BUNDLE", good.string()}});
        EXPECT_EQ(storage::storage_config_from_env().ca_bundle, good);
    }
    EXPECT_FALSE(storage::storage_config_from_env().ca_bundle);
    // A FIFO is refused without being opened (opening it would block the start).
    ASSERT_EQ(::mkfifo((dir / "fifo.pem").c_str(), 0600), 0);
    for (const auto& bad :
         {(dir / "missing.pem").string(), dir.path().string(), (dir / "key.pem").string(),
          (dir / "fifo.pem").string(), std::string("relative/ca.pem")}) {
        ScopedEnv vars({{"AWS_CA_BUNDLE", bad}});
        try {
            storage::storage_config_from_env();
            ADD_FAILURE() << bad << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::ConfigError) << bad;
            EXPECT_NE(std::string(e.what()).find("AWS_CA_BUNDLE"), std::string::npos) << e.what();
        }
    }
}

// The real binary refuses to start (exit 78, one line naming the variable) on a bundle it
// cannot read, rather than failing every job that reaches the store.
TEST(StorageTlsConfigTest, TheWorkerExits78OnAnUnreadableAwsCaBundle) {
    testing::TempDir dir;
    std::vector<std::string> env{"PATH=/usr/bin:/bin", "LC_ALL=C",
                                 "API_BASE_URL=http://127.0.0.1:9",
                                 "API_AUTH_TOKEN=tls-config-test-token-8c2f",
                                 "AWS_CA_BUNDLE=" + (dir / "no-such-ca.pem").string()};
    for (auto& kv : testing::sanitizer_env()) env.push_back(std::move(kv));
    testing::Child c({testing::renderer_bin(), "--json-logs", "worker"}, env, dir / "out");
    EXPECT_EQ(c.wait(30s), 78);
    EXPECT_NE(c.output().find("AWS_CA_BUNDLE"), std::string::npos) << c.output();
    EXPECT_EQ(c.output().find("tls-config-test-token-8c2f"), std::string::npos) << c.output();
}

}  // namespace
}  // namespace renderer::worker

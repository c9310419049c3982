// Frames delivered as one .tar (frames_url an http(s) URL, DESIGN §4.1): the archive is hostile
// until proven otherwise. extract_frames_tar on archives written entry by entry with libarchive
// (traversal, absolute names, links, devices, sparse files, bombs, not a tar), then the worker
// end to end over real HTTP: the tar served by s3rver behind the signature-checking proxy
// through a presigned GET, the artifact sent back through a presigned PUT.
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "media/probe.h"
#include "storage/object_download.h"
#include "storage/remote_tar.h"
#include "storage/s3_client.h"
#include "support/fixtures.h"
#include "support/s3_server.h"
#include "support/tar_writer.h"
#include "support/worker_fixture.h"
#include "worker/worker.h"

namespace renderer::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TarEntry;
using Kind = testing::TarEntry::Kind;

constexpr const char* kShown = "https://store.example/frames.tar";

std::vector<fs::path> files_under(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(e.path());
    return out;
}

class TarExtractTest : public ::testing::Test {
  protected:
    void SetUp() override {
        frames_ = dir_.path() / "job" / "frames";
        fs::create_directories(frames_);
        limits_.min_free_bytes = 0;
    }

    fs::path tar(const std::vector<TarEntry>& entries) {
        const auto path = dir_.path() / "in.tar";
        testing::write_tar(path, entries);
        return path;
    }

    TarFrames extract(const fs::path& archive) {
        return extract_frames_tar(archive, frames_, limits_, kShown, [] { return false; });
    }

    // The archive is refused as a PreflightError whose message contains `needle`, and nothing
    // is left anywhere under the job dir but the empty frames dir.
    void expect_refused(const fs::path& archive, const std::string& needle) {
        try {
            extract(archive);
            ADD_FAILURE() << "accepted; expected a refusal mentioning " << needle;
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::PreflightError) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(kShown), std::string::npos) << e.what();
        }
        EXPECT_EQ(files_under(dir_.path() / "job"), std::vector<fs::path>{frames_});
    }

    testing::TempDir dir_;
    fs::path frames_;
    StorageLimits limits_;
};

TEST_F(TarExtractTest, TopLevelFramesAreWrittenByteForByte) {
    auto entries = testing::demo_frame_entries("./");
    entries.insert(entries.begin(), TarEntry{.name = "./", .kind = Kind::Directory});
    const auto result = extract(tar(entries));
    EXPECT_EQ(result.files, entries.size() - 1);
    for (std::size_t i = 1; i < entries.size(); ++i) {
        const auto path = frames_ / entries[i].name.substr(2);
        ASSERT_TRUE(fs::is_regular_file(path)) << path;
        EXPECT_EQ(testing::read_text(path), entries[i].data);
    }
    std::uint64_t bytes = 0;
    for (const auto& e : entries) bytes += e.data.size();
    EXPECT_EQ(result.bytes, bytes);
}

TEST_F(TarExtractTest, AParentTraversalIsRefusedAndNothingIsWrittenOutside) {
    auto entries = testing::demo_frame_entries();
    entries.push_back({.name = "../evil.png", .data = "x"});
    expect_refused(tar(entries), "'../evil.png' has a path");
    EXPECT_FALSE(fs::exists(dir_.path() / "job" / "evil.png"));
}

TEST_F(TarExtractTest, AnAbsoluteNameIsRefused) {
    const auto target = dir_.path() / "abs.png";
    expect_refused(tar({{.name = target.string(), .data = "x"}}), "has a path");
    EXPECT_FALSE(fs::exists(target));
}

TEST_F(TarExtractTest, ASubdirectoryIsRefused) {
    expect_refused(tar({{.name = "frames/", .kind = Kind::Directory},
                        {.name = "frames/frame_1.png", .data = "x"}}),
                   "is a directory");
    expect_refused(tar({{.name = "frames/frame_1.png", .data = "x"}}), "has a path");
}

TEST_F(TarExtractTest, ASymlinkIsRefused) {
    expect_refused(tar({{.name = "frame_1.png", .kind = Kind::Symlink, .link = "/etc/passwd"}}),
                   "'frame_1.png' is a symbolic link");
}

TEST_F(TarExtractTest, AHardLinkIsRefused) {
    expect_refused(tar({{.name = "frame_1.png", .data = "x"},
                        {.name = "frame_2.png", .kind = Kind::Hardlink, .link = "frame_1.png"}}),
                   "'frame_2.png' is a hard link");
}

TEST_F(TarExtractTest, AFifoIsRefused) {
    expect_refused(tar({{.name = "frame_1.png", .kind = Kind::Fifo}}), "is a FIFO");
}

TEST_F(TarExtractTest, NamesThatAreNotFramesAreRefused) {
    expect_refused(tar({{.name = "notes.txt", .data = "x"}}), "'notes.txt' is not a .png frame");
    expect_refused(tar({{.name = ".hidden.png", .data = "x"}}), "'.hidden.png' is not a .png");
    expect_refused(tar({{.name = "..", .data = "x"}}), "'..' has a path");
    expect_refused(tar({{.name = "a\x01.png", .data = "x"}}), "is not a .png frame");
}

TEST_F(TarExtractTest, ANameSeenTwiceIsRefused) {
    expect_refused(tar({{.name = "frame_1.png", .data = "first"},
                        {.name = "./frame_1.png", .data = "second"}}),
                   "'./frame_1.png' appears twice");
}

TEST_F(TarExtractTest, MoreEntriesThanStorageMaxFilesAreRefused) {
    limits_.max_files = 10;
    std::vector<TarEntry> entries;
    for (int i = 0; i < 11; ++i) entries.push_back({"frame_" + std::to_string(i) + ".png", "x"});
    expect_refused(tar(entries), "more than 10 entries (STORAGE_MAX_FILES)");
}

// STORAGE_MAX_FILES bounds frames, as for an s3:// prefix: `tar -C DIR -cf frames.tar .` puts
// a "./" entry before them, which is not a frame and must not cost one. A second root entry
// is the archive's author padding the count, refused like any name seen twice.
TEST_F(TarExtractTest, TheRootEntryDoesNotCountAgainstStorageMaxFiles) {
    limits_.max_files = 3;
    std::vector<TarEntry> entries{{.name = "./", .kind = Kind::Directory}};
    for (int i = 1; i <= 3; ++i) entries.push_back({"./frame_" + std::to_string(i) + ".png", "x"});
    EXPECT_EQ(extract(tar(entries)).files, 3u);
    fs::remove_all(frames_);
    fs::create_directories(frames_);
    expect_refused(tar({{.name = "./", .kind = Kind::Directory},
                        {.name = "frame_1.png", .data = "x"},
                        {.name = ".", .kind = Kind::Directory}}),
                   "appears twice");
}

TEST_F(TarExtractTest, MoreBytesThanStorageMaxBytesAreRefusedAtTheLimit) {
    limits_.max_bytes = 100'000;
    std::vector<TarEntry> entries{{"frame_1.png", std::string(60'000, 'a')},
                                  {"frame_2.png", std::string(60'000, 'b')}};
    expect_refused(tar(entries), "exceed 100000 bytes (STORAGE_MAX_BYTES)");
}

// GNU tar stores a 1 GiB hole in a few blocks: unpacked, it would be 1 GiB of zeros.
TEST_F(TarExtractTest, ASparseEntryIsRefused) {
    const auto src = dir_.path() / "src";
    fs::create_directories(src);
    const auto hole = src / "frame_1.png";
    { std::ofstream(hole) << "x"; }
    fs::resize_file(hole, 1ull << 30);
    const auto archive = dir_.path() / "sparse.tar";
    const auto cmd =
        "tar --sparse -cf '" + archive.string() + "' -C '" + src.string() + "' frame_1.png";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ASSERT_LT(fs::file_size(archive), 1u << 20);
    expect_refused(archive, "'frame_1.png' is a sparse file");
}

TEST_F(TarExtractTest, BytesThatAreNotATarAreRefused) {
    const auto png = testing::testdata() / "stories" / "demo" / "part1" / "frames" / "frame_1.png";
    expect_refused(png, "is not a tar archive");
    const auto text = dir_.path() / "text.tar";
    { std::ofstream(text) << std::string(4096, 'z'); }
    expect_refused(text, "is not a tar archive");
    expect_refused(text, "a prefix of PNGs is s3://BUCKET/PREFIX/");
    const auto empty = dir_.path() / "empty.tar";
    { std::ofstream{empty}; }
    expect_refused(empty, "not a tar archive");
}

TEST_F(TarExtractTest, ATruncatedTarIsRefusedAndItsFramesRemoved) {
    const auto archive = tar(testing::demo_frame_entries());
    fs::resize_file(archive, fs::file_size(archive) / 2);
    expect_refused(archive, "Truncated");
}

TEST_F(TarExtractTest, AnArchiveWithoutFramesIsRefused) {
    expect_refused(tar({{.name = "./", .kind = Kind::Directory}}), "holds no .png frames");
}

// Entry names are the archive author's: a refusal quoting one goes into error_message and log
// lines, where a raw newline, carriage return or escape sequence would forge or hide text.
TEST_F(TarExtractTest, ControlBytesInARefusedNameAreEscaped) {
    const std::string name = "x\n{\"level\":\"info\"}\r\x1b[2J\x7f\xc2\x9b.png";
    try {
        extract(tar({{.name = name, .data = "x"}}));
        ADD_FAILURE() << "accepted a name with control bytes";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.error_class(), ErrorClass::PreflightError) << what;
        for (const char c : {'\n', '\r', '\x1b', '\x7f'}) {
            EXPECT_EQ(what.find(c), std::string::npos) << what;
        }
        EXPECT_EQ(what.find("\xc2\x9b"), std::string::npos) << what;  // C1 CSI
        EXPECT_NE(what.find(R"('x\x0a{"level":"info"}\x0d\x1b[2J\x7f\xc2\x9b.png')"),
                  std::string::npos)
            << what;
    }
}

// A lease lost while a large frame is unpacked stops the unpacking there, not after the
// entry (which may be up to STORAGE_MAX_BYTES).
TEST_F(TarExtractTest, CancellationIsNoticedWithinALargeEntry) {
    constexpr std::size_t kBig = 8u << 20;
    const auto archive = tar({{.name = "frame_1.png", .data = std::string(kBig, 'p')}});
    const auto written = frames_ / "frame_1.png";
    std::uintmax_t seen = 0;
    const CancelFn cancel_once_started = [&] {
        std::error_code ec;
        const auto size = fs::file_size(written, ec);
        if (ec) return false;
        seen = size;
        return size > 0;
    };
    try {
        extract_frames_tar(archive, frames_, limits_, kShown, cancel_once_started);
        ADD_FAILURE() << "not cancelled";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::Cancelled) << e.what();
    }
    EXPECT_GT(seen, 0u);
    EXPECT_LT(seen, kBig / 2) << "the whole entry was written before the cancel was seen";
    EXPECT_FALSE(fs::exists(written));
}

// A frame named in UTF-8 (a pax path= record, as bsdtar and tar --format=pax write it) is
// unpacked under that name byte for byte, whatever the process locale.
TEST_F(TarExtractTest, AUtf8NameIsKeptByteForByte) {
    const std::string name = "kadr_\xc3\xa9_1.png";
    const auto result = extract(tar({{.name = name, .data = "frame"}}));
    EXPECT_EQ(result.files, 1u);
    EXPECT_EQ(testing::read_text(frames_ / name), "frame");
}

// The frames are about as large as the archive still on disk: a tar of small frames must not
// unpack on a disk already below STORAGE_MIN_FREE_BYTES (each entry's size is in its header).
TEST_F(TarExtractTest, UnpackingBelowTheFreeSpaceFloorIsRefused) {
    limits_.min_free_bytes = 1ull << 62;
    try {
        extract(tar(testing::demo_frame_entries()));
        ADD_FAILURE() << "unpacked below the free-space floor";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::IoError) << e.what();
        EXPECT_EQ(e.os_error(), ENOSPC) << e.what();
        EXPECT_NE(std::string(e.what()).find("not enough free space"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(files_under(dir_.path() / "job"), std::vector<fs::path>{frames_});
}

// DESIGN §4.1 names an uncompressed tar: a gzip stream is refused, not parsed.
TEST_F(TarExtractTest, ACompressedTarIsRefused) {
    const auto plain = tar(testing::demo_frame_entries());
    const auto gz = dir_.path() / "frames.tar.gz";
    const auto cmd = "gzip -c '" + plain.string() + "' > '" + gz.string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    expect_refused(gz, "is not a tar archive");
}

}  // namespace
}  // namespace renderer::storage

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::count_of;
using testing::S3Server;
using testing::TarEntry;
using testing::WorkerEnv;
using Kind = testing::TarEntry::Kind;

constexpr const char* kBucket = "renderer-tars";
const std::vector<std::string> kRenderedHistory{"queued", "claimed", "rendering", "rendered"};
const std::vector<std::string> kErroredHistory{"queued", "claimed", "rendering", "errored"};

class TarWorkerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ = std::make_unique<S3Server>(env_.dir.path() / "s3");
        server_->create_bucket(kBucket);
    }

    // Stores `entries` as KEY in the bucket; returns a presigned GET URL for it.
    std::string put_tar(const std::string& key, const std::vector<TarEntry>& entries) {
        const auto path = env_.dir.path() / "upload.tar";
        testing::write_tar(path, entries);
        server_->put(kBucket, key, testing::read_text(path));
        return server_->presign("GET", std::string("/") + kBucket + "/" + key);
    }

    std::string add_job(const std::string& part, const std::string& frames_url,
                        const std::string& output_url) {
        devapi::JobSpec spec;
        spec.frames_url = frames_url;
        spec.output_url = output_url;
        return env_.add_job("demo", part, spec);
    }

    void run(const storage::StorageConfig& storage) {
        auto config = env_.config();
        config.storage = storage;
        Worker w(config);
        ASSERT_TRUE(WorkerEnv::run_until(
            w, [&] { return env_.all_final(); }, 180s));
    }

    // errored, as a PreflightError whose message names `needle`; no query string in it.
    void expect_refused(const std::string& id, const std::string& needle) {
        EXPECT_EQ(env_.history(id), kErroredHistory) << id;
        const auto job = env_.job(id);
        ASSERT_TRUE(job && job->last_report.error_message) << id;
        EXPECT_EQ(job->last_report.error_class, "PreflightError") << id;
        const auto& message = *job->last_report.error_message;
        EXPECT_NE(message.find(needle), std::string::npos) << id << ": " << message;
        EXPECT_EQ(message.find("X-Amz-"), std::string::npos) << message;
        EXPECT_FALSE(fs::exists(env_.tmp / id)) << id;
    }

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

TEST_F(TarWorkerTest, AJobRendersFromAPresignedTarToAPresignedPut) {
    const auto frames_url = put_tar("in/demo_part1.tar", testing::demo_frame_entries("./"));
    const auto put_url = server_->presign("PUT", "/renderer-tars/out/demo_part1.mp4");
    const auto id = add_job("part1", frames_url, put_url);

    run(testing::storage_config_for(*server_));

    EXPECT_EQ(env_.history(id), kRenderedHistory);
    const auto job = env_.job(id);
    ASSERT_TRUE(job && job->last_report.artifact_path);
    EXPECT_EQ(*job->last_report.artifact_path,
              server_->endpoint() + "/renderer-tars/out/demo_part1.mp4");

    // The uploaded object is the whole, playable artifact of all 60 frames.
    storage::S3Client client(testing::storage_config_for(*server_));
    const auto copy = env_.dir.path() / "downloaded.mp4";
    storage::download_all(
        client, {{.object = storage::S3Location{kBucket, "out/demo_part1.mp4"}, .dest = copy}},
        [] { return false; });
    EXPECT_EQ(job->last_report.bytes, static_cast<std::int64_t>(fs::file_size(copy)));
    const auto info = media::probe_file(copy);
    EXPECT_NEAR(info.duration_sec, 60 / 30.0, 0.1);
    const auto downloads = env_.logs().events("inputs_downloaded");
    ASSERT_EQ(downloads.size(), 1u);
    EXPECT_EQ(downloads[0]["unpacked_files"].GetUint64(), 60u);
    EXPECT_TRUE(env_.outputs().empty());
    EXPECT_FALSE(fs::exists(env_.tmp / id));
    EXPECT_EQ(count_of(server_->request_log(), "\"status\":403"), 0);
    expect_no_storage_secret_logged();
}

// Each hostile archive errors its job before any render or upload, naming the entry; nothing
// lands outside the job's frames dir, and the worker goes on to the next job.
TEST_F(TarWorkerTest, HostileTarsAreRefusedNamingTheEntry) {
    auto traversal = testing::demo_frame_entries();
    traversal.resize(3);  // small: within the run's STORAGE_MAX_BYTES
    traversal.push_back({.name = "../../escaped.png", .data = "x"});
    std::vector<TarEntry> many;
    for (int i = 0; i < 101; ++i) many.push_back({"f" + std::to_string(i) + ".png", "x"});
    const std::vector<std::pair<std::string, std::string>> cases{
        {add_job("traversal", put_tar("t/traversal.tar", traversal), "s3://renderer-tars/o/1.mp4"),
         "'../../escaped.png' has a path"},
        {add_job("symlink",
                 put_tar("t/symlink.tar",
                         {{.name = "frame_1.png", .kind = Kind::Symlink, .link = "/etc/passwd"}}),
                 "s3://renderer-tars/o/2.mp4"),
         "'frame_1.png' is a symbolic link"},
        {add_job("many", put_tar("t/many.tar", many), "s3://renderer-tars/o/3.mp4"),
         "more than 100 entries (STORAGE_MAX_FILES)"},
        {add_job("bytes", put_tar("t/bytes.tar", {{"frame_1.png", std::string(300'000, 'b')}}),
                 "s3://renderer-tars/o/4.mp4"),
         "exceed 200000 bytes (STORAGE_MAX_BYTES)"},
    };
    server_->put(kBucket, "t/not-a-tar.tar", "<html>this is an error page, not a tar</html>");
    const auto not_tar =
        add_job("nottar", server_->presign("GET", "/renderer-tars/t/not-a-tar.tar"),
                "s3://renderer-tars/o/5.mp4");

    auto storage = testing::storage_config_for(*server_);
    storage.limits.max_files = 100;
    storage.limits.max_bytes = 200'000;
    run(storage);

    for (const auto& [id, needle] : cases) expect_refused(id, needle);
    expect_refused(not_tar, "is not a tar archive");
    for (const auto& e : fs::recursive_directory_iterator(env_.dir.path())) {
        EXPECT_NE(e.path().filename(), "escaped.png") << e.path();
    }
    const auto log = server_->request_log();
    EXPECT_EQ(count_of(log, "\"method\":\"PUT\""), 0) << log;
    EXPECT_FALSE(env_.has_event("output_uploaded"));
    expect_no_storage_secret_logged();
}

}  // namespace
}  // namespace renderer::worker

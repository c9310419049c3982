// Crashes and a flaky API, end to end over loopback: the reference API (real binary) answers
// 20 % of its calls with 503, three `renderer worker` processes share one queue of 30 jobs;
// worker 1 is killed with SIGKILL mid-render twice (its temp file half written) and restarted
// once its lease has certainly lapsed, and worker 2 is frozen (SIGSTOP) mid-render until its
// lease has lapsed. At the end every job is `rendered`, every file in the output dir is a valid
// H.264/AAC MP4 of the expected length, no temp file survived the restarted worker's sweep, no
// worker published after losing its lease, and the token is in no output. Bounded in time;
// everything it starts it stops.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include "media/probe.h"
#include "support/bad_media.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/process.h"
#include "support/secret_scan.h"

namespace renderer::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kJobs = 30;
constexpr int kWorkers = 3;
constexpr int kLeaseSec = 3;
constexpr int kKills = 2;
constexpr int kFps = 30;
constexpr int kFramesPerJob = 45;  // 1.5 s of video: the cut (the track is 4 s)
constexpr auto kLimit = 420s;      // the whole test, under ASan on two busy cores

std::string story(int i) { return fmt::format("s{:02d}", i); }
std::string job_id(int i) { return story(i) + "-p1"; }
std::string artifact(int i) { return story(i) + "_p1.mp4"; }

// One JSON log line per element; a line cut by SIGKILL is skipped.
std::vector<rapidjson::Document> json_lines(const std::string& text) {
    std::vector<rapidjson::Document> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        rapidjson::Document doc;
        doc.Parse(text.data() + start, end - start);
        if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("event")) {
            out.push_back(std::move(doc));
        }
        start = end + 1;
    }
    return out;
}

std::string field(const rapidjson::Value& v, const char* key) {
    const auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// The job a worker is busy with: claimed, and not yet done, errored, lost or cancelled.
std::optional<std::string> active_job(const std::string& log) {
    std::optional<std::string> active;
    for (const auto& e : json_lines(log)) {
        const auto event = field(e, "event");
        if (event == "claim") active = field(e, "job_id");
        if (active && field(e, "job_id") == *active &&
            (event == "done" || event == "error" || event == "lease_lost" ||
             event == "cancelled")) {
            active.reset();
        }
    }
    return active;
}

// The hidden temp file a render of `name` is writing in `dir`, if any.
std::optional<std::string> temp_file_for(const fs::path& dir, const std::string& name) {
    for (const auto& e : dir_entries(dir)) {
        if (e.rfind(".renderer-tmp-", 0) == 0 && e.size() > name.size() &&
            e.compare(e.size() - name.size() - 1, std::string::npos, "-" + name) == 0) {
            return e;
        }
    }
    return std::nullopt;
}

class CrashFaultTest : public ::testing::Test {
  protected:
    void SetUp() override {
        token_ = fmt::format("crash-token-{:016x}", std::mt19937_64{std::random_device{}()}());
        for (const char* d : {"content/audio/music", "output", "logs"})
            fs::create_directories(dir_ / d);
        fs::copy_file(testdata() / "audio/music/background.mp3",
                      dir_ / "content/audio/music/background.mp3");
        // Textured frames (x264 has real work: renders take long enough to be killed in), the
        // same set for every story.
        write_textured_frames(dir_ / "frames-src", kFramesPerJob, 320, 180);
        write_bytes(dir_ / "token", token_ + "\n");
        fs::permissions(dir_ / "token", fs::perms::owner_read | fs::perms::owner_write);
    }

    // The reference API (real binary) seeded with `jobs` stories, failing `fail_rate` of its
    // calls, granting leases of `lease_sec`.
    void start_api(int jobs, double fail_rate, int lease_sec) {
        lease_sec_ = lease_sec;
        for (int i = 1; i <= jobs; ++i) {
            const auto frames = dir_ / "content/stories" / story(i) / "p1/frames";
            fs::create_directories(frames);
            // Hard links: the same bytes in each story's own frames dir, no copies.
            for (const auto& f : fs::directory_iterator(dir_ / "frames-src")) {
                fs::create_hard_link(f.path(), frames / f.path().filename());
            }
        }
        auto env = base_env();
        devapi_ = std::make_unique<Child>(
            std::vector<std::string>{devapi_bin(), "--json-logs", "--host", "127.0.0.1", "--port",
                                     "0", "--port-file", (dir_ / "port").string(), "--token-file",
                                     (dir_ / "token").string(), "--seed-stories",
                                     (dir_ / "content/stories").string(), "--lease-seconds",
                                     std::to_string(lease_sec), "--fail-rate",
                                     fmt::format("{}", fail_rate), "--seed", "7"},
            env, dir_ / "logs/devapi.log");
        const auto until = Clock::now() + 30s;
        while (Clock::now() < until && !fs::exists(dir_ / "port"))
            std::this_thread::sleep_for(20ms);
        ASSERT_TRUE(fs::exists(dir_ / "port")) << devapi_->output();
        port_ = std::stoi(read_text(dir_ / "port"));
    }

    std::vector<std::string> base_env() const {
        std::vector<std::string> env{"PATH=/usr/bin:/bin", "LC_ALL=C"};
        for (auto& kv : sanitizer_env()) env.push_back(std::move(kv));
        return env;
    }

    // Worker `slot` (0-based), `generation` counting its restarts.
    std::unique_ptr<Child> start_worker(int slot, int generation) {
        auto env = base_env();
        const auto tmp = dir_ / "tmp" / fmt::format("w{}", slot + 1);
        for (const auto& kv : std::vector<std::string>{
                 fmt::format("API_BASE_URL=http://127.0.0.1:{}", port_),
                 "API_AUTH_TOKEN_FILE=" + (dir_ / "token").string(),
                 "CONTENT_DIR=" + (dir_ / "content").string(),
                 "OUTPUT_DIR=" + (dir_ / "output").string(), "TMP_DIR=" + tmp.string(),
                 fmt::format("WORKER_NAME=w{}-g{}", slot + 1, generation),
                 fmt::format("LEASE_SECONDS={}", lease_sec_), "POLL_INTERVAL_MS=100",
                 "MAX_CONCURRENT=1", "MIN_FREE_BYTES=1M", "HTTP_TIMEOUT_SEC=5",
                 "SHUTDOWN_GRACE_SEC=60", "X264_THREADS=1", "DECODE_THREADS=1",
                 fmt::format("FPS={}", kFps), "RENDER_SIZE=640x360", "X264_PRESET=faster"}) {
            env.push_back(kv);
        }
        const auto log = dir_ / "logs" / fmt::format("w{}-g{}.log", slot + 1, generation);
        logs_.push_back(log);
        return std::make_unique<Child>(
            std::vector<std::string>{renderer_bin(), "--json-logs", "worker"}, env, log);
    }

    // GET on the reference API (the routes tests read are never faulted).
    std::optional<rapidjson::Document> get(const std::string& path) {
        httplib::Client client("127.0.0.1", port_);
        client.set_read_timeout(10, 0);
        const auto res = client.Get(path.c_str(), {{"Authorization", "Bearer " + token_}});
        if (!res || res->status != 200) return std::nullopt;
        rapidjson::Document doc;
        doc.Parse(res->body.data(), res->body.size());
        if (doc.HasParseError()) return std::nullopt;
        return doc;
    }

    int final_jobs() {
        const auto stats = get("/api/stats");
        if (!stats) return 0;
        const auto& by = (*stats)["by_status"];
        return by["rendered"].GetInt() + by["errored"].GetInt();
    }

    TempDir tmp_;
    fs::path dir_ = tmp_.path();
    std::string token_;
    int port_ = 0;
    int lease_sec_ = kLeaseSec;
    std::unique_ptr<Child> devapi_;
    std::vector<fs::path> logs_;
};

// Runs one step of a test: its name is in the trace of every failure inside it, and a fatal
// failure in it stops the steps after it.
#define STEP(call)                     \
    do {                               \
        SCOPED_TRACE("step: " #call);  \
        ASSERT_NO_FATAL_FAILURE(call); \
    } while (false)

// The long run (30 jobs, three workers, a 5xx-ing API, two SIGKILLs and a SIGSTOP) as named
// steps: the faults are injected first, then each method proves one thing about the outcome.
class CrashFaultRunTest : public CrashFaultTest {
  protected:
    // A fault: which job the worker was rendering, the temp file it was writing, when.
    struct Fault {
        std::string job;
        std::string temp_file;
        Clock::time_point at;
    };

    void start_the_api_and_three_workers() {
        ASSERT_NO_FATAL_FAILURE(start_api(kJobs, 0.2, kLeaseSec));
        t0_ = Clock::now();
        for (int i = 0; i < kWorkers; ++i) workers_.push_back(start_worker(i, 0));
    }

    // Worker 1 is killed mid-render twice and restarted each time its lease has certainly
    // lapsed; worker 2 is frozen mid-render past its lease; meanwhile the queue drains.
    void kill_and_freeze_workers_mid_render_until_every_job_finished() {
        const auto deadline = t0_ + kLimit;
        int generation = 0;
        bool slot0_dead = false;
        int finished = 0;
        auto next_stats = t0_;
        while (Clock::now() < deadline) {
            if (Clock::now() >= next_stats) {
                finished = final_jobs();
                next_stats = Clock::now() + 250ms;
            }
            // Logs are read only while some render is writing (the directory listing is cheap).
            const auto entries = dir_entries(dir_ / "output");
            const bool rendering = std::any_of(entries.begin(), entries.end(), [](const auto& e) {
                return e.rfind(".renderer-tmp-", 0) == 0;
            });
            // Worker 1 is killed mid-render, twice.
            if (rendering && !slot0_dead && static_cast<int>(kills_.size()) < kKills) {
                if (auto f = encoding(0)) {
                    workers_[0]->signal(SIGKILL);
                    ASSERT_EQ(workers_[0]->wait(10s), 128 + SIGKILL);
                    slot0_dead = true;
                    EXPECT_TRUE(fs::exists(dir_ / "output" / f->temp_file)) << "killed mid-render";
                    std::printf("%6.2f s: SIGKILL worker 1 rendering %s\n", since(f->at),
                                f->job.c_str());
                    kills_.push_back(std::move(*f));
                }
            }
            // Worker 2 is frozen mid-render (SIGSTOP: a VM pause, a stuck disk) until its lease
            // has certainly lapsed and the job was given to another; when it wakes it must
            // notice and publish nothing.
            if (rendering && !freeze_ && !kills_.empty()) {
                if (auto f = encoding(1)) {
                    workers_[1]->signal(SIGSTOP);
                    std::printf("%6.2f s: SIGSTOP worker 2 rendering %s\n", since(f->at),
                                f->job.c_str());
                    freeze_ = std::move(*f);
                }
            }
            if (freeze_ && !thawed_ && lapsed(*freeze_)) {
                workers_[1]->signal(SIGCONT);
                thawed_ = true;
                std::printf("%6.2f s: SIGCONT worker 2\n", since(Clock::now()));
            }
            // Worker 1 is restarted once twice the lease has passed: by then a sweep has taken
            // the temp file the killed process left (the restarted worker's at start, or the
            // others' periodic ones: they share OUTPUT_DIR), and the restart's takes its work
            // dir.
            if (slot0_dead && lapsed(kills_.back())) {
                workers_[0] = start_worker(0, ++generation);
                slot0_dead = false;
                ASSERT_TRUE(workers_[0]->wait_for_output(R"("event":"start")", 60s))
                    << workers_[0]->output();
                std::printf("%6.2f s: worker 1 restarted\n", since(Clock::now()));
                EXPECT_FALSE(fs::exists(dir_ / "output" / kills_.back().temp_file))
                    << "a sweep removes the killed render's temp file";
                for (const auto& e : json_lines(workers_[0]->output())) {
                    if (field(e, "event") == "sweep")
                        swept_job_dirs_.push_back(e["stale_job_dirs"].GetInt());
                }
            }
            const bool faults_done =
                static_cast<int>(kills_.size()) == kKills && !slot0_dead && thawed_;
            if (finished == kJobs && (faults_done || (!slot0_dead && !(freeze_ && !thawed_))))
                break;
            std::this_thread::sleep_for(10ms);
        }
        wall_sec_ = since(Clock::now());
    }

    void both_faults_happened_before_every_job_finished() {
        ASSERT_EQ(static_cast<int>(kills_.size()), kKills)
            << "the queue emptied before worker 1 could be killed twice mid-render";
        ASSERT_TRUE(freeze_ && thawed_) << "the queue emptied before worker 2 could be frozen";
        ASSERT_EQ(final_jobs(), kJobs)
            << "not every job finished within " << kLimit.count() << " s";
    }

    // The killed process left one work dir each time, in its own TMP_DIR, taken at restart.
    void each_restart_swept_the_killed_renders_work_dir() {
        ASSERT_EQ(swept_job_dirs_.size(), static_cast<std::size_t>(kKills));
        for (int i = 0; i < kKills; ++i) EXPECT_EQ(swept_job_dirs_[i], 1);
    }

    void every_worker_drains_and_exits_0_on_sigterm() {
        for (auto& w : workers_) w->signal(SIGTERM);
        for (auto& w : workers_) EXPECT_EQ(w->wait(90s), 0) << w->output();
    }

    void every_job_was_rendered_once_by_the_holder_of_a_live_lease() {
        for (int i = 1; i <= kJobs; ++i) {
            SCOPED_TRACE(job_id(i));
            const auto job = get("/api/render-jobs/" + job_id(i));
            ASSERT_TRUE(job);
            EXPECT_EQ(field(*job, "status"), "rendered");
            lease_expirations_ += (*job)["lease_expirations"].GetInt();
            claims_ += (*job)["attempts"].GetInt();
            std::string holder;
            int rendered_posts = 0;
            for (const auto& h : (*job)["history"].GetArray()) {
                const auto status = field(h, "status");
                if (status == "claimed") holder = field(h, "worker");
                if (status == "queued") holder.clear();  // created, or the lease was taken back
                if (status == "rendered") {
                    ++rendered_posts;
                    EXPECT_FALSE(holder.empty());
                    EXPECT_EQ(field(h, "worker"), holder) << "published without the lease";
                }
            }
            EXPECT_EQ(rendered_posts, 1);
            const auto path = field(*job, "artifact_path");
            EXPECT_EQ(path, (dir_ / "output" / artifact(i)).string());
            std::error_code ec;
            EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(path, ec)),
                      (*job)["bytes"].GetInt64())
                << "the file on disk is the one that was reported";
        }
    }

    void the_output_dir_holds_only_the_jobs_complete_playable_mp4s() {
        std::set<std::string> expected;
        for (int i = 1; i <= kJobs; ++i) expected.insert(artifact(i));
        const auto outputs = dir_entries(dir_ / "output");
        EXPECT_EQ(std::set<std::string>(outputs.begin(), outputs.end()), expected)
            << "no temp file or stray artifact may remain";
        for (const auto& name : outputs) {
            SCOPED_TRACE(name);
            const auto info = media::probe_file(dir_ / "output" / name);
            const auto* v = first_stream(info, "video");
            const auto* a = first_stream(info, "audio");
            ASSERT_TRUE(v && a);
            EXPECT_EQ(v->codec, "h264");
            EXPECT_EQ(a->codec, "aac");
            EXPECT_EQ(v->frames, kFramesPerJob);
            EXPECT_NEAR(info.duration_sec, 1.0 * kFramesPerJob / kFps, 0.05);
        }
    }

    void every_work_dir_was_removed() {
        for (int i = 0; i < kWorkers; ++i) {
            EXPECT_TRUE(dir_entries(dir_ / "tmp" / fmt::format("w{}", i + 1)).empty())
                << "work dirs are removed, the killed ones by the sweep";
        }
    }

    // Within each attempt (a claim up to the next one for the same job), `done` never follows
    // `lease_lost` in a worker's log. Also counts what the later steps and the summary need.
    void no_worker_published_after_it_lost_a_lease() {
        int done = 0;
        for (const auto& log : logs_) {
            const auto text = read_text(log);
            texts_.emplace_back(log.filename().string(), text);
            std::map<std::string, bool> lost;  // job -> lease lost in the current attempt
            for (const auto& e : json_lines(text)) {
                const auto event = field(e, "event");
                const auto job = field(e, "job_id");
                if (event == "claim") lost[job] = false;
                if (event == "lease_lost") {
                    lost[job] = true;
                    ++lease_lost_;
                    std::printf("%s: lease_lost %s: %s\n", log.filename().c_str(), job.c_str(),
                                field(e, "reason").c_str());
                }
                if (event == "retry") ++retries_;
                if (event == "sweep") swept_temp_files_ += e["stale_temp_files"].GetInt();
                if (event == "done") {
                    ++done;
                    EXPECT_FALSE(lost[job]) << log << ": " << job << " published after lease_lost";
                }
            }
        }
        EXPECT_GE(done, kJobs);
    }

    // Each killed render's temp file was taken by some worker's sweep (a frozen worker's may be
    // taken too: it is as stale, its lease gone).
    void each_killed_renders_temp_file_was_swept() { EXPECT_GE(swept_temp_files_, kKills); }

    void the_frozen_worker_woke_to_a_lost_lease_and_said_so() {
        const auto w2 = json_lines(read_text(dir_ / "logs/w2-g0.log"));
        EXPECT_TRUE(std::any_of(w2.begin(), w2.end(),
                                [&](const auto& e) {
                                    return field(e, "event") == "lease_lost" &&
                                           field(e, "job_id") == freeze_->job;
                                }))
            << "worker 2 must notice it lost " << freeze_->job << " while frozen";
    }

    // The API's view of the faults it injected and the stale posts it refused.
    void the_api_injected_5xx_and_every_faulted_lease_lapsed() {
        devapi_->signal(SIGTERM);
        EXPECT_EQ(devapi_->wait(30s), 0);
        const auto api_log = devapi_->output();
        texts_.emplace_back("devapi", api_log);
        for (const auto& e : json_lines(api_log)) {
            if (field(e, "event") != "request") continue;
            ++requests_;
            const int status = e["status"].GetInt();
            if (status == 503) ++injected_5xx_;
            if (status == 410) ++refused_410_;
        }
        EXPECT_GT(injected_5xx_, requests_ / 10) << "about 20 % of the answers are injected 503s";
        EXPECT_GE(lease_expirations_, kKills + 1) << "each killed or frozen render's lease lapsed";
    }

    void the_token_is_in_no_output() {
        const int scanned = expect_no_secret(token_, SecretScan{texts_, {dir_}, {dir_ / "token"}});
        EXPECT_GT(scanned, kJobs * kFramesPerJob);
    }

    void record_the_summary() {
        const auto summary = fmt::format(
            "crash_fault: {} jobs, {} workers, {} SIGKILLs mid-render, 1 SIGSTOP past the lease, "
            "{} API requests with {} injected 5xx, {} lease expirations, {} stale calls refused "
            "(410), {} lease_lost, {} retries logged, {} claims, {:.0f} s",
            kJobs, kWorkers, kills_.size(), requests_, injected_5xx_, lease_expirations_,
            refused_410_, lease_lost_, retries_, claims_, wall_sec_);
        std::printf("%s\n", summary.c_str());
        RecordProperty("summary", summary);
    }

  private:
    // The job `slot` is encoding right now (claimed, temp file on disk), if any.
    std::optional<Fault> encoding(int slot) {
        const auto job = active_job(workers_[slot]->output());
        if (!job) return std::nullopt;
        const auto temp = temp_file_for(dir_ / "output", artifact(std::stoi(job->substr(1, 2))));
        if (!temp) return std::nullopt;
        return Fault{*job, *temp, Clock::now()};
    }
    double since(Clock::time_point t) const {
        return std::chrono::duration<double>(t - t0_).count();
    }
    static bool lapsed(const Fault& f) {
        return Clock::now() >= f.at + std::chrono::seconds(2 * kLeaseSec) + 1s;
    }

    Clock::time_point t0_;
    std::vector<std::unique_ptr<Child>> workers_;
    std::vector<Fault> kills_;
    std::optional<Fault> freeze_;
    bool thawed_ = false;
    std::vector<int> swept_job_dirs_;
    double wall_sec_ = 0;
    // Tallies of the outcome, for the checks and the summary.
    int lease_expirations_ = 0, claims_ = 0;
    int lease_lost_ = 0, retries_ = 0, swept_temp_files_ = 0;
    int injected_5xx_ = 0, refused_410_ = 0, requests_ = 0;
    std::vector<std::pair<std::string, std::string>> texts_;  // every output, for the token scan
};

TEST_F(CrashFaultRunTest, KilledWorkersAndA5xxApiLoseNothingAndPublishNothingStale) {
    STEP(start_the_api_and_three_workers());
    STEP(kill_and_freeze_workers_mid_render_until_every_job_finished());
    STEP(both_faults_happened_before_every_job_finished());
    STEP(each_restart_swept_the_killed_renders_work_dir());
    STEP(every_worker_drains_and_exits_0_on_sigterm());
    STEP(every_job_was_rendered_once_by_the_holder_of_a_live_lease());
    STEP(the_output_dir_holds_only_the_jobs_complete_playable_mp4s());
    STEP(every_work_dir_was_removed());
    STEP(no_worker_published_after_it_lost_a_lease());
    STEP(each_killed_renders_temp_file_was_swept());
    STEP(the_frozen_worker_woke_to_a_lost_lease_and_said_so());
    STEP(the_api_injected_5xx_and_every_faulted_lease_lapsed());
    STEP(the_token_is_in_no_output());
    record_the_summary();
}

TEST_F(CrashFaultTest, ARestartSecondsAfterASigkillLeavesNoPartialFile) {
    // Issue 11.5: the stale sweep ran only at start and only on files older than twice the
    // lease, so a worker restarted seconds after a SIGKILL found its dead render's temp file
    // too young, and nothing ever looked again: the partial file stayed for good. The sweep now
    // runs from the poll loop too, taking what no live job can own any more (a temp file or
    // work dir untouched for twice the lease).
    constexpr int kJobsHere = 4;
    constexpr int kLease = 2;
    start_api(kJobsHere, 0.0, kLease);
    auto worker = start_worker(0, 0);
    std::optional<std::string> job, temp;
    const auto until = Clock::now() + 120s;
    while (Clock::now() < until && !temp) {
        if ((job = active_job(worker->output()))) {
            temp = temp_file_for(dir_ / "output", artifact(std::stoi(job->substr(1, 2))));
        }
        if (!temp) std::this_thread::sleep_for(5ms);
    }
    ASSERT_TRUE(temp) << "no render was caught writing its temp file\n" << worker->output();
    worker->signal(SIGKILL);
    ASSERT_EQ(worker->wait(10s), 128 + SIGKILL);
    ASSERT_TRUE(fs::exists(dir_ / "output" / *temp));
    ASSERT_TRUE(fs::exists(dir_ / "tmp/w1" / *job)) << "the killed job's work dir";

    // Back within a second or two, as an orchestrator restarts a crashed container.
    std::this_thread::sleep_for(1s);
    worker = start_worker(0, 1);
    ASSERT_TRUE(worker->wait_for_output(R"("event":"start")", 60s)) << worker->output();
    const auto swept = [&] {
        return !fs::exists(dir_ / "output" / *temp) && !fs::exists(dir_ / "tmp/w1" / *job);
    };
    EXPECT_TRUE(fs::exists(dir_ / "output" / *temp))
        << "too young for the start-up sweep: this test is about the sweeps after it";
    const auto sweep_until = Clock::now() + 60s;
    while (Clock::now() < sweep_until && !swept()) std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(swept()) << "the killed render's temp file and work dir are still there";

    const auto all_done = Clock::now() + 180s;
    while (Clock::now() < all_done) {
        const auto stats = get("/api/stats");
        if (stats && (*stats)["by_status"]["rendered"].GetInt() == kJobsHere) break;
        std::this_thread::sleep_for(100ms);
    }
    worker->signal(SIGTERM);
    EXPECT_EQ(worker->wait(60s), 0) << worker->output();
    std::set<std::string> expected;
    for (int i = 1; i <= kJobsHere; ++i) {
        EXPECT_EQ(field(*get("/api/render-jobs/" + job_id(i)), "status"), "rendered") << i;
        expected.insert(artifact(i));
    }
    const auto outputs = dir_entries(dir_ / "output");
    EXPECT_EQ(std::set<std::string>(outputs.begin(), outputs.end()), expected);
    EXPECT_TRUE(dir_entries(dir_ / "tmp/w1").empty());
    int periodic = 0;
    for (const auto& e : json_lines(worker->output())) {
        if (field(e, "event") == "sweep" && e["stale_temp_files"].GetInt() >= 1) ++periodic;
    }
    EXPECT_EQ(periodic, 1) << "one sweep, after start, took the dead render's temp file";
}

}  // namespace
}  // namespace renderer::testing

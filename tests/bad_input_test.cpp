// The bad-input matrix for the renderer: corrupt, odd and hostile frames, music and requests.
// Each bad case ends in a clear error class with nothing in the output directory; inputs that
// are odd but valid (a 1x1 frame, 8 kHz mono, audio shorter than one AAC frame, 10 000 frames)
// end in a correct render instead. Every file case runs twice: in process through
// render_slideshow, and as a job through the worker and the reference API, so the class reaches
// the API's status and the token shows up nowhere (docs/RELIABILITY.md lists the decisions).
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <optional>
#include <set>

#include <gtest/gtest.h>

#include "common/error.h"
#include "media/music_probe.h"
#include "media/probe.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/secret_scan.h"
#include "support/worker_fixture.h"
#include "worker/render_config.h"

namespace renderer::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

constexpr int kFrames = 8;  // the good setup: 8 frames of 64x36 at 30 fps, background.mp3
constexpr double kFps = 30;
constexpr double kFrame = 1.0 / kFps;

// Where a case's inputs live: the in-process run and the worker run lay them out differently.
struct Inputs {
    fs::path root;    // holds the frames dir; files "outside the frames dir" go here
    fs::path frames;  // kFrames good frames
    fs::path track;   // the chosen music track, a copy of background.mp3
};

struct BadCase {
    std::string name;
    std::optional<ErrorClass> expected;  // nullopt: valid input, rendered and checked
    // Breaks the inputs on disk.
    std::function<void(const Inputs&)> files;
    // Breaks the request itself; such cases run in process only (a job cannot express them).
    std::function<void(const Inputs&, media::RenderRequest&)> request = {};
    // For valid inputs: what the artifact must hold.
    std::function<void(const fs::path& artifact)> check = {};
    bool via_worker = true;
    // Read the inputs as an unprivileged user: root bypasses file modes.
    bool as_nobody = false;
};

std::string frame(int i) { return "frame_" + std::to_string(i) + ".png"; }

// Replaces the track's bytes (the file keeps its .mp3 name).
void replace_track(const Inputs& s, const std::string& bytes) { write_bytes(s.track, bytes); }

void copy_track(const Inputs& s, const std::string& testdata_file) {
    fs::copy_file(testdata() / testdata_file, s.track, fs::copy_options::overwrite_existing);
}

// A good frame with one byte of its IDAT data changed; with `fix_crc` the chunk CRC is
// recomputed, so the damage is found by inflate instead of by the CRC check.
void damage_idat(const fs::path& path, bool fix_crc) {
    std::string png = read_bytes(path);
    const auto idat = find_png_chunk(png, "IDAT");
    png[idat.offset + 8 + idat.length / 2] ^= 0x5a;
    if (fix_crc) fix_png_crc(png, idat);
    write_bytes(path, png);
}

void expect_h264_aac(const media::MediaInfo& info) {
    ASSERT_NE(first_stream(info, "video"), nullptr);
    ASSERT_NE(first_stream(info, "audio"), nullptr);
    EXPECT_EQ(first_stream(info, "video")->codec, "h264");
    EXPECT_EQ(first_stream(info, "audio")->codec, "aac");
    EXPECT_EQ(first_stream(info, "audio")->channels, 2);
}

const std::vector<BadCase>& cases() {
    using R = media::RenderRequest;
    static const std::vector<BadCase> all = {
        // ---- frames dir and request ----
        {"missing_frames_dir",
         ErrorClass::PreflightError,
         {},
         [](const Inputs& s, R& r) { r.frames_dir = s.root / "nope"; },
         {},
         false},
        {"empty_frames_dir",
         ErrorClass::PreflightError,
         {},
         [](const Inputs& s, R& r) {
             fs::create_directories(s.root / "empty");
             r.frames_dir = s.root / "empty";
         },
         {},
         false},
        {"no_png_in_frames_dir",
         ErrorClass::PreflightError,
         {},
         [](const Inputs& s, R& r) {
             fs::create_directories(s.root / "jpgs");
             write_bytes(s.root / "jpgs/frame_1.jpg", "\xff\xd8\xff");
             r.frames_dir = s.root / "jpgs";
         },
         {},
         false},
        {"story_id_with_slash",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) { r.story_id = "a/b"; },
         {},
         false},
        {"story_id_dotdot",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) { r.story_id = ".."; },
         {},
         false},
        {"part_id_traversal",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) { r.part_id = "../../etc/x"; },
         {},
         false},
        {"output_template_escapes",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) { r.output_name_template = "../{story_id}.mp4"; },
         {},
         false},
        {"missing_output_dir",
         ErrorClass::PreflightError,
         {},
         [](const Inputs& s, R& r) { r.output_dir = s.root / "no-out"; },
         {},
         false},
        {"disk_below_minimum",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) { r.min_free_bytes = ~0ull; },
         {},
         false},
        {"png_larger_than_configured_limit",
         ErrorClass::PreflightError,
         [](const Inputs& s) { write_png(s.frames / frame(5), 64, 64, PngKind::Gray8, Rgb{}); },
         [](const Inputs&, R& r) { r.settings.max_frame_pixels = 1000; },  // 64x64 > 1000
         {},
         false},
        // Issue 18.2: memory grows with the canvas x264 encodes, not with the PNGs; a RENDER_SIZE
        // over the limit made small frames into a render the pod could not hold.
        {"canvas_larger_than_configured_limit",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) {
             r.settings.max_frame_pixels = 5000;  // the fixture's frames are smaller than this
             r.settings.width = 100;
             r.settings.height = 100;
         },
         {},
         false},
        // Issue 18.2: the default limit is derived from the pod's memory (docs/PERFORMANCE.md:
        // about 100 MiB + 200 bytes per pixel); 67 MP let an 8K job OOM-kill every pod it met.
        {"png_over_the_default_limit",
         ErrorClass::PreflightError,
         [](const Inputs& s) { write_png(s.frames / frame(2), 3840, 2162, PngKind::Gray8, Rgb{}); },
         [](const Inputs&, R& r) {
             r.settings.max_frame_pixels = media::RenderSettings{}.max_frame_pixels;
         },
         {},
         false},

        // ---- frames ----
        {"png_text_file", ErrorClass::PreflightError,
         [](const Inputs& s) { write_bytes(s.frames / frame(3), "hello, not a png"); }},
        {"png_zero_bytes", ErrorClass::PreflightError,
         [](const Inputs& s) { write_bytes(s.frames / frame(2), ""); }},
        {"png_wrong_magic", ErrorClass::PreflightError,
         [](const Inputs& s) {
             // A whole good PNG whose signature says JPEG.
             auto png = read_bytes(s.frames / frame(4));
             png.replace(0, 3, "\xff\xd8\xff");
             write_bytes(s.frames / frame(4), png);
         }},
        {"png_truncated_in_header", ErrorClass::PreflightError,
         [](const Inputs& s) {
             write_bytes(s.frames / frame(6), read_bytes(s.frames / frame(6)).substr(0, 20));
         }},
        {"png_truncated_in_data", ErrorClass::DecodeError,
         [](const Inputs& s) {
             // Header intact, image data cut: found only when decoding, mid-render.
             const auto p = s.frames / frame(4);
             write_png(p, 64, 36, PngKind::Rgb8Interlaced, Rgb{1, 2, 3});
             write_bytes(p, read_bytes(p).substr(0, 60));
         }},
        {"png_bad_crc_in_header", ErrorClass::PreflightError,
         [](const Inputs& s) {
             auto png = read_bytes(s.frames / frame(3));
             png[8 + 8 + 13] ^= 0x01;  // IHDR's CRC
             write_bytes(s.frames / frame(3), png);
         }},
        {"png_bad_crc_in_data", ErrorClass::DecodeError,
         [](const Inputs& s) { damage_idat(s.frames / frame(5), false); }},
        {"png_bad_zlib_stream", ErrorClass::DecodeError,
         [](const Inputs& s) { damage_idat(s.frames / frame(5), true); }},
        {"png_1x1",
         std::nullopt,
         [](const Inputs& s) {
             fs::remove_all(s.frames);
             write_frames(s.frames, kFrames, 1, 1, Rgb{200, 30, 30});
         },
         {},
         [](const fs::path& out) {
             const auto info = media::probe_file(out);
             expect_h264_aac(info);
             // The canvas is the first frame rounded up to even: 2x2.
             EXPECT_EQ(first_stream(info, "video")->width, 2);
             EXPECT_EQ(first_stream(info, "video")->height, 2);
             EXPECT_EQ(first_stream(info, "video")->frames, kFrames);
         }},
        {"png_header_claims_60000x60000", ErrorClass::PreflightError,
         [](const Inputs& s) { write_bytes(s.frames / frame(5), png_header_only(60000, 60000)); }},
        {"png_unreadable",
         ErrorClass::PreflightError,
         [](const Inputs& s) { fs::permissions(s.frames / frame(3), fs::perms::none); },
         {},
         {},
         false,
         true},
        {"png_symlink_outside_frames_dir", ErrorClass::PreflightError,
         [](const Inputs& s) {
             write_png(s.root / "elsewhere.png", 64, 36, PngKind::Rgb8, Rgb{9, 9, 9});
             fs::remove(s.frames / frame(3));
             fs::create_symlink("../elsewhere.png", s.frames / frame(3));
         }},
        {"png_symlink_inside_frames_dir",
         std::nullopt,
         [](const Inputs& s) { fs::create_symlink(frame(1), s.frames / frame(kFrames + 1)); },
         {},
         [](const fs::path& out) {
             const auto info = media::probe_file(out);
             expect_h264_aac(info);
             EXPECT_EQ(first_stream(info, "video")->frames, kFrames + 1);
         }},
        {"png_name_not_utf8", ErrorClass::PreflightError,
         [](const Inputs& s) { fs::rename(s.frames / frame(2), s.frames / "frame_\xff\xfe.png"); }},
        {"png_10000_tiny_frames",
         std::nullopt,
         [](const Inputs& s) {
             fs::remove_all(s.frames);
             fs::create_directories(s.frames);
             write_png(s.root / "tiny.png", 4, 4, PngKind::Rgb8, Rgb{10, 200, 10});
             const auto bytes = read_bytes(s.root / "tiny.png");
             for (int i = 1; i <= 10000; ++i) write_bytes(s.frames / frame(i), bytes);
         },
         {},
         [](const fs::path& out) {
             // 10 000 frames are 333 s at 30 fps; the 4.05 s track cuts the video.
             const auto info = media::probe_file(out);
             expect_h264_aac(info);
             const double audio =
                 media::probe_audio(testdata() / "audio/music/background.mp3").duration_sec;
             EXPECT_EQ(first_stream(info, "video")->frames,
                       static_cast<std::int64_t>(std::ceil(audio * kFps - 1e-6)));
             EXPECT_NEAR(info.duration_sec, audio, 2 * kFrame);
         },
         false},

        // ---- music ----
        {"missing_music_dir",
         ErrorClass::PreflightError,
         {},
         [](const Inputs& s, R& r) { r.music_dir = s.root / "no-music"; },
         {},
         false},
        {"no_mp3_in_music_dir",
         ErrorClass::PreflightError,
         {},
         [](const Inputs& s, R& r) {
             fs::create_directories(s.root / "wavs");
             write_bytes(s.root / "wavs/a.wav", wav_file(2, 44100, 100));
             r.music_dir = s.root / "wavs";
         },
         {},
         false},
        {"named_track_missing",
         ErrorClass::PreflightError,
         {},
         [](const Inputs&, R& r) { r.music_select = "named:other.mp3"; },
         {},
         false},
        {"mp3_zero_bytes", ErrorClass::PreflightError,
         [](const Inputs& s) { replace_track(s, ""); }},
        {"mp3_truncated_before_first_frame", ErrorClass::PreflightError,
         [](const Inputs& s) { replace_track(s, read_bytes(s.track).substr(0, 60)); }},
        {"mp3_truncated_mid_stream",
         std::nullopt,
         [](const Inputs& s) {
             // About 7 MP3 frames, the last one cut: 0.17 s of audio, less than the 8 frames.
             replace_track(s, read_bytes(s.track).substr(0, 1500));
         },
         {},
         [](const fs::path& out) {
             const auto info = media::probe_file(out);
             expect_h264_aac(info);
             const auto* v = first_stream(info, "video");
             EXPECT_LT(v->frames, kFrames) << "the truncated track is shorter: it sets the cut";
             EXPECT_GE(v->frames, 4);
             EXPECT_NEAR(first_stream(info, "audio")->duration_sec, v->duration_sec,
                         kFrame + 1152.0 / 44100);
         }},
        {"mp3_png_image_inside", ErrorClass::PreflightError,
         [](const Inputs& s) {
             fs::remove(s.track);
             write_png(s.track, 16, 16, PngKind::Rgb8, Rgb{9, 9, 9});
         }},
        {"mp3_id3_tag_without_audio", ErrorClass::PreflightError,
         [](const Inputs& s) { replace_track(s, id3_tag_only(false)); }},
        {"mp3_cover_art_only", ErrorClass::PreflightError,
         [](const Inputs& s) { replace_track(s, id3_tag_only(true)); }},
        {"mp3_really_wav", ErrorClass::PreflightError,
         [](const Inputs& s) { copy_track(s, "media/really_wav.mp3"); }},
        {"mp3_really_text", ErrorClass::PreflightError,
         [](const Inputs& s) { replace_track(s, std::string(4096, 'x')); }},
        {"mp3_six_channels", ErrorClass::PreflightError,
         [](const Inputs& s) {
             // Layer III carries at most two channels: a 6-channel ".mp3" is something else.
             replace_track(s, wav_file(6, 8000, 4000));
         }},
        {"mp3_mono_8khz",
         std::nullopt,
         [](const Inputs& s) { copy_track(s, "media/mono_8k.mp3"); },
         {},
         [](const fs::path& out) {
             expect_h264_aac(media::probe_file(out));
             const auto audio = decode_audio(out);
             EXPECT_EQ(audio.channels, 2) << "mono is rendered as stereo AAC";
             EXPECT_EQ(audio.sample_rate, 8000) << "8 kHz is an AAC rate: kept";
             // The cut is the frames' 8/30 s; the decoder adds up to one AAC frame of priming.
             EXPECT_NEAR(static_cast<double>(audio.samples), 8000.0 * kFrames / kFps, 1024);
             EXPECT_GT(audio.peak, 0.01);
         }},
        {"mp3_shorter_than_one_aac_frame",
         std::nullopt,
         [](const Inputs& s) { copy_track(s, "media/under_one_aac_frame.mp3"); },
         {},
         [](const fs::path& out) {
             // 441 samples (10 ms): the cut is one video frame and 441 samples of audio.
             const auto info = media::probe_file(out);
             expect_h264_aac(info);
             EXPECT_EQ(first_stream(info, "video")->frames, 1);
             EXPECT_LE(info.duration_sec, kFrame + 0.01);
             const auto audio = decode_audio(out);
             EXPECT_GE(audio.samples, 441);
             EXPECT_LE(audio.samples, 441 + 2048);
         }},
    };
    return all;
}

// Root reads files as root whatever their mode; reading as nobody makes the mode count. Only
// the filesystem ids change, and only on this thread (setfsuid is per thread).
class ScopedNobody {
  public:
    ScopedNobody() {
        if (::geteuid() != 0) return;
        ::setfsgid(65534);
        ::setfsuid(65534);
        active_ = ::setfsuid(65534) == 65534;  // returns the current fsuid
    }
    ~ScopedNobody() {
        if (::geteuid() != 0) return;
        ::setfsuid(0);
        ::setfsgid(0);
    }
    bool ok() const { return active_ || ::geteuid() != 0; }

  private:
    bool active_ = false;
};

// Bounds the address space to what the process has now plus 1 GiB, so a render that tried to
// allocate for a 60000x60000 frame (10.8 GB) would fail loudly. ASan reserves terabytes of
// shadow memory up front, so under it the limit is not set.
class ScopedAddressSpaceLimit {
  public:
    ScopedAddressSpaceLimit() {
        if (kAddressSanitizer) return;
        std::ifstream statm("/proc/self/statm");
        std::uint64_t pages = 0;
        statm >> pages;
        ::getrlimit(RLIMIT_AS, &old_);
        rlimit lim = old_;
        lim.rlim_cur = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + (1ull << 30);
        set_ = ::setrlimit(RLIMIT_AS, &lim) == 0;
    }
    ~ScopedAddressSpaceLimit() {
        if (set_) ::setrlimit(RLIMIT_AS, &old_);
    }

  private:
    rlimit old_{};
    bool set_ = false;
};

Inputs make_setup(const fs::path& root, const fs::path& track) {
    Inputs s{root, root / "frames", track};
    write_frames(s.frames, kFrames, 64, 36);
    fs::copy_file(testdata() / "audio/music/background.mp3", s.track,
                  fs::copy_options::overwrite_existing);
    return s;
}

// gtest names a failing case by this, instead of dumping the struct's bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, FailsWithClassAndLeavesNothingOrRendersCorrectly) {
    const BadCase& c = GetParam();
    auto logs = capture_json_logs();
    TempDir tmp;
    fs::create_directories(tmp / "music");
    fs::create_directories(tmp / "out");
    const Inputs setup = make_setup(tmp.path(), tmp / "music/background.mp3");
    media::RenderRequest req;
    req.story_id = "S1";
    req.part_id = "P1";
    req.frames_dir = setup.frames;
    req.music_dir = tmp / "music";
    req.output_dir = tmp / "out";
    req.min_free_bytes = 1 << 20;
    req.settings.preset = "ultrafast";
    req.settings.threads = 1;
    if (c.files) c.files(setup);
    if (c.request) c.request(setup, req);

    std::optional<media::RenderResult> result;
    std::optional<Error> failure;
    {
        // mkdtemp made the dir 0700: nobody must be able to reach the frames in it.
        if (c.as_nobody) fs::permissions(tmp.path(), static_cast<fs::perms>(0755));
        std::optional<ScopedNobody> nobody;
        if (c.as_nobody) {
            nobody.emplace();
            ASSERT_TRUE(nobody->ok()) << "cannot switch the filesystem user to nobody";
        }
        // The limit matters for the 60000x60000 header; it costs nothing elsewhere.
        ScopedAddressSpaceLimit limit;
        media::CancelToken cancel;
        try {
            result = media::render_slideshow(req, log::Context{}, cancel);
        } catch (const Error& e) {
            failure = e;
        }
    }

    if (c.expected) {
        ASSERT_TRUE(failure) << "render succeeded on bad input";
        EXPECT_EQ(to_string(failure->error_class()), to_string(*c.expected)) << failure->what();
        EXPECT_GT(std::string(failure->what()).size(), 20u) << "message must say what is wrong";
        if (c.as_nobody) {
            EXPECT_NE(std::string(failure->what()).find("Permission denied"), std::string::npos)
                << failure->what();
        }
        if (fs::exists(req.output_dir)) {
            EXPECT_TRUE(dir_entries(req.output_dir).empty());
        }
        EXPECT_TRUE(dir_entries(tmp / "out").empty());
        // A preflight failure opens no encoder: nothing was logged past preflight.
        if (*c.expected == ErrorClass::PreflightError) {
            EXPECT_TRUE(logs->events("preflight").empty());
        }
    } else {
        ASSERT_TRUE(result) << failure->what();
        EXPECT_EQ(dir_entries(tmp / "out"), std::vector<std::string>{"S1_P1.mp4"});
        c.check(result->path);
    }
}

TEST(BadInputMessages, SayWhatIsWrong) {
    // A few messages an operator must be able to act on without reading code.
    auto logs = capture_json_logs();
    const auto message_of = [](const std::string& name) {
        for (const auto& c : cases()) {
            if (c.name != name) continue;
            TempDir tmp;
            fs::create_directories(tmp / "music");
            fs::create_directories(tmp / "out");
            const Inputs s = make_setup(tmp.path(), tmp / "music/background.mp3");
            if (c.files) c.files(s);
            media::RenderRequest req;
            req.story_id = "S1";
            req.part_id = "P1";
            req.frames_dir = s.frames;
            req.music_dir = tmp / "music";
            req.output_dir = tmp / "out";
            req.min_free_bytes = 0;
            req.setting_names = worker::env_setting_names;  // as the worker names them
            if (c.request) c.request(s, req);
            media::CancelToken cancel;
            try {
                media::render_slideshow(req, log::Context{}, cancel);
            } catch (const Error& e) {
                return std::string(e.what());
            }
        }
        return std::string("(no error)");
    };
    EXPECT_NE(message_of("png_header_claims_60000x60000").find("MAX_FRAME_PIXELS"),
              std::string::npos);
    const auto canvas = message_of("canvas_larger_than_configured_limit");
    EXPECT_NE(canvas.find("100x100"), std::string::npos) << canvas;
    EXPECT_NE(canvas.find("MAX_FRAME_PIXELS"), std::string::npos) << canvas;
    const auto over = message_of("png_over_the_default_limit");
    EXPECT_NE(over.find("3840x2162 exceeds the pixel limit (MAX_FRAME_PIXELS) of 8294400"),
              std::string::npos)
        << over;
    EXPECT_NE(message_of("png_symlink_outside_frames_dir").find("outside the frames dir"),
              std::string::npos);
    const auto utf8 = message_of("png_name_not_utf8");
    EXPECT_NE(utf8.find("frame_\\xff\\xfe.png"), std::string::npos) << utf8;
    EXPECT_NE(utf8.find("not valid UTF-8"), std::string::npos) << utf8;
    const auto wav = message_of("mp3_really_wav");
    EXPECT_NE(wav.find("not an MP3"), std::string::npos) << wav;
    EXPECT_NE(wav.find("wav"), std::string::npos) << wav;
    EXPECT_NE(message_of("mp3_six_channels").find("6 channels"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Matrix, BadInputTest, ::testing::ValuesIn(cases()),
                         [](const auto& param) { return param.param.name; });

// The file cases once more, as jobs: one worker, the reference API, all cases queued at once.
// Each job must end `errored` with the case's class (or `rendered` and correct), the output
// dir must hold only the valid cases' artifacts, and the token must appear nowhere.
TEST(BadInputThroughWorker, EveryJobEndsWithItsClassAndNothingLeaks) {
    WorkerEnv env;
    std::vector<const BadCase*> queued;
    for (const auto& c : cases()) {
        if (!c.via_worker) continue;
        const auto root = env.content / "stories" / c.name / "p1";
        const Inputs s = make_setup(root, env.music / (c.name + ".mp3"));
        c.files(s);
        devapi::JobSpec spec;
        spec.music_track = c.name + ".mp3";
        env.add_job(c.name, "p1", spec);
        queued.push_back(&c);
    }
    ASSERT_GE(queued.size(), 20u);
    auto config = env.config();
    config.render.preset = "ultrafast";
    worker::Worker w(config);
    ASSERT_TRUE(WorkerEnv::run_until(
        w, [&] { return env.all_final(); }, std::chrono::seconds(240)));

    std::set<std::string> expected_outputs;
    for (const BadCase* c : queued) {
        SCOPED_TRACE(c->name);
        const auto job = env.job(c->name + "-p1");
        ASSERT_TRUE(job);
        const auto& report = job->last_report;
        if (c->expected) {
            EXPECT_EQ(devapi::to_string(job->status), "errored");
            EXPECT_EQ(report.error_class.value_or("(none)"), to_string(*c->expected))
                << report.error_message.value_or("");
            EXPECT_GT(report.error_message.value_or("").size(), 20u);
        } else {
            EXPECT_EQ(devapi::to_string(job->status), "rendered")
                << report.error_message.value_or("");
            ASSERT_TRUE(report.artifact_path);
            expected_outputs.insert(c->name + "_p1.mp4");
            c->check(*report.artifact_path);
        }
    }
    const auto outputs = env.outputs();
    EXPECT_EQ(std::set<std::string>(outputs.begin(), outputs.end()), expected_outputs);
    EXPECT_TRUE(dir_entries(env.tmp).empty()) << "work dirs are removed on success and error";
    const int scanned =
        expect_no_secret(env.token(), SecretScan{{{"worker and API logs", env.logs().joined()}},
                                                 {env.output, env.tmp, env.content},
                                                 {}});
    EXPECT_GT(scanned, static_cast<int>(queued.size()));
    env.expect_no_secret_logged();
}

}  // namespace
}  // namespace renderer::testing

// Bad inputs: each ends in a clear error class and leaves nothing in the output directory.
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "media/slideshow.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"

namespace renderer::testing {
namespace {

struct BadCase {
    std::string name;
    ErrorClass expected;
    // Breaks the otherwise good setup: frames in tmp/frames, music in tmp/music.
    std::function<void(const fs::path& tmp, media::RenderRequest& req)> mutate;
};

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::string file_prefix(const fs::path& p, std::size_t n) { return read_text(p).substr(0, n); }

const std::vector<BadCase>& cases() {
    static const std::vector<BadCase> all = {
        {"missing_frames_dir", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) { r.frames_dir = t / "nope"; }},
        {"empty_frames_dir", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) {
             fs::create_directories(t / "empty");
             r.frames_dir = t / "empty";
         }},
        {"no_png_in_frames_dir", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) {
             fs::create_directories(t / "jpgs");
             write_bytes(t / "jpgs/frame_1.jpg", "\xff\xd8\xff");
             r.frames_dir = t / "jpgs";
         }},
        {"text_named_png", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest&) { write_bytes(t / "frames/frame_3.png", "hello, not a png"); }},
        {"zero_byte_png", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest&) { write_bytes(t / "frames/frame_2.png", ""); }},
        {"truncated_png_mid_sequence", ErrorClass::DecodeError,
         [](const fs::path& t, media::RenderRequest&) {
             // Header intact, image data cut: found only when decoding, mid-render.
             const auto p = t / "frames/frame_4.png";
             write_png(p, 64, 36, PngKind::Rgb8Interlaced, Rgb{1, 2, 3});
             write_bytes(p, file_prefix(p, 60));
         }},
        {"huge_png_header", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) {
             write_png(t / "frames/frame_5.png", 64, 64, PngKind::Gray8, Rgb{});
             r.settings.max_frame_pixels = 1000;  // 64x64 = 4096 > 1000
         }},
        {"missing_music_dir", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) { r.music_dir = t / "no-music"; }},
        {"no_mp3_in_music_dir", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) {
             fs::create_directories(t / "wavs");
             write_bytes(t / "wavs/a.wav", "RIFF");
             r.music_dir = t / "wavs";
         }},
        {"zero_byte_mp3", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest&) { write_bytes(t / "music/background.mp3", ""); }},
        {"mp3_without_audio_stream", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest&) {
             // A PNG image named .mp3: libavformat opens it, but it has no audio stream.
             fs::remove(t / "music/background.mp3");
             write_png(t / "music/background.mp3", 16, 16, PngKind::Rgb8, Rgb{9, 9, 9});
         }},
        {"text_named_mp3", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest&) {
             write_bytes(t / "music/background.mp3", std::string(4096, 'x'));
         }},
        {"named_track_missing", ErrorClass::PreflightError,
         [](const fs::path&, media::RenderRequest& r) { r.music_select = "named:other.mp3"; }},
        {"story_id_with_slash", ErrorClass::PreflightError,
         [](const fs::path&, media::RenderRequest& r) { r.story_id = "a/b"; }},
        {"story_id_dotdot", ErrorClass::PreflightError,
         [](const fs::path&, media::RenderRequest& r) { r.story_id = ".."; }},
        {"part_id_traversal", ErrorClass::PreflightError,
         [](const fs::path&, media::RenderRequest& r) { r.part_id = "../../etc/x"; }},
        {"output_template_escapes", ErrorClass::PreflightError,
         [](const fs::path&, media::RenderRequest& r) { r.output_name_template = "../{story_id}.mp4"; }},
        {"missing_output_dir", ErrorClass::PreflightError,
         [](const fs::path& t, media::RenderRequest& r) { r.output_dir = t / "no-out"; }},
        {"disk_below_minimum", ErrorClass::PreflightError,
         [](const fs::path&, media::RenderRequest& r) { r.min_free_bytes = ~0ull; }},
    };
    return all;
}

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, FailsWithClassAndLeavesNothing) {
    auto logs = capture_json_logs();
    TempDir tmp;
    write_frames(tmp / "frames", 8, 64, 36);
    fs::create_directories(tmp / "music");
    fs::create_directories(tmp / "out");
    fs::copy_file(testdata() / "audio/music/background.mp3", tmp / "music/background.mp3");
    media::RenderRequest req;
    req.story_id = "S1";
    req.part_id = "P1";
    req.frames_dir = tmp / "frames";
    req.music_dir = tmp / "music";
    req.output_dir = tmp / "out";
    req.min_free_bytes = 1 << 20;
    req.settings.preset = "ultrafast";
    GetParam().mutate(tmp.path(), req);

    media::CancelToken cancel;
    try {
        media::render_slideshow(req, log::Context{}, cancel);
        FAIL() << "render succeeded on bad input";
    } catch (const Error& e) {
        EXPECT_EQ(to_string(e.error_class()), to_string(GetParam().expected)) << e.what();
        EXPECT_GT(std::string(e.what()).size(), 10u) << "message must say what is wrong";
    }
    if (fs::exists(req.output_dir)) EXPECT_TRUE(dir_entries(req.output_dir).empty());
    EXPECT_TRUE(dir_entries(tmp / "out").empty());
    // A preflight failure opens no encoder: nothing was logged past preflight.
    if (GetParam().expected == ErrorClass::PreflightError) EXPECT_TRUE(logs->events("preflight").empty());
}

INSTANTIATE_TEST_SUITE_P(Matrix, BadInputTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace renderer::testing

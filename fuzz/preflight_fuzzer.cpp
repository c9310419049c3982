// Preflight over arbitrary files: the input becomes a frame next to a good one, or the music
// track next to a good frame (first byte even: frame; odd: music). Preflight must refuse with
// PreflightError or return a report a render can rely on; it never encodes anything.
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/error.h"
#include "fuzz/fuzz_targets.h"
#include "media/libav_log.h"
#include "media/preflight.h"

namespace renderer::fuzz {
namespace {

namespace fs = std::filesystem;

// A valid 2x2 RGB PNG: a red row over a green one.
constexpr unsigned char kGoodPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd,
    0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8,
    0xcf, 0xc0, 0x00, 0x44, 0x60, 0xe2, 0x3f, 0x03, 0x00, 0x1d, 0xf0, 0x03, 0xfd, 0xdd, 0xdc,
    0x96, 0x97, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

struct Dirs {
    fs::path root, frames, music, out;
    ~Dirs() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

// Made once per process; the good music is the repository's shortest real MP3.
const Dirs& dirs() {
    static const Dirs d = [] {
        std::string tmpl = (fs::temp_directory_path() / "renderer-fuzz-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) violated("mkdtemp failed");
        const fs::path root(tmpl);
        for (const char* sub : {"frames", "music", "out"}) fs::create_directories(root / sub);
        return Dirs{root, root / "frames", root / "music", root / "out"};
    }();
    return d;
}

void write(const fs::path& p, const char* data, std::size_t size) {
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(data, static_cast<std::streamsize>(size));
}

const std::string& good_mp3() {
    static const std::string bytes = [] {
        std::ifstream in(fs::path(RENDERER_SOURCE_ROOT) / "testdata/media/short_1s.mp3",
                         std::ios::binary);
        std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (s.empty()) violated("cannot read testdata/media/short_1s.mp3");
        return s;
    }();
    return bytes;
}

}  // namespace

int preflight(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const Dirs& d = dirs();
    const auto* body = reinterpret_cast<const char*>(data + 1);
    const std::size_t body_size = size - 1;
    const bool as_music = data[0] & 1;
    write(d.frames / "frame_1.png", reinterpret_cast<const char*>(kGoodPng), sizeof kGoodPng);
    if (as_music) {
        std::error_code ec;
        fs::remove(d.frames / "frame_2.png", ec);
        write(d.music / "track.mp3", body, body_size);
    } else {
        write(d.frames / "frame_2.png", body, body_size);
        write(d.music / "track.mp3", good_mp3().data(), good_mp3().size());
    }

    // As in a render: libav's messages go to the render's capture, not to stderr.
    media::LibavLogCapture capture(std::nullopt);
    media::RenderRequest req;
    req.story_id = "story";
    req.part_id = "part";
    req.frames_dir = d.frames;
    req.music_dir = d.music;
    req.output_dir = d.out;
    req.min_free_bytes = 0;
    try {
        const auto r = media::preflight(req);
        require(!r.frames.empty(), "preflight passed without frames");
        require(r.canvas.width >= 2 && r.canvas.height >= 2 && r.canvas.width % 2 == 0 &&
                    r.canvas.height % 2 == 0,
                "the canvas is not an even size of at least 2x2");
        require(r.audio.duration_sec > 0 && r.audio.duration_sec < 1e7,
                "preflight passed music of no or absurd duration");
        require(r.audio.sample_rate > 0 && r.audio.channels > 0,
                "preflight passed music without rate or channels");
        require(r.output_path.parent_path() == d.out, "the output escaped the output dir");
    } catch (const Error& e) {
        require(e.error_class() == ErrorClass::PreflightError,
                "preflight threw a non-PreflightError");
    }
    return 0;
}

}  // namespace renderer::fuzz

RENDERER_FUZZ_ENTRY(renderer::fuzz::preflight)

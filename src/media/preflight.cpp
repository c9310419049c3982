#include "media/preflight.h"

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>

#include "common/error.h"
#include "common/paths.h"
#include "common/utf8.h"
#include "media/encoders.h"
#include "media/png_decoder.h"

namespace renderer::media {
namespace {

[[noreturn]] void fail(std::string message) {
    throw Error(ErrorClass::PreflightError, std::move(message));
}

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (const unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
}

// Frame names reach the logs, error messages and the API's status body, all JSON (UTF-8), and
// the frames themselves must come from the job's own directory: a symlink to anywhere else
// (another story, /etc) would put foreign data in the video.
void check_frame_names(const std::filesystem::path& frames_dir,
                       const std::vector<std::filesystem::path>& frames) {
    const auto dir_text = escape_invalid_utf8(frames_dir.string());
    for (const auto& f : frames) {
        const auto name = f.filename().string();
        if (!is_valid_utf8(name)) {
            fail(
                fmt::format("frame name '{}' in '{}' is not valid UTF-8; rename the frames to "
                            "plain ASCII names such as frame_0001.png",
                            escape_invalid_utf8(name), dir_text));
        }
        std::error_code ec;
        if (std::filesystem::is_symlink(f, ec) && !is_within(frames_dir, f)) {
            const auto target = std::filesystem::read_symlink(f, ec);
            fail(
                fmt::format("frame '{}' is a symlink to '{}', outside the frames dir '{}'; copy "
                            "the frame into the frames dir instead",
                            name, escape_invalid_utf8(target.string()), dir_text));
        }
    }
}

}  // namespace

std::filesystem::path choose_track(const std::filesystem::path& music_dir,
                                   const std::string& select, const std::string& story_id,
                                   SettingNames names) {
    std::error_code ec;
    if (!std::filesystem::is_directory(music_dir, ec)) {
        fail(fmt::format(
            "music dir '{}' does not exist; mount the music library there or set the music dir{}",
            music_dir.string(), named(Setting::MusicDir, names)));
    }
    std::vector<std::filesystem::path> tracks;
    try {
        tracks = list_files_with_ext(music_dir, "mp3");
    } catch (const std::filesystem::filesystem_error& e) {
        fail(fmt::format("cannot list music dir '{}': {}", music_dir.string(), e.code().message()));
    }
    if (tracks.empty())
        fail(fmt::format("music dir '{}' holds no .mp3 file; add at least one track",
                         music_dir.string()));
    // Byte order, not natural order: "first sorted" as the spec says, independent of locale.
    std::sort(tracks.begin(), tracks.end(), [](const auto& a, const auto& b) {
        return a.filename().string() < b.filename().string();
    });
    if (select == "first") return tracks.front();
    if (select == "hash") return tracks[fnv1a(story_id) % tracks.size()];
    if (select.rfind("named:", 0) == 0) {
        const std::string name = select.substr(6);
        for (const auto& t : tracks) {
            if (t.filename().string() == name) return t;
        }
        fail(fmt::format("music track '{}' not found in '{}' ({} tracks there)", name,
                         music_dir.string(), tracks.size()));
    }
    fail(fmt::format("unknown music selection '{}': use first, hash or named:FILE.mp3", select));
}

std::string output_file_name(const std::string& name_template, const std::string& story_id,
                             const std::string& part_id) {
    std::string name = name_template;
    replace_all(name, "{story_id}", story_id);
    replace_all(name, "{part_id}", part_id);
    replace_all(name, "{ts}", utc_timestamp_compact());
    if (!is_safe_id(name) || name.size() < 5 || name.substr(name.size() - 4) != ".mp4") {
        fail(fmt::format(
            "output name '{}' (from template '{}') must be a plain file name ending in .mp4 using "
            "[A-Za-z0-9._-]",
            name, name_template));
    }
    return name;
}

PreflightReport preflight(const RenderRequest& req) {
    if (!is_safe_id(req.story_id)) {
        fail(fmt::format(
            "story id '{}' is not a safe name: use 1-128 of [A-Za-z0-9._-], not starting with '.'",
            req.story_id));
    }
    if (!is_safe_id(req.part_id)) {
        fail(fmt::format(
            "part id '{}' is not a safe name: use 1-128 of [A-Za-z0-9._-], not starting with '.'",
            req.part_id));
    }
    // An FFmpeg built without the codec's encoder is the machine's configuration, not the input's
    // fault: said before any input is read.
    find_video_encoder(req.settings.codec);
    PreflightReport r;
    std::error_code ec;
    if (!std::filesystem::is_directory(req.frames_dir, ec)) {
        fail(fmt::format("frames dir '{}' does not exist or is not a directory",
                         req.frames_dir.string()));
    }
    if (req.arriving_frames) {
        r.frames = req.arriving_frames->files();  // still downloading: the list is the fetch's
    } else {
        try {
            r.frames = list_files_with_ext(req.frames_dir, "png");
        } catch (const std::filesystem::filesystem_error& e) {
            fail(fmt::format("cannot list frames dir '{}': {}", req.frames_dir.string(),
                             e.code().message()));
        }
    }
    if (r.frames.empty())
        fail(fmt::format("frames dir '{}' holds no .png frames", req.frames_dir.string()));
    for (const auto& f : r.frames) {
        if (f.parent_path() != req.frames_dir)  // a caller's bug, never the input's
            throw std::logic_error("a frame outside the frames dir: " + f.string());
    }
    check_frame_names(req.frames_dir, r.frames);

    // Every header, so a stray non-PNG fails here rather than after minutes of encoding; frames
    // still arriving have theirs checked as the render reaches them (render_slideshow).
    const auto max_pixels = req.settings.max_frame_pixels;
    if (req.arriving_frames) req.arriving_frames->wait(0, [] { return false; });
    const PngHeader first = read_png_header(r.frames.front(), max_pixels, req.setting_names);
    r.first_frame = Canvas{static_cast<int>(first.width), static_cast<int>(first.height)};
    r.headers_checked = !req.arriving_frames;
    for (std::size_t i = 1; r.headers_checked && i < r.frames.size(); ++i) {
        const PngHeader h = read_png_header(r.frames[i], max_pixels, req.setting_names);
        if (h.width != first.width || h.height != first.height) r.mixed_sizes = true;
    }
    if (req.settings.width > 0) {
        r.canvas = Canvas{req.settings.width, req.settings.height};
    } else {
        r.canvas = Canvas{(r.first_frame.width + 1) & ~1, (r.first_frame.height + 1) & ~1};
    }
    if (r.canvas.width < 2 || r.canvas.height < 2)
        r.canvas = Canvas{std::max(2, r.canvas.width), std::max(2, r.canvas.height)};
    // Memory follows the canvas x264 encodes, whatever size the PNGs are (the configured size).
    if (static_cast<std::uint64_t>(r.canvas.width) * static_cast<std::uint64_t>(r.canvas.height) >
        max_pixels) {
        fail(fmt::format(
            "the canvas {}x{} exceeds the pixel limit{} of {}; choose a smaller size{} or raise "
            "the "
            "limit together with the memory limit (about 200 bytes per pixel)",
            r.canvas.width, r.canvas.height, named(Setting::MaxFramePixels, req.setting_names),
            max_pixels, named(Setting::Size, req.setting_names)));
    }

    r.music_path = choose_track(req.music_dir, req.music_select, req.story_id, req.setting_names);
    r.audio_track = r.music_path.filename().string();
    r.music_stamp = file_stamp(r.music_path);  // before the probe reads it
    r.audio = probe_audio(r.music_path);

    if (!std::filesystem::is_directory(req.output_dir, ec)) {
        fail(fmt::format("output dir '{}' does not exist; create it or set the output dir{}",
                         req.output_dir.string(), named(Setting::OutputDir, req.setting_names)));
    }
    r.output_path =
        req.output_dir / output_file_name(req.output_name_template, req.story_id, req.part_id);
    const auto free = free_bytes(req.output_dir);
    r.free_bytes = free.value_or(0);
    if (free && *free < req.min_free_bytes) {
        // Out of space by our own threshold: the machine's state, not the job's (ENOSPC).
        throw Error(
            ErrorClass::PreflightError,
            fmt::format("only {} MiB free in '{}', below the free space minimum{} of {} MiB; free "
                        "space first",
                        *free >> 20, req.output_dir.string(),
                        named(Setting::MinFreeBytes, req.setting_names), req.min_free_bytes >> 20))
            .with_os_error(ENOSPC);
    }
    return r;
}

}  // namespace renderer::media

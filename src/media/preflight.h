// Preflight: everything that can be checked before an encoder is opened. Frames (present,
// PNG, sizes), the music track (chosen deterministically, probed in process), the output name
// and free disk. Every failure is a PreflightError with an actionable message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/file_stamp.h"
#include "media/frame_converter.h"
#include "media/music_probe.h"
#include "media/render_settings.h"

namespace renderer::media {

struct PreflightReport {
    std::vector<std::filesystem::path> frames;  // natural order
    Canvas first_frame;                         // size of the first frame
    Canvas canvas;                              // even output size
    bool mixed_sizes = false;                   // known only when headers_checked
    // Every frame's PNG header was read here; false for frames still arriving, whose headers
    // the render checks as it reaches them.
    bool headers_checked = true;
    std::filesystem::path music_path;
    std::string audio_track;  // file name of the chosen track
    AudioProbe audio;
    FileStamp music_stamp;  // the track as probed: the render checks it is still that file
    std::filesystem::path output_path;  // final artifact path
    std::uint64_t free_bytes = 0;
};

// Picks the track: first (byte-order first), named:FILE, or hash (stable hash of story_id).
// `names` names the music dir setting in the message when it is missing.
std::filesystem::path choose_track(const std::filesystem::path& music_dir,
                                   const std::string& select, const std::string& story_id,
                                   SettingNames names = nullptr);

// Expands the output name template; PreflightError unless the result is a plain, safe name.
std::string output_file_name(const std::string& name_template, const std::string& story_id,
                             const std::string& part_id);

PreflightReport preflight(const RenderRequest& request);

}  // namespace renderer::media

#include "devapi/story_scanner.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/log.h"
#include "common/natural_sort.h"
#include "common/paths.h"

namespace renderer::devapi {
namespace {

// Visible subdirectories of `dir`, naturally sorted.
std::vector<std::string> subdirs(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        std::error_code type_ec;
        if (!name.empty() && name.front() != '.' && entry.is_directory(type_ec)) {
            names.push_back(name);
        }
    }
    natural_sort(names);
    return names;
}

bool has_png(const fs::path& dir) {
    std::error_code ec;
    return fs::is_directory(dir, ec) && !list_files_with_ext(dir, "png").empty();
}

}  // namespace

std::vector<JobSpec> scan_stories(const fs::path& dir, int lease_seconds) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw Error(ErrorClass::ConfigError,
                    fmt::format("--seed-stories: {} is not a directory", dir.string()));
    }
    const auto base = fs::absolute(dir, ec).lexically_normal();
    const auto root_name = (base.has_filename() ? base : base.parent_path()).filename();
    std::vector<JobSpec> specs;
    for (const auto& story : subdirs(dir)) {
        for (const auto& part : subdirs(dir / story)) {
            const auto part_dir = dir / story / part;
            const bool in_frames = has_png(part_dir / "frames");
            if (!in_frames && !has_png(part_dir)) continue;
            JobSpec spec;
            spec.story_id = story;
            spec.part_id = part;
            spec.id = story + "-" + part;
            if (!is_safe_id(story) || !is_safe_id(part) || !is_safe_id(spec.id)) {
                log::warn("seed_skipped", {{"dir", part_dir.string()},
                                           {"reason", "story/part names must be safe ids"}});
                continue;
            }
            if (!in_frames) spec.frames_dir = (root_name / story / part).string();
            spec.lease_seconds = lease_seconds;
            specs.push_back(std::move(spec));
        }
    }
    return specs;
}

}  // namespace renderer::devapi

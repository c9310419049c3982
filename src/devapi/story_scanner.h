// Turns a stories tree (<dir>/<story>/<part>/frames/*.png, or the PNGs directly in <part>) into
// job specs, so the dev server can start with a realistic queue.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "devapi/job.h"

namespace renderer::devapi {

// One spec per part directory that holds PNGs, stories and parts in natural order. Job id is
// "<story>-<part>"; story_id/part_id are the directory names, and directories whose names are
// not safe ids are skipped (and logged), since the API would refuse them on create too.
// frames_dir is set only when the PNGs sit directly in <part>, relative to the parent of `dir`
// (the worker resolves it under CONTENT_DIR, and `dir` is normally $CONTENT_DIR/stories).
// Throws renderer::Error(ConfigError) when `dir` is not a readable directory.
std::vector<JobSpec> scan_stories(const std::filesystem::path& dir, int lease_seconds = 0);

}  // namespace renderer::devapi

// The per-job work dirs in TMP_DIR ($TMP_DIR/{job_id}/, DESIGN.md §4) and the sweep of those a
// crashed worker left. Each is made with a marker file inside, so the sweep takes only what a
// worker made: TMP_DIR may hold other things (a `renderer bench` scratch dir while it encodes,
// other programs' dirs when TMP_DIR is /tmp), and a name shaped like a job id proves nothing.
#pragma once

#include <chrono>
#include <filesystem>
#include <system_error>

namespace renderer::worker {

// The marker's name inside a work dir; hidden, so it is never mistaken for a job's file.
inline constexpr const char* kWorkDirMarker = ".renderer-job";

// Creates `dir` (and its parents) with its marker. Returns the error when either fails.
std::error_code create_work_dir(const std::filesystem::path& dir);

// Removes the work dirs in `tmp_dir` untouched for `min_age`: real directories (a symlink is
// never followed), named as a job id, holding the marker. Returns how many were removed.
int sweep_stale_work_dirs(const std::filesystem::path& tmp_dir, std::chrono::seconds min_age);

}  // namespace renderer::worker

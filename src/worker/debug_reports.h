// `--debug` libav report files after their job: kept for operators in TMP_DIR/.ffreports, the
// newest first, within a count and a byte budget, so a worker that runs for months in debug mode
// does not fill its disk with them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace renderer::worker {

struct ReportLimits {
    int max_files = 20;
    std::uint64_t max_bytes = 256ull << 20;
};

// Where reports are kept: hidden, so it can never be a job's work dir (ids have no leading dot)
// and the stale sweep passes it by.
std::filesystem::path reports_dir(const std::filesystem::path& tmp_dir);

// Moves `report` (written in the job's work dir) into reports_dir(tmp_dir) as
// ffreport-<job_id>-<UTC time>.log, then deletes the oldest reports there until the newest fit
// `limits`. Returns the kept path, or nullopt when there was no report or it did not fit.
// Never throws: a report is a diagnostic, and failing to keep one must not fail the job.
std::optional<std::filesystem::path> keep_report(const std::filesystem::path& report,
                                                 const std::filesystem::path& tmp_dir,
                                                 std::string_view job_id,
                                                 const ReportLimits& limits);

}  // namespace renderer::worker

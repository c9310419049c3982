#include "worker/debug_reports.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "common/time_format.h"

namespace renderer::worker {
namespace {

namespace fs = std::filesystem;

struct Kept {
    fs::path path;
    fs::file_time_type mtime;
    std::uint64_t bytes = 0;
};

// "2026-11-28T19:50:37.123Z" without the characters some tools dislike in file names.
std::string stamp() {
    auto s = format_utc_millis(std::chrono::system_clock::now());
    s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == ':' || c == '-'; }),
            s.end());
    return s;
}

void prune(const fs::path& dir, const ReportLimits& limits) {
    std::vector<Kept> reports;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code entry_ec;
        if (!it->is_regular_file(entry_ec)) continue;
        Kept k{it->path(), it->last_write_time(entry_ec), it->file_size(entry_ec)};
        if (!entry_ec) reports.push_back(std::move(k));
    }
    // Newest first; the name (which ends with the time) breaks ties within a clock tick.
    std::sort(reports.begin(), reports.end(), [](const Kept& a, const Kept& b) {
        return a.mtime != b.mtime ? a.mtime > b.mtime : a.path > b.path;
    });
    std::uint64_t bytes = 0;
    int files = 0;
    for (const auto& r : reports) {
        bytes += r.bytes;
        if (++files > limits.max_files || bytes > limits.max_bytes) fs::remove(r.path, ec);
    }
}

}  // namespace

fs::path reports_dir(const fs::path& tmp_dir) { return tmp_dir / ".ffreports"; }

std::optional<fs::path> keep_report(const fs::path& report, const fs::path& tmp_dir,
                                    std::string_view job_id, const ReportLimits& limits) {
    std::error_code ec;
    if (!fs::is_regular_file(report, ec)) return std::nullopt;
    const auto dir = reports_dir(tmp_dir);
    fs::create_directories(dir, ec);
    const auto kept = dir / fmt::format("ffreport-{}-{}.log", job_id, stamp());
    // Same filesystem (both under TMP_DIR): a rename, not a copy.
    fs::rename(report, kept, ec);
    if (ec) return std::nullopt;
    prune(dir, limits);
    if (!fs::exists(kept, ec)) return std::nullopt;
    return kept;
}

}  // namespace renderer::worker

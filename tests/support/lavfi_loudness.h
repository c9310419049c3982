// An independent loudness meter for the tests: libavfilter's ebur128 filter (its own BS.1770
// implementation, not the renderer's own meters) over the decoded audio of a file.
#pragma once

#include <filesystem>

namespace renderer::testing {

struct LavfiLoudness {
    double integrated_lufs = 0;
    double true_peak_dbtp = 0;  // the largest channel's, 4x oversampled
};

// Decodes the best audio stream of `path` (stereo) and measures it with ebur128=peak=true.
LavfiLoudness lavfi_loudness(const std::filesystem::path& path);

}  // namespace renderer::testing

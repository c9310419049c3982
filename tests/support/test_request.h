// The render request most media tests start from: a small, fast render of `frames` with the
// music and output dirs under one temp root.
#pragma once

#include <filesystem>

#include "media/render_settings.h"

namespace renderer::testing {

// Story S1, part P1; music from `root`/music (the first track unless the test names one),
// output to `root`/out; 1 MiB free space is enough; x264 ultrafast on 2 threads.
media::RenderRequest test_request(const std::filesystem::path& root,
                                  const std::filesystem::path& frames);

}  // namespace renderer::testing

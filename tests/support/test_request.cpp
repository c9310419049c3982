#include "support/test_request.h"

namespace renderer::testing {

media::RenderRequest test_request(const std::filesystem::path& root,
                                  const std::filesystem::path& frames) {
    media::RenderRequest r;
    r.story_id = "S1";
    r.part_id = "P1";
    r.frames_dir = frames;
    r.music_dir = root / "music";
    r.output_dir = root / "out";
    r.min_free_bytes = 1 << 20;
    r.settings.preset = "ultrafast";
    r.settings.threads = 2;
    return r;
}

}  // namespace renderer::testing

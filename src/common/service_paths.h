// The service's absolute directories (spec: CONTENT_DIR, MUSIC_DIR, OUTPUT_DIR, TMP_DIR).
#pragma once

#include <filesystem>

namespace renderer {

struct ServicePaths {
    std::filesystem::path content_dir = "/content";
    std::filesystem::path music_dir = "/content/audio/music";
    std::filesystem::path output_dir = "/output";
    std::filesystem::path tmp_dir = "/tmp/renderer";

    // Reads the env vars over the defaults; a relative path is a ConfigError. MUSIC_DIR
    // defaults to $CONTENT_DIR/audio/music when only CONTENT_DIR is set.
    static ServicePaths from_env();
};

}  // namespace renderer

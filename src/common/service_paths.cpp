#include "common/service_paths.h"

#include "common/env.h"

namespace renderer {

ServicePaths ServicePaths::from_env() {
    ServicePaths p;
    p.content_dir = env_abs_path("CONTENT_DIR", p.content_dir.string());
    p.music_dir = env_abs_path("MUSIC_DIR", (p.content_dir / "audio" / "music").string());
    p.output_dir = env_abs_path("OUTPUT_DIR", p.output_dir.string());
    p.tmp_dir = env_abs_path("TMP_DIR", p.tmp_dir.string());
    return p;
}

}  // namespace renderer

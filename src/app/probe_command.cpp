// `renderer probe FILE`: streams, codecs, durations and sizes as JSON (the image has no ffprobe).
#include <cstdio>

#include "app/commands.h"
#include "media/probe.h"

namespace renderer::app {

void add_probe_command(CLI::App& app, const GlobalOptions&, Runner& runner) {
    auto* cmd = app.add_subcommand("probe", "Print a media file's format and streams as JSON");
    cmd->footer("Example:\n  renderer probe /output/S45_P2.mp4");
    auto file = std::make_shared<std::string>();
    auto compact = std::make_shared<bool>(false);
    cmd->add_option("FILE", *file, "Media file to inspect")->required();
    cmd->add_flag("--compact", *compact, "One line of JSON instead of indented");
    cmd->callback([&runner, file, compact] {
        runner = [file, compact] {
            const auto info = media::probe_file(*file);
            std::puts(media::to_json(info, !*compact).c_str());
            return 0;
        };
    });
}

}  // namespace renderer::app

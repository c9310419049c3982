// `renderer probe FILE`: streams, codecs, durations and sizes as JSON (the image has no ffprobe).
// `--loudness` measures the file's audio instead (EBU R128 integrated loudness and true peak).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "app/commands.h"
#include "media/loudness.h"
#include "media/probe.h"
#include "media/render_key.h"

namespace renderer::app {
namespace {

// The measured loudness of `path`, and the gain the renderer states it applied when the file is
// one of its artifacts rendered with a loudness target. -inf (silence) is written as null.
template <typename W>
void write_loudness(W& w, const std::string& path) {
    const media::LoudnessMeasure m = media::measure_file_loudness(path);
    const auto number = [&w](const char* key, double v) {
        w.Key(key);
        if (std::isfinite(v)) {
            w.Double(std::round(v * 100) / 100);
        } else {
            w.Null();
        }
    };
    w.StartObject();
    w.Key("path");
    w.String(path.c_str(), static_cast<rapidjson::SizeType>(path.size()));
    number("loudness_lufs", m.integrated_lufs);
    number("true_peak_dbtp", m.true_peak_dbtp);
    const auto tags = media::probe_file(path).tags;
    if (const auto it = tags.find(media::kGainTag); it != tags.end())
        number("gain_db", std::strtod(it->second.c_str(), nullptr));
    w.EndObject();
}

}  // namespace

void add_probe_command(CLI::App& app, const GlobalOptions&, Runner& runner) {
    auto* cmd = app.add_subcommand("probe", "Print a media file's format and streams as JSON");
    cmd->footer(
        "Examples:\n  renderer probe /output/S45_P2.mp4\n  renderer probe --loudness "
        "/output/S45_P2.mp4\n\n"
        "--loudness prints loudness_lufs (EBU R128 integrated) and true_peak_dbtp of the file's "
        "audio,\n"
        "and gain_db when the file is an artifact rendered with AUDIO_LOUDNESS.");
    auto file = std::make_shared<std::string>();
    auto compact = std::make_shared<bool>(false);
    auto loudness = std::make_shared<bool>(false);
    cmd->add_option("FILE", *file, "Media file to inspect")->required();
    cmd->add_flag("--compact", *compact, "One line of JSON instead of indented");
    cmd->add_flag("--loudness", *loudness, "Measure the audio's EBU R128 loudness and true peak");
    cmd->callback([&runner, file, compact, loudness] {
        runner = [file, compact, loudness] {
            if (!*loudness) {
                const auto info = media::probe_file(*file);
                std::puts(media::to_json(info, !*compact).c_str());
                return 0;
            }
            rapidjson::StringBuffer buf;
            if (*compact) {
                rapidjson::Writer<rapidjson::StringBuffer> w(buf);
                write_loudness(w, *file);
            } else {
                rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
                write_loudness(w, *file);
            }
            std::puts(buf.GetString());
            return 0;
        };
    });
}

}  // namespace renderer::app

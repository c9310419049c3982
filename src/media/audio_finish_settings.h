// The settings of audio finishing (DESIGN 3.1), apart from its code so that RenderSettings can
// hold them without including libav.
#pragma once

#include <optional>
#include <string_view>

namespace renderer::media {

// How the music is fitted to the frames.
enum class AudioFit {
    Shortest,  // the spec's -shortest: the output lasts min(frames, music)
    Loop,      // the output lasts the frames; the track repeats gaplessly from its decoded start
    Pad,       // the output lasts the frames; digital silence after the track ends
};

// "shortest" | "loop" | "pad"; nullopt for anything else.
std::optional<AudioFit> parse_audio_fit(std::string_view text);
std::string_view to_string(AudioFit fit);

struct AudioFinishSettings {
    AudioFit fit = AudioFit::Shortest;
    int fade_in_ms = 0;
    int fade_out_ms = 1000;  // applied only where the output ends inside the music
    // Integrated loudness target in LUFS (EBU R128); nullopt: the track's own level.
    std::optional<double> loudness_lufs;
    double true_peak_dbtp = -1.0;  // the gain never takes the true peak above this
};

}  // namespace renderer::media

// Preflight's look at the music track: its exact duration by demuxing every packet of the audio
// stream (never the bitrate estimate), each MPEG audio frame counted at its own rate, so a
// track whose rate changes mid-file (`cat a.mp3 b.mp3`) has the duration the decoder gives it.
#pragma once

#include <filesystem>
#include <string>

struct AVFormatContext;

namespace renderer::media {

struct AudioProbe {
    double duration_sec = 0;
    int sample_rate = 0;  // of the first frame: the rate the render encodes at
    int channels = 0;     // of the first frame
    std::string codec;
};

// Throws PreflightError naming the file (and, for a file that is not an MP3, what it is).
AudioProbe probe_audio(const std::filesystem::path& path);

// The same count over an input already opened with the mp3 demuxer; `name` names it in errors.
AudioProbe probe_audio(AVFormatContext* input, const std::string& name);

}  // namespace renderer::media

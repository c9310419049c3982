// MP3s made in the test with libavcodec's libmp3lame encoder: a sine of a chosen pitch at any
// MPEG rate and channel count, so a render's pitch, speed and loudness can be measured. Files
// are joined byte by byte (`cat a.mp3 b.mp3`) by the tests to make tracks that change format
// mid-file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace renderer::testing {

struct Sine {
    int sample_rate = 44100;
    int channels = 2;
    double seconds = 1.0;
    double frequency = 440.0;
    double amplitude = 0.5;  // of full scale, the same in every channel
};

// Writes the sine as an MP3 file (ID3v2 tag and Xing/LAME header included, as the mp3 muxer
// writes them).
void write_mp3_sine(const std::filesystem::path& path, const Sine& sine);

// Decoded PCM of the best audio stream of `path`: one float vector per channel (a channel that
// appears only in part of a track holds only that part's samples).
struct DecodedPcm {
    int sample_rate = 0;  // of the first frame
    double seconds = 0;   // every frame counted at its own rate
    std::vector<std::vector<float>> channels;
    std::size_t samples() const { return channels.empty() ? 0 : channels[0].size(); }
};
DecodedPcm decode_pcm(const std::filesystem::path& path);

// The pitch of `samples[from, from + count)` in Hz, from its rising zero crossings.
double zero_crossing_pitch(const std::vector<float>& samples, std::size_t from, std::size_t count,
                           int sample_rate);

// Root mean square of `samples[from, from + count)`.
double rms(const std::vector<float>& samples, std::size_t from, std::size_t count);

}  // namespace renderer::testing

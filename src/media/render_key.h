// The render cache key: a hash of everything that determines an artifact's bytes (frame
// contents in order, the music file, the settings, the library versions). It is stored in the
// MP4's metadata, so a re-queued or repeated job whose key matches the file already at its final
// path is answered without encoding.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "media/preflight.h"
#include "media/render_settings.h"

namespace renderer::media {

inline constexpr const char* kRenderKeyTag = "renderer_key";
// A hash of the mdat box's payload (every packet's bytes as stored), sealed into the moov: the
// render cache's proof that the packets are the ones written, not only as many.
inline constexpr const char* kPayloadHashTag = "renderer_mdat";
// The delivered audio's loudness (AUDIO_LOUDNESS), as `done` and `probe` report it.
inline constexpr const char* kLoudnessTag = "loudness_lufs";
inline constexpr const char* kTruePeakTag = "true_peak_dbtp";
inline constexpr const char* kGainTag = "gain_db";

// 64 bits of MurmurHash3 (libavutil) over `bytes`: frame identity for dedupe and the key.
std::uint64_t content_hash(std::span<const std::uint8_t> bytes);

// content_hash() of a whole file, read in chunks to its end (a music file may be hundreds of
// MiB). Throws Error(IoError) naming the file when it cannot be read.
std::uint64_t file_content_hash(const std::filesystem::path& path);

// 128 bits of MurmurHash3 (hex) over `size` bytes of `file` from `offset`, read in chunks;
// nullopt when they cannot all be read.
std::optional<std::string> file_range_hash(const std::filesystem::path& file, std::uint64_t offset,
                                           std::uint64_t size);

// Key of a render of `frame_hashes` (the frames actually encoded, in order), on a machine with
// the CPU features libav uses now (they change the bytes).
std::string render_key(const RenderSettings& settings, const PreflightReport& preflight,
                       std::int64_t video_frames, const std::vector<std::uint64_t>& frame_hashes,
                       std::uint64_t music_hash);

// The builds of everything whose output lands in the artifact's bytes (the renderer executable by
// its content, libx264's own ident, libavcodec/libavformat/libswscale/libswresample/libavutil),
// as hashed into the key.
std::string render_key_libraries();

}  // namespace renderer::media

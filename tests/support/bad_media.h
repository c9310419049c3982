// Broken and odd media written byte by byte, for the bad-input matrix: PNG chunks with correct
// or wrong CRCs, a PNG header claiming any size, ID3v2 tags without audio (cover art only),
// and WAV files of any channel count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace renderer::testing {

// One PNG chunk: length, type, data and the CRC of type + data.
std::string png_chunk(const std::string& type, const std::string& data);

// Signature, an IHDR claiming `w` x `h` 8-bit RGB, and IEND: valid up to the pixels.
std::string png_header_only(std::uint32_t w, std::uint32_t h);

struct PngChunkPos {
    std::size_t offset = 0;  // of the length field
    std::size_t length = 0;  // of the data
};
// The first chunk of `type` in a PNG held in `png`; throws when there is none.
PngChunkPos find_png_chunk(const std::string& png, const std::string& type);

// Rewrites the CRC of the chunk at `pos` to match its (edited) contents.
void fix_png_crc(std::string& png, const PngChunkPos& pos);

// An ID3v2.3 tag with a title and, when `with_picture`, an APIC front cover holding a small PNG;
// no audio frame follows.
std::string id3_tag_only(bool with_picture);

// A 16-bit PCM WAV of `channels` channels at `rate` Hz holding `frames` samples per channel of
// a quiet tone.
std::string wav_file(int channels, int rate, int frames);

void write_bytes(const std::filesystem::path& path, const std::string& bytes);
std::string read_bytes(const std::filesystem::path& path);

}  // namespace renderer::testing

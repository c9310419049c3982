// PNG frames: header probing for preflight and full decoding (libspng) to 8-bit RGB with any
// alpha composited over black. Every PNG type is accepted: gray, gray+alpha, palette, RGB,
// RGBA, 1-16 bit, interlaced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace renderer::media {

struct PngHeader {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    int color_type = 0;
    int bit_depth = 0;
    bool interlaced = false;
};

struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;  // packed RGB24, stride = width * 3
};

// Reads only the signature and IHDR. Throws Error(PreflightError) naming the file when it is
// not a PNG, is truncated before IHDR, or claims more than `max_pixels`.
PngHeader read_png_header(const std::filesystem::path& path, std::uint64_t max_pixels);

// Decodes a whole PNG held in memory. Throws Error(DecodeError) naming `name` on corrupt data
// (bad CRC, truncation, bad zlib stream) or when larger than `max_pixels`.
RgbImage decode_png(std::span<const std::uint8_t> data, const std::string& name, std::uint64_t max_pixels);

// Whole file into memory; Error(DecodeError) naming the file when it cannot be read.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace renderer::media

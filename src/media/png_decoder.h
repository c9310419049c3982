// PNG frames: header probing for preflight and full decoding (libspng) to 8-bit RGB with any
// alpha composited over black. Every PNG type is accepted: gray, gray+alpha, palette, RGB,
// RGBA, 1-16 bit, interlaced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/byte_buffer.h"
#include "media/render_settings.h"

namespace renderer::media {

struct PngHeader {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    int color_type = 0;
    int bit_depth = 0;
    bool interlaced = false;
};

// 8-bit RGB rows. Rows may be padded (the fast path leaves PNG's per-row filter byte in place
// instead of copying 6 MB per 1080p frame), so read through data() and stride.
struct RgbImage {
    int width = 0;
    int height = 0;
    int stride = 0;  // bytes from one row to the next (>= width * 3)
    ByteBuffer storage;
    std::size_t offset = 0;  // of the first pixel in storage
    const std::uint8_t* data() const { return storage.data() + offset; }
};

// Reads only the signature and IHDR. Throws Error(PreflightError) naming the file when it is
// not a PNG, is truncated before IHDR, or claims more than `max_pixels`.
PngHeader read_png_header(const std::filesystem::path& path, std::uint64_t max_pixels,
                          SettingNames names = nullptr);

// Decodes a whole PNG held in memory. 8-bit RGB/RGBA non-interlaced images (what frame
// generators write) take a fast path: chunks parsed and CRC-checked here, the zlib stream
// inflated by libdeflate (about twice zlib's speed), rows unfiltered in place. Every other type
// goes through libspng. Both paths refuse what libpng refuses (tests/png_conformance_test.cpp)
// and give its pixels, 16-bit samples rounded to the nearest 8-bit value. Throws
// Error(DecodeError) naming `name` on corrupt data (bad CRC on a critical chunk, truncation,
// bad zlib stream, misplaced or unknown critical chunks) or when larger than `max_pixels`.
//
// `recycle` (optional) is a buffer from an earlier image (its `storage`): decoding into memory
// that is already mapped avoids zeroing fresh pages for every frame, which cost ~6 % of a
// render's CPU in the kernel (docs/PERFORMANCE.md).
RgbImage decode_png(std::span<const std::uint8_t> data, const std::string& name,
                    std::uint64_t max_pixels, ByteBuffer* recycle = nullptr);

// The fast path alone: nullopt when the image is not a type it handles (or holds more image
// data than it needs, which libspng decodes as libpng does).
std::optional<RgbImage> decode_png_fast(std::span<const std::uint8_t> data, const std::string& name,
                                        std::uint64_t max_pixels, ByteBuffer* recycle = nullptr);

// libspng alone: every PNG type, read through IEND.
RgbImage decode_png_spng(std::span<const std::uint8_t> data, const std::string& name,
                         std::uint64_t max_pixels);

// A 16-bit sample `c` with 16-bit alpha `a`, composited over black and brought to 8 bits: the
// nearest 8-bit value to 255 * c/65535 * a/65535 (a = 65535 for opaque samples).
std::uint8_t composite16(std::uint16_t c, std::uint16_t a);

}  // namespace renderer::media

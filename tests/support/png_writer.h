// PNG files built byte by byte (zlib for the compressed stream), so a test controls every
// chunk, row filter, interlace pass and IDAT split, and can damage any of them on purpose. The
// conformance corpus is made with it; libspng's encoder (fixtures.h) cannot write most of these.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace renderer::testing::png {

// PNG colour types.
enum ColorType : int { Gray = 0, Rgb = 2, Palette = 3, GrayAlpha = 4, Rgba = 6 };

int channels(int color_type);

struct Image {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    int color_type = Rgb;
    int bit_depth = 8;
    // Row-major, channels(color_type) samples a pixel, each below 2^bit_depth (palette: an index).
    std::vector<std::uint16_t> samples;
    std::vector<std::array<std::uint8_t, 3>> palette;  // PLTE entries (palette images)
    std::vector<std::uint8_t> trns;                    // tRNS chunk data as written; empty = none
};

// A filled image: fixed-seed random samples over the whole range of the depth (palette indices
// below palette.size()). Palette images get a random `palette_size`-entry palette.
Image random_image(std::uint32_t width, std::uint32_t height, int color_type, int bit_depth,
                   std::uint32_t seed, int palette_size = 0);

struct EncodeOptions {
    bool interlace = false;  // Adam7
    int filter = -1;         // 0-4: that filter on every row; -1: rows cycle through all five
    int zlib_level = 6;
    std::size_t idat_size =
        0;  // split the zlib stream into IDATs of at most this many bytes; 0 = one
};

struct Chunk {
    std::string type;  // four letters
    std::vector<std::uint8_t> data;
    bool bad_crc = false;  // written with its CRC's low bit flipped
};

// The filtered scanlines (one filter byte each, Adam7 passes in order when interlaced): what the
// zlib stream holds.
std::vector<std::uint8_t> scanlines(const Image& image, const EncodeOptions& options);

// IHDR, PLTE (when the image has a palette), tRNS (when set), IDAT..., IEND.
std::vector<Chunk> chunks(const Image& image, const EncodeOptions& options);
// The same around scanlines the caller supplies (e.g. damaged ones), deflated at
// options.zlib_level.
std::vector<Chunk> chunks(const Image& image, const EncodeOptions& options,
                          const std::vector<std::uint8_t>& raw);

// zlib stream of `raw` at `level`.
std::vector<std::uint8_t> zlib_compress(const std::vector<std::uint8_t>& raw, int level);

// Signature + chunks, each with its length and CRC.
std::vector<std::uint8_t> serialize(const std::vector<Chunk>& chunks);

// Chunk surgery for building variants.
std::size_t index_of(const std::vector<Chunk>& chunks, const std::string& type, int nth = 0);
int count_of(const std::vector<Chunk>& chunks, const std::string& type);
void insert_before(std::vector<Chunk>& chunks, const std::string& type, Chunk chunk);
void insert_after_last(std::vector<Chunk>& chunks, const std::string& type, Chunk chunk);

// Big-endian helpers for chunk payloads.
void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v);
void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v);
std::vector<std::uint8_t> text_bytes(const std::string& s);

}  // namespace renderer::testing::png

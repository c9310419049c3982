// An independent decoder for conformance tests: what libpng (Debian's libpng16, test-only)
// makes of a PNG through its full canonical read (info, image, end), with its default checks:
// every pixel as 16-bit RGBA, or the error it refused the file with.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace renderer::testing {

struct LibpngResult {
    bool ok = false;
    std::string error;  // why libpng refused the file
    std::vector<std::string>
        warnings;  // what it accepted with a warning (e.g. a damaged ancillary chunk)
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::vector<std::uint16_t> rgba;  // width * height * 4, 16 bits per sample
};

// Palette, low-bit gray and tRNS expanded, everything widened to 16 bits by libpng itself
// (png_set_expand, png_set_expand_16, png_set_gray_to_rgb, an opaque alpha added where none).
LibpngResult libpng_decode(std::span<const std::uint8_t> data);

// The picture a frame must show: 8-bit RGB, alpha composited over black, each sample the
// nearest 8-bit value to 255 * (c / 65535) * (a / 65535), computed here in floating point.
std::vector<std::uint8_t> composite_over_black(const LibpngResult& decoded);

}  // namespace renderer::testing

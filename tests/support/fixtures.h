// Test fixtures made on the fly: PNG frames of every type (libspng's encoder), temp dirs, and
// the committed media under testdata/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace renderer::testing {

namespace fs = std::filesystem;

enum class PngKind { Rgb8, Rgba8, Palette, Gray8, Gray16, Rgb16, GrayAlpha8, Rgb8Interlaced };

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
};

// A `w`x`h` PNG filled with `color` (alpha `alpha` where the kind has alpha).
void write_png(const fs::path& path, int w, int h, PngKind kind, Rgb color,
               std::uint8_t alpha = 255);

// A PNG of arbitrary 8-bit RGB (channels 3) or RGBA (4) pixels. With `all_filters` the encoder
// picks among every row filter (sub, up, average, paeth) instead of none.
void write_png_pixels(const fs::path& path, int w, int h, int channels,
                      const std::vector<std::uint8_t>& px, bool all_filters);

// `count` frames named frame_1.png … frame_N.png, all filled with `color`.
void write_frames(const fs::path& dir, int count, int w, int h, Rgb color = {40, 120, 200});

// `count` RGB frames frame_1.png … frame_N.png with texture (gradients, stripes, fixed-seed
// grain) that moves from frame to frame, so an encoder's crf changes both size and quality.
void write_textured_frames(const fs::path& dir, int count, int w, int h);

// The repository's testdata/ (RENDERER_TESTDATA, set by meson).
fs::path testdata();

// A fresh temp dir removed with the object.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& s) const { return path_ / s; }

  private:
    fs::path path_;
};

// Names of the entries in `dir`, sorted (hidden ones too: a leftover temp file must show up).
std::vector<std::string> dir_entries(const fs::path& dir);

std::string read_text(const fs::path& path);

}  // namespace renderer::testing

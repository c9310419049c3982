#include "support/fixtures.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <spng.h>

namespace renderer::testing {
namespace {

struct SpngDeleter {
    void operator()(spng_ctx* c) const { spng_ctx_free(c); }
};

void encode_png(const fs::path& path, const spng_ihdr& ihdr, const spng_plte& plte,
                const std::vector<std::uint8_t>& px) {
    std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(SPNG_CTX_ENCODER));
    spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
    spng_ihdr header = ihdr;
    if (spng_set_ihdr(ctx.get(), &header) != 0) throw std::runtime_error("spng_set_ihdr failed");
    spng_plte palette = plte;
    if (palette.n_entries > 0) spng_set_plte(ctx.get(), &palette);  // the palette must follow IHDR
    if (const int rc =
            spng_encode_image(ctx.get(), px.data(), px.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
        rc != 0) {
        throw std::runtime_error(std::string("spng_encode_image: ") + spng_strerror(rc));
    }
    std::size_t len = 0;
    int err = 0;
    std::unique_ptr<void, decltype(&std::free)> buf(spng_get_png_buffer(ctx.get(), &len, &err),
                                                    &std::free);
    if (!buf) throw std::runtime_error("spng_get_png_buffer failed");
    std::ofstream(path, std::ios::binary)
        .write(static_cast<const char*>(buf.get()), static_cast<std::streamsize>(len));
}

}  // namespace

void write_png(const fs::path& path, int w, int h, PngKind kind, Rgb c, std::uint8_t alpha) {
    spng_ihdr ihdr{};
    ihdr.width = static_cast<std::uint32_t>(w);
    ihdr.height = static_cast<std::uint32_t>(h);
    ihdr.bit_depth = 8;
    std::vector<std::uint8_t> px;
    spng_plte plte{};
    const auto n = static_cast<std::size_t>(w) * h;
    const std::uint8_t gray =
        static_cast<std::uint8_t>((c.r * 2126 + c.g * 7152 + c.b * 722) / 10000);
    switch (kind) {
        case PngKind::Rgb8:
        case PngKind::Rgb8Interlaced:
            ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
            for (std::size_t i = 0; i < n; ++i) px.insert(px.end(), {c.r, c.g, c.b});
            if (kind == PngKind::Rgb8Interlaced) ihdr.interlace_method = SPNG_INTERLACE_ADAM7;
            break;
        case PngKind::Rgba8:
            ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
            for (std::size_t i = 0; i < n; ++i) px.insert(px.end(), {c.r, c.g, c.b, alpha});
            break;
        case PngKind::GrayAlpha8:
            ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
            for (std::size_t i = 0; i < n; ++i) px.insert(px.end(), {gray, alpha});
            break;
        case PngKind::Palette: {
            ihdr.color_type = SPNG_COLOR_TYPE_INDEXED;
            plte.n_entries = 2;
            plte.entries[0] = {0, 0, 0, 0};
            plte.entries[1] = {c.r, c.g, c.b, 0};
            px.assign(n, 1);
            break;
        }
        case PngKind::Gray8:
            ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
            px.assign(n, gray);
            break;
        case PngKind::Gray16:
            ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
            ihdr.bit_depth = 16;
            for (std::size_t i = 0; i < n; ++i) px.insert(px.end(), {gray, gray});  // big-endian
            break;
        case PngKind::Rgb16:
            ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
            ihdr.bit_depth = 16;
            for (std::size_t i = 0; i < n; ++i) px.insert(px.end(), {c.r, c.r, c.g, c.g, c.b, c.b});
            break;
    }
    encode_png(path, ihdr, plte, px);
}

void write_textured_frames(const fs::path& dir, int count, int w, int h) {
    fs::create_directories(dir);
    std::uint32_t state = 12345;  // fixed seed: the same fixture on every run
    const auto noise = [&state] {
        state = state * 1664525u + 1013904223u;
        return static_cast<int>(state >> 24) % 48 - 24;
    };
    for (int i = 1; i <= count; ++i) {
        spng_ihdr ihdr{};
        ihdr.width = static_cast<std::uint32_t>(w);
        ihdr.height = static_cast<std::uint32_t>(h);
        ihdr.bit_depth = 8;
        ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
        std::vector<std::uint8_t> px;
        px.reserve(static_cast<std::size_t>(w) * h * 3);
        for (int y = 0; y < h; ++y) {
            for (int x = 0; x < w; ++x) {
                // Gradients and stripes that move by two pixels a frame, plus grain.
                const int u = x + 2 * i, v = y + i;
                const auto clamp8 = [](int c) {
                    return static_cast<std::uint8_t>(std::clamp(c, 0, 255));
                };
                px.push_back(clamp8(u * 255 / (w + 2 * count) + noise()));
                px.push_back(clamp8(((u / 4 + v / 4) % 2) * 120 + v * 100 / h + noise()));
                px.push_back(clamp8(128 + (u * v) % 97 + noise()));
            }
        }
        encode_png(dir / ("frame_" + std::to_string(i) + ".png"), ihdr, spng_plte{}, px);
    }
}

void write_png_pixels(const fs::path& path, int w, int h, int channels,
                      const std::vector<std::uint8_t>& px, bool all_filters) {
    std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(SPNG_CTX_ENCODER));
    spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
    spng_set_option(ctx.get(), SPNG_FILTER_CHOICE,
                    all_filters ? SPNG_FILTER_CHOICE_ALL : SPNG_DISABLE_FILTERING);
    spng_ihdr ihdr{};
    ihdr.width = static_cast<std::uint32_t>(w);
    ihdr.height = static_cast<std::uint32_t>(h);
    ihdr.bit_depth = 8;
    ihdr.color_type = channels == 4 ? SPNG_COLOR_TYPE_TRUECOLOR_ALPHA : SPNG_COLOR_TYPE_TRUECOLOR;
    spng_set_ihdr(ctx.get(), &ihdr);
    if (const int rc =
            spng_encode_image(ctx.get(), px.data(), px.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
        rc != 0) {
        throw std::runtime_error(std::string("spng_encode_image: ") + spng_strerror(rc));
    }
    std::size_t len = 0;
    int err = 0;
    std::unique_ptr<void, decltype(&std::free)> buf(spng_get_png_buffer(ctx.get(), &len, &err),
                                                    &std::free);
    std::ofstream(path, std::ios::binary)
        .write(static_cast<const char*>(buf.get()), static_cast<std::streamsize>(len));
}

void write_frames(const fs::path& dir, int count, int w, int h, Rgb color) {
    fs::create_directories(dir);
    for (int i = 1; i <= count; ++i) {
        write_png(dir / ("frame_" + std::to_string(i) + ".png"), w, h, PngKind::Rgb8, color);
    }
}

fs::path testdata() {
    const char* v = std::getenv("RENDERER_TESTDATA");
    return v != nullptr ? fs::path(v) : fs::path(RENDERER_SOURCE_ROOT) / "testdata";
}

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "renderer-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
}

std::vector<std::string> dir_entries(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        out.push_back(e.path().filename().string());
    // Directory order is the filesystem's (hash order on ext4, newest first on tmpfs).
    std::sort(out.begin(), out.end());
    return out;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace renderer::testing

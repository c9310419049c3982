#include "support/libpng_reference.h"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstring>
#include <memory>

namespace renderer::testing {
namespace {

// Everything libpng's callbacks touch lives here, on the heap: libpng reports errors by
// longjmp, and no C++ object may be modified between setjmp and longjmp in the frame that
// called setjmp, or be skipped over with a destructor pending.
struct State {
    std::span<const std::uint8_t> data;
    std::size_t pos = 0;
    LibpngResult result;
    std::vector<std::uint8_t> pixels;
    std::vector<png_bytep> rows;
};

void on_error(png_structp png, png_const_charp message) {
    static_cast<State*>(png_get_error_ptr(png))->result.error = message;
    png_longjmp(png, 1);
}

void on_warning(png_structp png, png_const_charp message) {
    static_cast<State*>(png_get_error_ptr(png))->result.warnings.emplace_back(message);
}

void on_read(png_structp png, png_bytep out, png_size_t length) {
    auto* s = static_cast<State*>(png_get_io_ptr(png));
    if (length > s->data.size() - s->pos) png_error(png, "read past the end of the file");
    std::memcpy(out, s->data.data() + s->pos, length);
    s->pos += length;
}

// The canonical read sequence. Runs below the setjmp, so it holds no C++ objects of its own.
void read_all(png_structp png, png_infop info, State* s) {
    png_set_read_fn(png, s, on_read);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_expand_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xffff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    s->result.width = png_get_image_width(png, info);
    s->result.height = png_get_image_height(png, info);
    const png_size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != static_cast<png_size_t>(s->result.width) * 8)
        png_error(png, "unexpected row layout");
    s->pixels.resize(rowbytes * s->result.height);
    s->rows.resize(s->result.height);
    for (std::uint32_t y = 0; y < s->result.height; ++y)
        s->rows[y] = s->pixels.data() + y * rowbytes;
    png_read_image(png, s->rows.data());
    png_read_end(png, nullptr);  // the chunks after the image data, up to IEND, CRCs included
}

}  // namespace

LibpngResult libpng_decode(std::span<const std::uint8_t> data) {
    auto state = std::make_unique<State>();
    state->data = data;
    State* const s = state.get();
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
    png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
    if (info == nullptr) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        s->result.error = "libpng: out of memory";
        return std::move(s->result);
    }
    if (setjmp(png_jmpbuf(png)) == 0) {
        read_all(png, info, s);
        s->result.ok = true;
    }
    png_destroy_read_struct(&png, &info, nullptr);
    if (s->result.ok) {
        const auto& px = s->pixels;
        s->result.rgba.resize(px.size() / 2);
        for (std::size_t i = 0; i < s->result.rgba.size(); ++i) {
            s->result.rgba[i] =
                static_cast<std::uint16_t>((px[2 * i] << 8) | px[2 * i + 1]);  // big-endian
        }
    }
    return std::move(s->result);
}

std::vector<std::uint8_t> composite_over_black(const LibpngResult& d) {
    std::vector<std::uint8_t> out;
    out.reserve(d.rgba.size() / 4 * 3);
    for (std::size_t i = 0; i < d.rgba.size(); i += 4) {
        const double a = d.rgba[i + 3] / 65535.0;
        for (int c = 0; c < 3; ++c) {
            // Never exactly halfway between two 8-bit values (65535 is odd), so rounding is
            // unambiguous.
            out.push_back(
                static_cast<std::uint8_t>(std::lround(255.0 * (d.rgba[i + c] / 65535.0) * a)));
        }
    }
    return out;
}

}  // namespace renderer::testing

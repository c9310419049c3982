#include "support/png_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace renderer::testing::png {
namespace {

struct Pass {
    std::uint32_t x0, y0, dx, dy;
};
// Adam7: where each pass starts and how far apart its pixels are (PNG spec, 8.2).
constexpr Pass kAdam7[7] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                            {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
constexpr Pass kWhole = {0, 0, 1, 1};

std::uint32_t pass_extent(std::uint32_t size, std::uint32_t start, std::uint32_t step) {
    return size > start ? (size - start + step - 1) / step : 0;
}

// One row of the sub-image `pass`, packed as PNG stores it (MSB first below 8 bits, 16-bit
// big-endian).
std::vector<std::uint8_t> pack_row(const Image& img, const Pass& pass, std::uint32_t row) {
    const int ch = channels(img.color_type);
    const std::uint32_t w = pass_extent(img.width, pass.x0, pass.dx);
    const std::uint32_t y = pass.y0 + row * pass.dy;
    std::vector<std::uint8_t> out((static_cast<std::size_t>(w) * ch * img.bit_depth + 7) / 8, 0);
    std::size_t bit = 0;
    for (std::uint32_t i = 0; i < w; ++i) {
        const std::uint32_t x = pass.x0 + i * pass.dx;
        for (int c = 0; c < ch; ++c) {
            const std::uint16_t v =
                img.samples[(static_cast<std::size_t>(y) * img.width + x) * ch + c];
            if (img.bit_depth == 16) {
                out[bit / 8] = static_cast<std::uint8_t>(v >> 8);
                out[bit / 8 + 1] = static_cast<std::uint8_t>(v);
            } else if (img.bit_depth == 8) {
                out[bit / 8] = static_cast<std::uint8_t>(v);
            } else {
                const int shift = 8 - img.bit_depth - static_cast<int>(bit % 8);
                out[bit / 8] = static_cast<std::uint8_t>(out[bit / 8] | (v << shift));
            }
            bit += static_cast<std::size_t>(img.bit_depth);
        }
    }
    return out;
}

std::uint8_t paeth(int a, int b, int c) {
    const int p = a + b - c;
    const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
    return static_cast<std::uint8_t>(pb <= pc ? b : c);
}

// Appends `type` + the row filtered against `prior` (empty for a pass's first row).
void filter_row(int type, const std::vector<std::uint8_t>& row,
                const std::vector<std::uint8_t>& prior, std::size_t bpp,
                std::vector<std::uint8_t>& out) {
    out.push_back(static_cast<std::uint8_t>(type));
    for (std::size_t i = 0; i < row.size(); ++i) {
        const int a = i >= bpp ? row[i - bpp] : 0;
        const int b = prior.empty() ? 0 : prior[i];
        const int c = (prior.empty() || i < bpp) ? 0 : prior[i - bpp];
        int predictor = 0;
        switch (type) {
            case 0:
                predictor = 0;
                break;
            case 1:
                predictor = a;
                break;
            case 2:
                predictor = b;
                break;
            case 3:
                predictor = (a + b) / 2;
                break;
            case 4:
                predictor = paeth(a, b, c);
                break;
            default:
                throw std::invalid_argument("filter type");
        }
        out.push_back(static_cast<std::uint8_t>(row[i] - predictor));
    }
}

}  // namespace

std::vector<std::uint8_t> zlib_compress(const std::vector<std::uint8_t>& raw, int level) {
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::vector<std::uint8_t> out(size);
    if (compress2(out.data(), &size, raw.data(), static_cast<uLong>(raw.size()), level) != Z_OK) {
        throw std::runtime_error("zlib compress2 failed");
    }
    out.resize(size);
    return out;
}

int channels(int color_type) {
    switch (color_type) {
        case Gray:
            return 1;
        case Rgb:
            return 3;
        case Palette:
            return 1;
        case GrayAlpha:
            return 2;
        case Rgba:
            return 4;
        default:
            throw std::invalid_argument("colour type");
    }
}

Image random_image(std::uint32_t width, std::uint32_t height, int color_type, int bit_depth,
                   std::uint32_t seed, int palette_size) {
    std::mt19937 rng(seed);
    Image img{.width = width, .height = height, .color_type = color_type, .bit_depth = bit_depth};
    if (color_type == Palette) {
        if (palette_size <= 0) palette_size = 1 << bit_depth;
        for (int i = 0; i < palette_size; ++i) {
            img.palette.push_back({static_cast<std::uint8_t>(rng()),
                                   static_cast<std::uint8_t>(rng()),
                                   static_cast<std::uint8_t>(rng())});
        }
    }
    const std::uint32_t limit =
        color_type == Palette ? static_cast<std::uint32_t>(palette_size) : 1u << bit_depth;
    img.samples.resize(static_cast<std::size_t>(width) * height * channels(color_type));
    for (auto& s : img.samples) s = static_cast<std::uint16_t>(rng() % limit);
    return img;
}

std::vector<std::uint8_t> scanlines(const Image& img, const EncodeOptions& o) {
    const std::size_t bits_per_pixel =
        static_cast<std::size_t>(channels(img.color_type)) * img.bit_depth;
    const std::size_t bpp =
        std::max<std::size_t>(1, bits_per_pixel / 8);  // the filters' byte distance
    std::vector<std::uint8_t> out;
    int row_counter = 0;
    const auto encode_pass = [&](const Pass& pass) {
        const std::uint32_t w = pass_extent(img.width, pass.x0, pass.dx);
        const std::uint32_t h = pass_extent(img.height, pass.y0, pass.dy);
        if (w == 0 || h == 0)
            return;  // an empty pass has no scanlines at all, not even filter bytes
        std::vector<std::uint8_t> prior;
        for (std::uint32_t r = 0; r < h; ++r) {
            auto row = pack_row(img, pass, r);
            filter_row(o.filter >= 0 ? o.filter : row_counter++ % 5, row, prior, bpp, out);
            prior = std::move(row);
        }
    };
    if (o.interlace) {
        for (const auto& pass : kAdam7) encode_pass(pass);
    } else {
        encode_pass(kWhole);
    }
    return out;
}

std::vector<Chunk> chunks(const Image& img, const EncodeOptions& o) {
    return chunks(img, o, scanlines(img, o));
}

std::vector<Chunk> chunks(const Image& img, const EncodeOptions& o,
                          const std::vector<std::uint8_t>& raw) {
    std::vector<Chunk> out;
    Chunk ihdr{.type = "IHDR"};
    put_u32(ihdr.data, img.width);
    put_u32(ihdr.data, img.height);
    ihdr.data.insert(ihdr.data.end(), {static_cast<std::uint8_t>(img.bit_depth),
                                       static_cast<std::uint8_t>(img.color_type), 0, 0,
                                       static_cast<std::uint8_t>(o.interlace ? 1 : 0)});
    out.push_back(std::move(ihdr));
    if (!img.palette.empty()) {
        Chunk plte{.type = "PLTE"};
        for (const auto& e : img.palette) plte.data.insert(plte.data.end(), e.begin(), e.end());
        out.push_back(std::move(plte));
    }
    if (!img.trns.empty()) out.push_back(Chunk{.type = "tRNS", .data = img.trns});
    const auto stream = zlib_compress(raw, o.zlib_level);
    const std::size_t step = o.idat_size == 0 ? stream.size() : o.idat_size;
    for (std::size_t pos = 0; pos < stream.size(); pos += step) {
        const auto end = std::min(stream.size(), pos + step);
        out.push_back(Chunk{.type = "IDAT",
                            .data = {stream.begin() + static_cast<std::ptrdiff_t>(pos),
                                     stream.begin() + static_cast<std::ptrdiff_t>(end)}});
    }
    out.push_back(Chunk{.type = "IEND"});
    return out;
}

std::vector<std::uint8_t> serialize(const std::vector<Chunk>& chunks) {
    std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (const auto& c : chunks) {
        if (c.type.size() != 4) throw std::invalid_argument("chunk type must be four letters");
        put_u32(out, static_cast<std::uint32_t>(c.data.size()));
        const std::size_t type_at = out.size();
        out.insert(out.end(), c.type.begin(), c.type.end());
        out.insert(out.end(), c.data.begin(), c.data.end());
        // The CRC covers the type and the data, not the length (PNG spec, 5.3).
        auto crc = static_cast<std::uint32_t>(crc32(crc32(0, nullptr, 0), out.data() + type_at,
                                                    static_cast<uInt>(4 + c.data.size())));
        if (c.bad_crc) crc ^= 1;
        put_u32(out, crc);
    }
    return out;
}

std::size_t index_of(const std::vector<Chunk>& chunks, const std::string& type, int nth) {
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        if (chunks[i].type == type && nth-- == 0) return i;
    }
    throw std::out_of_range("no such chunk: " + type);
}

int count_of(const std::vector<Chunk>& chunks, const std::string& type) {
    return static_cast<int>(std::count_if(chunks.begin(), chunks.end(),
                                          [&](const Chunk& c) { return c.type == type; }));
}

void insert_before(std::vector<Chunk>& chunks, const std::string& type, Chunk chunk) {
    chunks.insert(chunks.begin() + static_cast<std::ptrdiff_t>(index_of(chunks, type)),
                  std::move(chunk));
}

void insert_after_last(std::vector<Chunk>& chunks, const std::string& type, Chunk chunk) {
    const auto last = index_of(chunks, type, count_of(chunks, type) - 1);
    chunks.insert(chunks.begin() + static_cast<std::ptrdiff_t>(last + 1), std::move(chunk));
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::vector<std::uint8_t> text_bytes(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace renderer::testing::png

#include "media/png_decoder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <libdeflate.h>
#include <spng.h>

#include "common/error.h"

namespace renderer::media {
namespace {

struct SpngDeleter {
    void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};
using SpngPtr = std::unique_ptr<spng_ctx, SpngDeleter>;

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

[[noreturn]] void fail(ErrorClass cls, const std::string& name, std::string_view what) {
    throw Error(cls, fmt::format("frame '{}': {}", name, what));
}

void check_size(ErrorClass cls, const std::string& name, std::uint32_t w, std::uint32_t h,
                std::uint64_t max_pixels, SettingNames names = nullptr) {
    if (static_cast<std::uint64_t>(w) * h > max_pixels) {
        fail(cls, name,
             fmt::format(
                 "{}x{} exceeds the pixel limit{} of {}; resize the frames or raise the limit", w,
                 h, named(Setting::MaxFramePixels, names), max_pixels));
    }
}

// libspng's message, with the wording the fast path uses where the two report the same fault.
std::string spng_message(int rc) {
    if (rc == SPNG_ECHUNK_CRC) return "bad CRC";
    return spng_strerror(rc);
}

}  // namespace

std::uint8_t composite16(std::uint16_t c, std::uint16_t a) {
    // The nearest 8-bit value to 255 * (c / 65535) * (a / 65535). x / d rounded to nearest is
    // (x + (d - 1) / 2) / d for odd d, and d = 65535^2 is odd, so no value lies halfway. Opaque
    // (a = 65535) this is round(c / 257) = (c + 128) / 257. Neither shortcut is: keeping the high
    // byte (c >> 8, libspng's 8-bit output) is one too low for 16 256 of the 65 536 values, and
    // (c + 128) >> 8 divides by 256 instead of 257: wrong for half of them, and 256 (overflow)
    // for the top 128. The tests compare every 16-bit value with a floating-point reference.
    constexpr std::uint64_t d = 65535ull * 65535ull;
    return static_cast<std::uint8_t>((std::uint64_t{c} * a * 255 + (d - 1) / 2) / d);
}

PngHeader read_png_header(const std::filesystem::path& path, std::uint64_t max_pixels,
                          SettingNames names) {
    const auto name = path.filename().string();
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0)
        fail(ErrorClass::PreflightError, name,
             fmt::format("cannot open: {}", std::strerror(errno)));
    // 8-byte signature + IHDR chunk (4 length + 4 type + 13 data + 4 CRC) = 33 bytes.
    std::array<std::uint8_t, 33> buf{};
    std::size_t got = 0;
    while (got < buf.size()) {
        const auto n = ::read(f.fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        // A read the disk fails (EIO) is the filesystem's fault and transient, not the frame's.
        if (n < 0)
            fail(ErrorClass::IoError, name, fmt::format("cannot read: {}", std::strerror(errno)));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < 8 || std::memcmp(buf.data(), "\x89PNG\r\n\x1a\n", 8) != 0) {
        fail(ErrorClass::PreflightError, name, "not a PNG file (bad signature)");
    }
    if (got < buf.size()) fail(ErrorClass::PreflightError, name, "truncated before the PNG header");
    // libspng does not check a lone IHDR's CRC here; a damaged header must fail preflight, not
    // the render minutes later.
    const std::uint32_t stored = (std::uint32_t{buf[29]} << 24) | (std::uint32_t{buf[30]} << 16) |
                                 (std::uint32_t{buf[31]} << 8) | buf[32];
    if (libdeflate_crc32(0, buf.data() + 12, 17) != stored) {
        fail(ErrorClass::PreflightError, name, "corrupt PNG header (bad IHDR CRC)");
    }

    SpngPtr ctx(spng_ctx_new(0));
    spng_set_png_buffer(ctx.get(), buf.data(), buf.size());
    // Reject large claims before anything is allocated for them.
    spng_set_image_limits(ctx.get(), 1u << 20, 1u << 20);
    spng_ihdr ihdr{};
    if (const int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
        fail(ErrorClass::PreflightError, name,
             fmt::format("invalid PNG header: {}", spng_strerror(rc)));
    }
    check_size(ErrorClass::PreflightError, name, ihdr.width, ihdr.height, max_pixels, names);
    return PngHeader{ihdr.width, ihdr.height, ihdr.color_type, ihdr.bit_depth,
                     ihdr.interlace_method != 0};
}

namespace {

std::string_view chunk_name(const std::uint8_t* type) {
    return {reinterpret_cast<const char*>(type), 4};
}

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

// A chunk type is four ASCII letters (PNG spec 5.4); libpng refuses anything else.
bool valid_chunk_type(const std::uint8_t* type) {
    const auto letter = [](std::uint8_t c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    };
    return std::all_of(type, type + 4, letter);
}

bool is_type(const std::uint8_t* type, const char (&name)[5]) {
    return std::memcmp(type, name, 4) == 0;
}

struct SpngInput {
    std::span<const std::uint8_t> bytes;  // what libspng reads
    // The payloads of the first run of consecutive IDAT chunks: the zlib stream of the image.
    std::vector<std::span<const std::uint8_t>> idat;
};

// The file as libspng should read it. libspng parses and keeps every ancillary chunk it knows
// (text inflated, ICC profiles inflated, sPLT, eXIf), and refuses the whole image when they pass
// its limits: a 2 MiB zTXt or 1001 tEXt chunks fail a frame libpng decodes (it drops what it
// cannot keep, with a warning). None of them changes a pixel but tRNS, so every other ancillary
// chunk is replaced by an empty private one, kept in place so that a chunk between two IDATs
// still ends the image data as libpng sees it. `data` itself is returned when nothing needs
// replacing. Checked here because libspng does not, and libpng refuses them: a chunk type that
// is not four letters (libspng takes any four bytes), a second PLTE before the image data
// (libspng keeps the last one), and a file that ends inside IEND's CRC (libspng takes the
// short read for a bad ancillary CRC and accepts it).
SpngInput chunks_for_libspng(std::span<const std::uint8_t> data, const std::string& name,
                             ByteBuffer& out) {
    SpngInput input{.bytes = data};
    // A bad signature or a truncated IHDR is libspng's to report.
    if (data.size() < 8 || std::memcmp(data.data(), "\x89PNG\r\n\x1a\n", 8) != 0) return input;
    // Zero-length, ancillary (lower-case first letter), private (second), reserved bit clear
    // (third upper-case): libspng skips it as an unknown chunk without keeping anything.
    const auto placeholder = [&out] {
        static constexpr std::uint8_t kHeader[8] = {0,   0,   0,   0,
                                                    'r', 'n', 'D', 'r'};  // length, type
        const std::uint32_t crc = libdeflate_crc32(0, kHeader + 4, 4);
        out.insert(out.end(), kHeader, kHeader + 8);
        for (int shift = 24; shift >= 0; shift -= 8)
            out.push_back(static_cast<std::uint8_t>(crc >> shift));
    };
    bool copying = false;  // once a chunk is replaced, `out` holds everything read so far
    int plte_before_idat = 0;
    bool seen_idat = false;
    bool in_first_run = false;
    for (std::size_t pos = 8;;) {
        if (pos + 12 > data.size())
            fail(ErrorClass::DecodeError, name, "corrupt PNG data: truncated file (no IEND)");
        const std::uint8_t* type = data.data() + pos + 4;
        if (!valid_chunk_type(type))
            fail(ErrorClass::DecodeError, name, "corrupt PNG data: invalid chunk type");
        const std::size_t len = be32(data.data() + pos);
        if (len > data.size() - pos - 12)
            fail(ErrorClass::DecodeError, name, "corrupt PNG data: truncated chunk");
        const std::size_t end = pos + 12 + len;
        const bool idat = is_type(type, "IDAT");
        if (idat && !seen_idat) in_first_run = true;
        in_first_run = in_first_run && idat;
        if (in_first_run) input.idat.push_back(data.subspan(pos + 8, len));
        seen_idat = seen_idat || idat;
        if (is_type(type, "PLTE") && !seen_idat && ++plte_before_idat > 1) {
            fail(ErrorClass::DecodeError, name, "corrupt PNG data: duplicate PLTE");
        }
        const bool critical = (type[0] & 0x20) == 0;
        // A tRNS with a bad CRC is dropped here, as libpng drops it: libspng drops it too, but
        // counts it, and then refuses a good tRNS after it as a duplicate.
        const bool good_trns =
            is_type(type, "tRNS") && libdeflate_crc32(0, type, len + 4) == be32(type + 4 + len);
        if (critical || good_trns) {
            if (copying) {
                out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(pos),
                           data.begin() + static_cast<std::ptrdiff_t>(end));
            }
        } else {
            if (!copying) {
                out.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(pos));
                copying = true;
            }
            placeholder();
        }
        if (is_type(type, "IEND")) break;  // libspng reads no further
        pos = end;
    }
    if (copying) input.bytes = out;
    return input;
}

// Bytes of filtered scanlines (a filter byte each) that the image's zlib stream holds.
std::size_t scanline_bytes(const spng_ihdr& ihdr) {
    const int channels = ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR         ? 3
                         : ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ? 2
                         : ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4
                                                                              : 1;
    const std::size_t bits = static_cast<std::size_t>(channels) * ihdr.bit_depth;
    const auto rows = [bits](std::size_t w, std::size_t h) {
        return w == 0 ? 0 : h * (1 + (w * bits + 7) / 8);
    };
    if (ihdr.interlace_method == 0) return rows(ihdr.width, ihdr.height);
    // Adam7 (PNG spec 8.2): each pass's first column and row, and its steps.
    static constexpr std::size_t kPasses[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8},
                                                  {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2},
                                                  {0, 1, 1, 2}};
    const auto extent = [](std::size_t size, std::size_t start, std::size_t step) {
        return size > start ? (size - start + step - 1) / step : 0;
    };
    std::size_t total = 0;
    for (const auto& [x0, y0, dx, dy] : kPasses) {
        total += rows(extent(ihdr.width, x0, dx), extent(ihdr.height, y0, dy));
    }
    return total;
}

struct DeflateDeleter {
    void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor* thread_decompressor() {
    thread_local std::unique_ptr<libdeflate_decompressor, DeflateDeleter> d(
        libdeflate_alloc_decompressor());
    return d.get();
}

// This thread's buffer for an IDAT stream gathered into one piece (libdeflate wants it whole),
// kept between frames: no fresh pages per frame.
ByteBuffer& idat_buffer() {
    thread_local ByteBuffer idat;
    return idat;
}

// libspng stops inflating at the last scanline, so it decodes a stream that ends there without
// its end marker and Adler-32, or with a damaged Adler-32; libpng reads the stream to its end and
// refuses the first, and the fast path refuses both. So the stream is inflated once more here,
// whole, into `scratch` (at least `raw_size` bytes; libspng's output buffer, before libspng
// writes it): libdeflate checks the end and the Adler-32, at about twice zlib's speed. A stream
// holding more data than the image needs is decoded (libpng only warns) if it ends whole within
// kMaxExcess past the image data: libpng inflates any excess to the end, which makes a small file
// a long decode; we refuse it instead.
constexpr std::size_t kMaxExcess = 1u << 20;

void check_zlib_stream(const std::vector<std::span<const std::uint8_t>>& idat, std::size_t raw_size,
                       std::uint8_t* scratch, const std::string& name) {
    auto& stream = idat_buffer();
    stream.clear();
    for (const auto part : idat) stream.insert(stream.end(), part.begin(), part.end());
    std::size_t got = 0;
    auto rc = libdeflate_zlib_decompress(thread_decompressor(), stream.data(), stream.size(),
                                         scratch, raw_size, &got);
    if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
        ByteBuffer more(raw_size + kMaxExcess);  // rare (a malformed file): not kept per thread
        rc = libdeflate_zlib_decompress(thread_decompressor(), stream.data(), stream.size(),
                                        more.data(), more.size(), &got);
        if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
            fail(ErrorClass::DecodeError, name,
                 fmt::format(
                     "corrupt PNG data: the zlib stream holds over {} bytes more than the image",
                     kMaxExcess));
        }
        if (rc == LIBDEFLATE_SUCCESS) return;
    }
    if (rc != LIBDEFLATE_SUCCESS || got != raw_size) {
        fail(ErrorClass::DecodeError, name, "corrupt PNG data: bad or truncated zlib stream");
    }
}

std::uint8_t paeth(int a, int b, int c) {
    const int p = a + b - c;
    const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
    return static_cast<std::uint8_t>(pb <= pc ? b : c);
}

// Reverses PNG row filters in place; rows are [filter byte][row_bytes]. Returns false on an
// unknown filter type.
bool unfilter(std::uint8_t* buf, std::size_t rows, std::size_t row_bytes, int bpp) {
    const std::size_t stride = row_bytes + 1;
    for (std::size_t y = 0; y < rows; ++y) {
        std::uint8_t* row = buf + y * stride + 1;
        const std::uint8_t* up = y > 0 ? buf + (y - 1) * stride + 1 : nullptr;
        const std::size_t b = static_cast<std::size_t>(bpp);
        switch (row[-1]) {
            case 0:
                break;
            case 1:
                for (std::size_t i = b; i < row_bytes; ++i)
                    row[i] = static_cast<std::uint8_t>(row[i] + row[i - b]);
                break;
            case 2:
                if (up != nullptr) {
                    for (std::size_t i = 0; i < row_bytes; ++i)
                        row[i] = static_cast<std::uint8_t>(row[i] + up[i]);
                }
                break;
            case 3:
                for (std::size_t i = 0; i < row_bytes; ++i) {
                    const int left = i >= b ? row[i - b] : 0;
                    const int above = up != nullptr ? up[i] : 0;
                    row[i] = static_cast<std::uint8_t>(row[i] + ((left + above) >> 1));
                }
                break;
            case 4:
                for (std::size_t i = 0; i < row_bytes; ++i) {
                    const int left = i >= b ? row[i - b] : 0;
                    const int above = up != nullptr ? up[i] : 0;
                    const int diag = (up != nullptr && i >= b) ? up[i - b] : 0;
                    row[i] = static_cast<std::uint8_t>(row[i] + paeth(left, above, diag));
                }
                break;
            default:
                return false;
        }
    }
    return true;
}

}  // namespace

std::optional<RgbImage> decode_png_fast(std::span<const std::uint8_t> data, const std::string& name,
                                        std::uint64_t max_pixels, ByteBuffer* recycle) {
    constexpr std::size_t kSig = 8;
    if (data.size() < kSig + 25 || std::memcmp(data.data(), "\x89PNG\r\n\x1a\n", kSig) != 0)
        return std::nullopt;
    const std::uint8_t* ihdr = data.data() + kSig;
    if (be32(ihdr) != 13 || std::memcmp(ihdr + 4, "IHDR", 4) != 0) return std::nullopt;
    const std::uint32_t w = be32(ihdr + 8), h = be32(ihdr + 12);
    const int depth = ihdr[16], color = ihdr[17], interlace = ihdr[20];
    if (depth != 8 || (color != 2 && color != 6) || interlace != 0 || ihdr[18] != 0 ||
        ihdr[19] != 0) {
        return std::nullopt;  // everything else: libspng
    }
    if (w == 0 || h == 0 || w > (1u << 20) || h > (1u << 20)) return std::nullopt;
    check_size(ErrorClass::DecodeError, name, w, h, max_pixels);

    // libdeflate wants the zlib stream in one piece: gather the IDAT payloads (frame encoders
    // often write many small IDAT chunks) into one buffer sized once. The chunk rules are
    // libpng's, so a file is refused (or accepted) the same on every path: a bad CRC on a
    // critical chunk, an unknown critical chunk, a second IHDR, IDATs that are not consecutive
    // or no IEND are errors; an ancillary chunk with a bad CRC is dropped, as libpng drops it.
    ByteBuffer& idat = idat_buffer();
    idat.resize(data.size());
    std::size_t idat_size = 0;
    int idat_runs = 0;
    bool in_idat = false;
    bool ended = false;
    if (libdeflate_crc32(0, ihdr + 4, 17) != be32(ihdr + 21)) {
        fail(ErrorClass::DecodeError, name, "corrupt PNG data: bad CRC in IHDR");
    }
    for (std::size_t pos = kSig + 25; pos + 12 <= data.size();) {
        const std::uint32_t len = be32(data.data() + pos);
        if (len > data.size() - pos - 12)
            fail(ErrorClass::DecodeError, name, "corrupt PNG data: truncated chunk");
        const std::uint8_t* type = data.data() + pos + 4;
        if (!valid_chunk_type(type)) {
            fail(ErrorClass::DecodeError, name, "corrupt PNG data: invalid chunk type");
        }
        const bool critical = (type[0] & 0x20) == 0;  // PNG spec 5.4: an upper-case first letter
        const std::uint32_t crc = be32(type + 4 + len);
        pos += 12 + len;
        if (libdeflate_crc32(0, type, len + 4) != crc) {
            if (critical) {
                fail(ErrorClass::DecodeError, name,
                     fmt::format("corrupt PNG data: bad CRC in {}", chunk_name(type)));
            }
            in_idat = false;
            continue;
        }
        const bool is_idat = std::memcmp(type, "IDAT", 4) == 0;
        if (is_idat) {
            if (!in_idat && ++idat_runs > 1) {
                fail(ErrorClass::DecodeError, name,
                     "corrupt PNG data: IDAT chunks not consecutive");
            }
            std::memcpy(idat.data() + idat_size, type + 4, len);
            idat_size += len;
        } else if (std::memcmp(type, "tRNS", 4) == 0 || std::memcmp(type, "PLTE", 4) == 0) {
            return std::nullopt;  // transparency key or suggested palette: libspng handles these
        } else if (std::memcmp(type, "IEND", 4) == 0) {
            // libpng only warns about data in IEND; libspng refuses it, and so do we, so a file
            // is not accepted or refused by which path its colour type takes.
            if (len != 0) fail(ErrorClass::DecodeError, name, "corrupt PNG data: IEND with data");
            ended = true;
            break;
        } else if (critical) {
            // IHDR was read above; any other critical chunk here is one no decoder may skip.
            fail(ErrorClass::DecodeError, name,
                 fmt::format("corrupt PNG data: unexpected critical chunk {}", chunk_name(type)));
        }
        in_idat = is_idat;
    }
    if (!ended) fail(ErrorClass::DecodeError, name, "corrupt PNG data: truncated file (no IEND)");
    if (idat_size == 0)
        fail(ErrorClass::DecodeError, name, "corrupt PNG data: no image data (IDAT)");

    const int bpp = color == 6 ? 4 : 3;
    const std::size_t row_bytes = static_cast<std::size_t>(w) * bpp;
    const std::size_t raw_size = (row_bytes + 1) * h;
    ByteBuffer raw;
    if (recycle != nullptr) raw.swap(*recycle);
    raw.resize(raw_size);  // uninitialised: inflate writes every byte
    std::size_t got = 0;
    const auto rc = libdeflate_zlib_decompress(thread_decompressor(), idat.data(), idat_size,
                                               raw.data(), raw.size(), &got);
    if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
        // More image data than the image needs: libpng warns and decodes, and libspng ignores
        // the excess. Hand the (malformed, rare) file to libspng rather than refuse it here only.
        if (recycle != nullptr) recycle->swap(raw);
        return std::nullopt;
    }
    if (rc != LIBDEFLATE_SUCCESS || got != raw_size) {
        fail(ErrorClass::DecodeError, name, "corrupt PNG data: bad or truncated zlib stream");
    }
    if (!unfilter(raw.data(), h, row_bytes, bpp))
        fail(ErrorClass::DecodeError, name, "corrupt PNG data: bad filter type");

    RgbImage img;
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    if (bpp == 3) {
        // Rows stay where inflate put them, each after its filter byte.
        img.stride = static_cast<int>(row_bytes + 1);
        img.offset = 1;
        img.storage = std::move(raw);
        return img;
    }
    // RGBA: composite over black into packed RGB rows.
    img.stride = img.width * 3;
    img.storage.resize(static_cast<std::size_t>(img.stride) * h);
    for (std::size_t y = 0; y < h; ++y) {
        const std::uint8_t* src = raw.data() + y * (row_bytes + 1) + 1;
        std::uint8_t* dst = img.storage.data() + y * img.stride;
        for (std::size_t x = 0; x < w; ++x) {
            const unsigned a = src[x * 4 + 3];
            for (int c = 0; c < 3; ++c)
                dst[x * 3 + c] = static_cast<std::uint8_t>((src[x * 4 + c] * a + 127) / 255);
        }
    }
    return img;
}

RgbImage decode_png(std::span<const std::uint8_t> data, const std::string& name,
                    std::uint64_t max_pixels, ByteBuffer* recycle) {
    if (auto fast = decode_png_fast(data, name, max_pixels, recycle)) return std::move(*fast);
    return decode_png_spng(data, name, max_pixels);
}

RgbImage decode_png_spng(std::span<const std::uint8_t> data, const std::string& name,
                         std::uint64_t max_pixels) {
    ByteBuffer filtered;  // outlives the context that reads it
    const SpngInput input = chunks_for_libspng(data, name, filtered);
    SpngPtr ctx(spng_ctx_new(0));
    if (!ctx) fail(ErrorClass::DecodeError, name, "out of memory");
    // Frames are trusted for content, not for size. Ancillary chunks other than tRNS never reach
    // libspng (chunks_for_libspng), so these limits only stand behind that.
    spng_set_chunk_limits(ctx.get(), 1u << 20, 8u << 20);
    spng_set_image_limits(ctx.get(), 1u << 20, 1u << 20);
    // libpng's rules, and libspng's defaults, made explicit: a bad CRC on a critical chunk is an
    // error, an ancillary chunk with a bad CRC is dropped.
    spng_set_crc_action(ctx.get(), SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
    spng_set_png_buffer(ctx.get(), input.bytes.data(), input.bytes.size());

    spng_ihdr ihdr{};
    if (const int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("invalid PNG: {}", spng_message(rc)));
    }
    check_size(ErrorClass::DecodeError, name, ihdr.width, ihdr.height, max_pixels);

    // Reads the chunks before the image data. Any error but "no tRNS" is the file's fault and is
    // reported here: libspng answers every later call with "non-recoverable state".
    spng_trns trns{};
    const int trns_rc = spng_get_trns(ctx.get(), &trns);
    if (trns_rc != 0 && trns_rc != SPNG_ECHUNKAVAIL) {
        fail(ErrorClass::DecodeError, name,
             fmt::format("corrupt PNG data: {}", spng_message(trns_rc)));
    }
    if (trns_rc == 0 && ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE && ihdr.bit_depth < 16) {
        // The key's bits above the bit depth are masked off (PNG spec 11.3.2.1, and libpng);
        // libspng compares the whole 16-bit value when it expands gray to RGBA, so a key with
        // high bits set would match no pixel.
        trns.gray &= static_cast<std::uint16_t>((1u << ihdr.bit_depth) - 1);
        if (const int rc = spng_set_trns(ctx.get(), &trns); rc != 0) {
            fail(ErrorClass::DecodeError, name, fmt::format("cannot decode: {}", spng_message(rc)));
        }
    }
    const bool has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                           ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA || trns_rc == 0;
    // 16-bit samples are decoded whole and rounded below: libspng's 8-bit formats keep only the
    // high byte, a bias of -0.5 LSB (issue 10, item 7).
    const bool wide = ihdr.bit_depth == 16;
    const int fmt = wide ? SPNG_FMT_RGBA16 : has_alpha ? SPNG_FMT_RGBA8 : SPNG_FMT_RGB8;
    std::size_t out_size = 0;
    if (const int rc = spng_decoded_image_size(ctx.get(), fmt, &out_size); rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("cannot decode: {}", spng_message(rc)));
    }
    const std::size_t raw_size = scanline_bytes(ihdr);
    ByteBuffer decoded(std::max(out_size, raw_size));
    if (!input.idat.empty()) check_zlib_stream(input.idat, raw_size, decoded.data(), name);
    if (const int rc = spng_decode_image(ctx.get(), decoded.data(), out_size, fmt,
                                         has_alpha ? SPNG_DECODE_TRNS : 0);
        rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("corrupt PNG data: {}", spng_message(rc)));
    }
    // libspng stops reading at the last scanline, before the CRC of the last IDAT. Read on to
    // IEND, as libpng's png_read_end does, so a damaged end of file is refused here too.
    if (const int rc = spng_decode_chunks(ctx.get()); rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("corrupt PNG data: {}", spng_message(rc)));
    }

    RgbImage img;
    img.width = static_cast<int>(ihdr.width);
    img.height = static_cast<int>(ihdr.height);
    img.stride = img.width * 3;
    const std::size_t n = static_cast<std::size_t>(img.width) * img.height;
    std::uint8_t* px = decoded.data();
    if (wide) {
        // In place: pixel i's 8 bytes are read before its 3 are written, at or below them.
        for (std::size_t i = 0; i < n; ++i) {
            std::uint16_t s[4];
            std::memcpy(s, px + i * 8, sizeof s);  // host order
            for (int c = 0; c < 3; ++c) px[i * 3 + c] = composite16(s[c], s[3]);
        }
    } else if (has_alpha) {
        // Composite over black: c' = c * a / 255, rounded, in place into the RGB layout.
        for (std::size_t i = 0; i < n; ++i) {
            const unsigned a = px[i * 4 + 3];
            for (int c = 0; c < 3; ++c)
                px[i * 3 + c] = static_cast<std::uint8_t>((px[i * 4 + c] * a + 127) / 255);
        }
    }
    decoded.resize(n * 3);
    img.storage = std::move(decoded);
    return img;
}

}  // namespace renderer::media

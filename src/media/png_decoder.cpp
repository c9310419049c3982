#include "media/png_decoder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>
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
                std::uint64_t max_pixels) {
    if (static_cast<std::uint64_t>(w) * h > max_pixels) {
        fail(cls, name,
             fmt::format("{}x{} exceeds MAX_FRAME_PIXELS ({}); resize the frames or raise the limit", w, h,
                         max_pixels));
    }
}

}  // namespace

PngHeader read_png_header(const std::filesystem::path& path, std::uint64_t max_pixels) {
    const auto name = path.filename().string();
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) fail(ErrorClass::PreflightError, name, fmt::format("cannot open: {}", std::strerror(errno)));
    // 8-byte signature + IHDR chunk (4 length + 4 type + 13 data + 4 CRC) = 33 bytes.
    std::array<std::uint8_t, 33> buf{};
    std::size_t got = 0;
    while (got < buf.size()) {
        const auto n = ::read(f.fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(ErrorClass::PreflightError, name, fmt::format("cannot read: {}", std::strerror(errno)));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < 8 || std::memcmp(buf.data(), "\x89PNG\r\n\x1a\n", 8) != 0) {
        fail(ErrorClass::PreflightError, name, "not a PNG file (bad signature)");
    }
    if (got < buf.size()) fail(ErrorClass::PreflightError, name, "truncated before the PNG header");

    SpngPtr ctx(spng_ctx_new(0));
    spng_set_png_buffer(ctx.get(), buf.data(), buf.size());
    // Reject large claims before anything is allocated for them.
    spng_set_image_limits(ctx.get(), 1u << 20, 1u << 20);
    spng_ihdr ihdr{};
    if (const int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
        fail(ErrorClass::PreflightError, name, fmt::format("invalid PNG header: {}", spng_strerror(rc)));
    }
    check_size(ErrorClass::PreflightError, name, ihdr.width, ihdr.height, max_pixels);
    return PngHeader{ihdr.width, ihdr.height, ihdr.color_type, ihdr.bit_depth, ihdr.interlace_method != 0};
}

RgbImage decode_png(std::span<const std::uint8_t> data, const std::string& name, std::uint64_t max_pixels) {
    SpngPtr ctx(spng_ctx_new(0));
    if (!ctx) fail(ErrorClass::DecodeError, name, "out of memory");
    // Frames are trusted for content, not for size: bound ancillary chunks too.
    spng_set_chunk_limits(ctx.get(), 1u << 20, 8u << 20);
    spng_set_image_limits(ctx.get(), 1u << 20, 1u << 20);
    spng_set_png_buffer(ctx.get(), data.data(), data.size());

    spng_ihdr ihdr{};
    if (const int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("invalid PNG: {}", spng_strerror(rc)));
    }
    check_size(ErrorClass::DecodeError, name, ihdr.width, ihdr.height, max_pixels);

    spng_trns trns{};
    const bool has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                           ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ||
                           spng_get_trns(ctx.get(), &trns) == 0;
    const int fmt = has_alpha ? SPNG_FMT_RGBA8 : SPNG_FMT_RGB8;
    std::size_t out_size = 0;
    if (const int rc = spng_decoded_image_size(ctx.get(), fmt, &out_size); rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("cannot decode: {}", spng_strerror(rc)));
    }
    std::vector<std::uint8_t> decoded(out_size);
    if (const int rc = spng_decode_image(ctx.get(), decoded.data(), decoded.size(), fmt,
                                         has_alpha ? SPNG_DECODE_TRNS : 0);
        rc != 0) {
        fail(ErrorClass::DecodeError, name, fmt::format("corrupt PNG data: {}", spng_strerror(rc)));
    }

    RgbImage img;
    img.width = static_cast<int>(ihdr.width);
    img.height = static_cast<int>(ihdr.height);
    if (!has_alpha) {
        img.pixels = std::move(decoded);
        return img;
    }
    // Composite over black: c' = c * a / 255, rounded, in place into the RGB layout.
    const std::size_t n = static_cast<std::size_t>(img.width) * img.height;
    std::uint8_t* px = decoded.data();
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned a = px[i * 4 + 3];
        for (int c = 0; c < 3; ++c) px[i * 3 + c] = static_cast<std::uint8_t>((px[i * 4 + c] * a + 127) / 255);
    }
    decoded.resize(n * 3);
    img.pixels = std::move(decoded);
    return img;
}

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
    const auto name = path.filename().string();
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) fail(ErrorClass::DecodeError, name, fmt::format("cannot open: {}", std::strerror(errno)));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) fail(ErrorClass::DecodeError, name, std::strerror(errno));
    std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        const auto n = ::read(f.fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(ErrorClass::DecodeError, name, fmt::format("cannot read: {}", std::strerror(errno)));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

}  // namespace renderer::media

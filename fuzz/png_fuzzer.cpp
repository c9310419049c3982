// The PNG frame loader: header probing (read_png_header, through a memfd so the path-based API
// reads the input), the libdeflate fast path, libspng, and decode_png that picks between them.
// Differential check: both decoders give an image the same verdict, and when they accept it,
// identical pixels.
//
// The first input byte is a flag: with bit 0 set, every chunk CRC is recomputed before decoding
// so mutations reach the chunk, zlib and filter code instead of stopping at the CRC check.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <libdeflate.h>

#include "common/error.h"
#include "fuzz/fuzz_targets.h"
#include "media/png_decoder.h"

namespace renderer::fuzz {
namespace {

// Bounds the decode buffers: 4 Mpixel is 16 MiB of RGBA, far below the RSS limit.
constexpr std::uint64_t kMaxPixels = 1u << 22;

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

void fix_crcs(std::vector<std::uint8_t>& png) {
    for (std::size_t pos = 8; pos + 12 <= png.size();) {
        const std::uint32_t len = be32(png.data() + pos);
        if (len > png.size() - pos - 12) break;
        const std::uint32_t crc = libdeflate_crc32(0, png.data() + pos + 4, len + 4);
        std::uint8_t* out = png.data() + pos + 8 + len;
        out[0] = static_cast<std::uint8_t>(crc >> 24);
        out[1] = static_cast<std::uint8_t>(crc >> 16);
        out[2] = static_cast<std::uint8_t>(crc >> 8);
        out[3] = static_cast<std::uint8_t>(crc);
        pos += 12 + len;
    }
}

template <typename Fn>
bool decode_error_or(Fn&& fn) {
    try {
        fn();
        return true;
    } catch (const Error& e) {
        require(e.error_class() == ErrorClass::DecodeError, "a decoder threw a non-DecodeError");
        return false;
    }
}

void header(const std::vector<std::uint8_t>& png) {
    const int fd = ::memfd_create("fuzz-png", MFD_CLOEXEC);
    if (fd < 0) return;
    if (::write(fd, png.data(), png.size()) == static_cast<ssize_t>(png.size())) {
        try {
            const auto h =
                media::read_png_header("/proc/self/fd/" + std::to_string(fd), kMaxPixels);
            require(h.width > 0 && h.height > 0, "a header of zero size was accepted");
            require(std::uint64_t{h.width} * h.height <= kMaxPixels,
                    "a header above MAX_FRAME_PIXELS was accepted");
        } catch (const Error& e) {
            require(e.error_class() == ErrorClass::PreflightError,
                    "read_png_header threw a non-PreflightError");
        }
    }
    ::close(fd);
}

void check_image(const media::RgbImage& img) {
    require(img.width > 0 && img.height > 0, "an empty image was decoded");
    require(std::uint64_t(img.width) * std::uint64_t(img.height) <= kMaxPixels,
            "an image above the pixel limit was decoded");
    require(img.stride >= img.width * 3, "stride shorter than a row");
    require(img.offset + std::size_t(img.stride) * (img.height - 1) + std::size_t(img.width) * 3 <=
                img.storage.size(),
            "image rows run past the buffer");
}

}  // namespace

int png(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::vector<std::uint8_t> input(data + 1, data + size);
    if (data[0] & 1) fix_crcs(input);
    header(input);

    std::optional<media::RgbImage> fast, slow;
    const bool fast_refused =
        !decode_error_or([&] { fast = media::decode_png_fast(input, "fuzz.png", kMaxPixels); });
    const bool slow_refused =
        !decode_error_or([&] { slow = media::decode_png_spng(input, "fuzz.png", kMaxPixels); });
    // A file's verdict must not depend on which path its colour type takes.
    require(!fast_refused || slow_refused, "the fast path refused a file libspng decodes");
    require(!fast || !slow_refused, "libspng refused a file the fast path decodes");
    decode_error_or([&] {
        const auto img = media::decode_png(input, "fuzz.png", kMaxPixels);
        check_image(img);
    });
    if (fast) check_image(*fast);
    if (slow) check_image(*slow);
    if (fast && slow) {
        require(fast->width == slow->width && fast->height == slow->height,
                "the two decoders disagree on the size");
        for (int y = 0; y < fast->height; ++y) {
            require(std::memcmp(fast->data() + std::size_t(y) * fast->stride,
                                slow->data() + std::size_t(y) * slow->stride,
                                std::size_t(fast->width) * 3) == 0,
                    "the two decoders disagree on the pixels");
        }
    }
    return 0;
}

}  // namespace renderer::fuzz

RENDERER_FUZZ_ENTRY(renderer::fuzz::png)

#include "support/bad_media.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <libdeflate.h>

namespace renderer::testing {
namespace {

void put_be32(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

void put_le(std::string& out, std::uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>(v >> (8 * i));
}

std::uint32_t get_be32(const std::string& s, std::size_t at) {
    return (std::uint32_t{static_cast<unsigned char>(s[at])} << 24) |
           (std::uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
           (std::uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) |
           std::uint32_t{static_cast<unsigned char>(s[at + 3])};
}

std::uint32_t crc_of(const std::string& s, std::size_t at, std::size_t len) {
    return libdeflate_crc32(0, s.data() + at, len);
}

// ID3v2 sizes in the tag header are "syncsafe": 7 bits per byte.
void put_syncsafe(std::string& out, std::uint32_t v) {
    for (int shift = 21; shift >= 0; shift -= 7) out += static_cast<char>((v >> shift) & 0x7f);
}

std::string id3_frame(const std::string& id, const std::string& body) {
    std::string f = id;
    put_be32(f, static_cast<std::uint32_t>(body.size()));  // v2.3 frame sizes are plain
    f += std::string(2, '\0');                             // flags
    return f + body;
}

}  // namespace

std::string png_chunk(const std::string& type, const std::string& data) {
    std::string out;
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    out += type + data;
    put_be32(out, crc_of(out, 4, 4 + data.size()));
    return out;
}

std::string png_header_only(std::uint32_t w, std::uint32_t h) {
    std::string ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, filter 0, no interlace
    return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) +
           png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
           png_chunk("IEND", "");
}

PngChunkPos find_png_chunk(const std::string& png, const std::string& type) {
    for (std::size_t pos = 8; pos + 12 <= png.size();) {
        const std::uint32_t len = get_be32(png, pos);
        if (png.compare(pos + 4, 4, type) == 0) return {pos, len};
        pos += 12 + len;
    }
    throw std::runtime_error("no " + type + " chunk");
}

void fix_png_crc(std::string& png, const PngChunkPos& pos) {
    std::string crc;
    put_be32(crc, crc_of(png, pos.offset + 4, 4 + pos.length));
    png.replace(pos.offset + 8 + pos.length, 4, crc);
}

std::string id3_tag_only(bool with_picture) {
    std::string frames = id3_frame("TIT2", std::string("\0Cover only", 11));
    if (with_picture) {
        const std::string png = png_header_only(1, 1);
        std::string apic("\0image/png\0\x03\0", 13);  // latin-1, MIME, front cover, no description
        frames += id3_frame("APIC", apic + png);
    }
    std::string tag("ID3\x03\x00\x00", 6);
    put_syncsafe(tag, static_cast<std::uint32_t>(frames.size()));
    return tag + frames;
}

std::string wav_file(int channels, int rate, int frames) {
    const auto block = static_cast<std::uint32_t>(channels * 2);
    const std::uint32_t data_bytes = block * static_cast<std::uint32_t>(frames);
    std::string w = "RIFF";
    put_le(w, 36 + data_bytes, 4);
    w += "WAVEfmt ";
    put_le(w, 16, 4);
    put_le(w, 1, 2);  // PCM
    put_le(w, static_cast<std::uint32_t>(channels), 2);
    put_le(w, static_cast<std::uint32_t>(rate), 4);
    put_le(w, static_cast<std::uint32_t>(rate) * block, 4);
    put_le(w, block, 2);
    put_le(w, 16, 2);
    w += "data";
    put_le(w, data_bytes, 4);
    for (int i = 0; i < frames; ++i) {
        const auto v = static_cast<std::int16_t>(3000 * std::sin(i * 0.2));
        for (int c = 0; c < channels; ++c) put_le(w, static_cast<std::uint16_t>(v), 2);
    }
    return w;
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace renderer::testing

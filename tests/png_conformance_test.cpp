// PNG conformance: a corpus built byte by byte (tests/support/png_writer.h) covering every colour
// type x bit depth x interlace, tRNS, odd sizes, all five filters, IDAT splits, zlib levels,
// ancillary chunks and damaged files, decoded by each of our paths and by libpng. Where libpng
// accepts a file, every path must give libpng's pixels composited over black; where libpng
// refuses one, every path must refuse it too. Set PNG_CORPUS_DIR to write the files out.
#include <gtest/gtest.h>
#include <png.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include "common/error.h"
#include "media/png_decoder.h"
#include "support/fixtures.h"
#include "support/libpng_reference.h"
#include "support/png_writer.h"

namespace renderer::testing {
namespace {

using png::Chunk;
using png::EncodeOptions;
using png::Image;

struct Case {
    std::string klass;  // the corpus class, as listed in docs/RELIABILITY.md
    std::string name;
    std::vector<std::uint8_t> bytes;
    bool valid = true;  // as built; libpng must agree
    // A damaged file that libpng accepts from this version on (a PNG_LIBPNG_VER); every path
    // still refuses it (docs/DECISIONS.md, "Stricter than libpng"). 0: libpng refuses it always.
    int libpng_accepts_from = 0;
};

// libpng 1.6.47 (Debian 13 has 1.6.48) handles a bad CRC on IEND as on an ancillary chunk
// (warns, reads on), and a second PLTE in an image that is not colour-mapped as a benign error
// (drops it); 1.6.39 (Debian 12) refuses both.
constexpr int kLibpng1647 = 10647;

// What the libpng this test is built with makes of `c`: its verdict for a valid file, and for a
// damaged one unless that version is known to accept it. Any other answer is a change to look at.
bool libpng_accepts(const Case& c) {
    return c.valid || (c.libpng_accepts_from != 0 && PNG_LIBPNG_VER >= c.libpng_accepts_from);
}

struct Type {
    int color_type;
    int bit_depth;
};

// Every colour type with every bit depth the PNG spec allows for it (table 11.1).
const std::vector<Type>& all_types() {
    static const std::vector<Type> types = {
        {png::Gray, 1},       {png::Gray, 2},    {png::Gray, 4},    {png::Gray, 8},
        {png::Gray, 16},      {png::Rgb, 8},     {png::Rgb, 16},    {png::Palette, 1},
        {png::Palette, 2},    {png::Palette, 4}, {png::Palette, 8}, {png::GrayAlpha, 8},
        {png::GrayAlpha, 16}, {png::Rgba, 8},    {png::Rgba, 16},
    };
    return types;
}

std::string type_name(Type t) {
    static const std::map<int, std::string> names = {{png::Gray, "gray"},
                                                     {png::Rgb, "rgb"},
                                                     {png::Palette, "palette"},
                                                     {png::GrayAlpha, "gray_alpha"},
                                                     {png::Rgba, "rgba"}};
    return names.at(t.color_type) + std::to_string(t.bit_depth);
}

Image image_of(Type t, std::uint32_t w, std::uint32_t h, std::uint32_t seed) {
    return png::random_image(w, h, t.color_type, t.bit_depth, seed);
}

std::vector<std::uint8_t> encode(const Image& img, const EncodeOptions& o = {}) {
    return png::serialize(png::chunks(img, o));
}

// A tRNS chunk for `img`, and every third pixel set to the transparent key (gray and RGB) so
// keyed pixels are plentiful.
void add_trns(Image& img, std::uint32_t seed) {
    std::mt19937 rng(seed);
    const int ch = png::channels(img.color_type);
    if (img.color_type == png::Palette) {
        // Fewer entries than the palette: the rest stay opaque. 0 and 255 always among them.
        const std::size_t n = std::max<std::size_t>(2, img.palette.size() / 2 + 1);
        for (std::size_t i = 0; i < n; ++i) {
            img.trns.push_back(i == 0 ? 0 : i == 1 ? 255 : static_cast<std::uint8_t>(rng()));
        }
        return;
    }
    std::vector<std::uint16_t> key(img.samples.begin(), img.samples.begin() + ch);
    for (std::size_t p = 0; p * ch < img.samples.size(); p += 3) {
        std::copy(key.begin(), key.end(),
                  img.samples.begin() + static_cast<std::ptrdiff_t>(p * ch));
    }
    for (const auto k : key) png::put_u16(img.trns, k);
}

Chunk ancillary(const std::string& type, const Image& img) {
    Chunk c{.type = type};
    auto& d = c.data;
    if (type == "gAMA") {
        png::put_u32(d, 45455);
    } else if (type == "cHRM") {
        for (const std::uint32_t v :
             {31270u, 32900u, 64000u, 33000u, 30000u, 60000u, 15000u, 6000u})
            png::put_u32(d, v);
    } else if (type == "sBIT") {
        const int depth = img.color_type == png::Palette ? 8 : img.bit_depth;
        const int n = img.color_type == png::Palette ? 3 : png::channels(img.color_type);
        for (int i = 0; i < n; ++i)
            d.push_back(static_cast<std::uint8_t>(std::max(1, depth - 1 - i % 2)));
    } else if (type == "tEXt") {
        d = png::text_bytes(std::string("Title\0a frame", 13));
    } else if (type == "zTXt") {
        d = png::text_bytes(std::string("Comment\0\0", 9));
        const auto z = png::zlib_compress(png::text_bytes("rendered by a test, compressed"), 9);
        d.insert(d.end(), z.begin(), z.end());
    } else if (type == "iTXt") {
        d = png::text_bytes(std::string("Description\0\0\0en\0Beschreibung\0ein Bild", 38));
    } else if (type == "tIME") {
        png::put_u16(d, 2024);
        d.insert(d.end(), {5, 17, 12, 30, 0});
    } else if (type == "pHYs") {
        png::put_u32(d, 2835);
        png::put_u32(d, 2835);
        d.push_back(1);
    } else if (type == "eXIf") {
        // A big-endian TIFF header and an empty IFD.
        d = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0};
    } else if (type == "sPLT") {
        d = png::text_bytes(std::string("suggested\0", 10));
        d.push_back(8);
        for (int i = 0; i < 4; ++i) {
            d.insert(d.end(), {static_cast<std::uint8_t>(i * 60), 10, 200, 255});
            png::put_u16(d, static_cast<std::uint16_t>(100 - i));
        }
    } else if (type == "hIST") {
        for (std::size_t i = 0; i < img.palette.size(); ++i)
            png::put_u16(d, static_cast<std::uint16_t>(i * 3));
    } else if (type == "prVt") {
        d = png::text_bytes("a private ancillary chunk no decoder knows");
    }
    return c;
}

void insert_ancillary(std::vector<Chunk>& chunks, Chunk c) {
    // gAMA, cHRM and sBIT must come before PLTE; the others before the image data.
    if (c.type == "gAMA" || c.type == "cHRM" || c.type == "sBIT") {
        chunks.insert(chunks.begin() + 1, std::move(c));
    } else {
        png::insert_before(chunks, "IDAT", std::move(c));
    }
}

std::vector<Case> valid_cases() {
    std::vector<Case> out;
    std::uint32_t seed = 1;
    const auto add = [&](const std::string& klass, const std::string& name,
                         std::vector<std::uint8_t> bytes) {
        out.push_back(Case{.klass = klass, .name = name, .bytes = std::move(bytes)});
    };

    // Every colour type x bit depth x interlace. 13x11: rows end mid-byte below 8 bits, and
    // Adam7's passes have different, odd sizes.
    for (const auto t : all_types()) {
        for (const bool interlace : {false, true}) {
            add("type x depth x interlace", type_name(t) + (interlace ? "_adam7" : ""),
                encode(image_of(t, 13, 11, seed++), {.interlace = interlace}));
        }
    }

    // tRNS on gray (every depth), RGB and palette: keyed pixels composite to black.
    for (const auto t : all_types()) {
        if (t.color_type != png::Gray && t.color_type != png::Rgb && t.color_type != png::Palette)
            continue;
        for (const bool interlace : {false, true}) {
            Image img = image_of(t, 17, 9, seed++);
            add_trns(img, seed);
            add("tRNS", type_name(t) + "_trns" + (interlace ? "_adam7" : ""),
                encode(img, {.interlace = interlace}));
        }
    }

    // A damaged tRNS, then a good one: libpng drops the first (bad CRC) and keys with the
    // second. (libspng counted the dropped one and refused the second as a duplicate.)
    for (const auto t : {Type{png::Gray, 8}, Type{png::Rgb, 16}, Type{png::Palette, 4}}) {
        Image img = image_of(t, 17, 9, seed++);
        add_trns(img, seed);
        auto chunks = png::chunks(img, {});
        Chunk damaged = chunks[png::index_of(chunks, "tRNS")];
        damaged.data.back() ^= 0x55;
        damaged.bad_crc = true;
        png::insert_before(chunks, "tRNS", std::move(damaged));
        add("tRNS", type_name(t) + "_bad_crc_trns_then_good", png::serialize(chunks));
    }

    // A gray or RGB key with bits set above the bit depth: the PNG spec (11.3.2.1) has decoders
    // mask them off, and libpng does, so the keyed pixels are still transparent. (libspng
    // compares the unmasked gray key when it expands to RGBA, so no pixel matched.)
    for (const auto t : {Type{png::Gray, 1}, Type{png::Gray, 2}, Type{png::Gray, 4},
                         Type{png::Gray, 8}, Type{png::Rgb, 8}}) {
        Image img = image_of(t, 17, 9, seed++);
        add_trns(img, seed);
        for (std::size_t i = 0; i < img.trns.size(); i += 2) img.trns[i] |= 0x80;
        add("tRNS", type_name(t) + "_trns_high_bits", encode(img));
    }

    // Odd sizes: every width 1-40, heights 1-40 in another order, the types in turn.
    for (std::uint32_t w = 1; w <= 40; ++w) {
        const std::uint32_t h = (w * 7) % 40 + 1;
        const auto t = all_types()[w % all_types().size()];
        const bool interlace = w % 2 == 1;
        add("sizes 1-40",
            type_name(t) + "_" + std::to_string(w) + "x" + std::to_string(h) +
                (interlace ? "_adam7" : ""),
            encode(image_of(t, w, h, seed++), {.interlace = interlace}));
    }

    // Each filter on every row, and all five in turn, on types with 1, 3, 4, 6 and 8 bytes per
    // pixel (and a sub-byte one).
    const Type filter_types[] = {{png::Rgb, 8},     {png::Rgba, 8}, {png::Gray, 1},
                                 {png::Palette, 8}, {png::Rgb, 16}, {png::Rgba, 16}};
    for (const auto t : filter_types) {
        for (int filter = -1; filter <= 4; ++filter) {
            add("filter types",
                type_name(t) + "_filter" +
                    (filter < 0 ? std::string("_all") : std::to_string(filter)),
                encode(image_of(t, 37, 9, seed++), {.filter = filter}));
        }
    }

    // The zlib stream split over many IDATs, and empty IDATs inside the sequence (legal).
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Palette, 4}, Type{png::Rgba, 16}}) {
        for (const std::size_t size : {1u, 2u, 7u, 100u}) {
            add("multiple IDAT", type_name(t) + "_idat" + std::to_string(size),
                encode(image_of(t, 21, 15, seed++),
                       {.interlace = t.bit_depth == 16, .idat_size = size}));
        }
    }
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Gray, 8}}) {
        auto chunks = png::chunks(image_of(t, 21, 15, seed++), {.idat_size = 50});
        png::insert_before(chunks, "IDAT", Chunk{.type = "IDAT"});  // first of the sequence
        chunks.insert(
            chunks.begin() + static_cast<std::ptrdiff_t>(png::index_of(chunks, "IDAT", 2)),
            Chunk{.type = "IDAT"});
        add("multiple IDAT", type_name(t) + "_empty_idats_inside", png::serialize(chunks));
    }

    // zlib levels 0 (stored blocks) to 9.
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Gray, 8}, Type{png::Rgba, 16}}) {
        for (int level = 0; level <= 9; ++level) {
            add("zlib levels 0-9", type_name(t) + "_zlib" + std::to_string(level),
                encode(image_of(t, 31, 7, seed++), {.zlib_level = level}));
        }
    }

    // Ancillary chunks, on a fast-path type and a libspng type; then all of them at once, text
    // after the image data, a private chunk, and a damaged ancillary chunk (libpng warns and
    // drops it: so must we).
    const char* kAncillary[] = {"gAMA", "cHRM", "sBIT", "tEXt", "zTXt", "iTXt",
                                "tIME", "pHYs", "eXIf", "sPLT", "hIST", "prVt"};
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Palette, 8}}) {
        const Image img = image_of(t, 19, 13, seed++);
        std::vector<Chunk> all = png::chunks(img, {});
        for (const std::string type : kAncillary) {
            if (type == "hIST" && t.color_type != png::Palette) continue;  // hIST needs a palette
            auto chunks = png::chunks(img, {});
            insert_ancillary(chunks, ancillary(type, img));
            add("ancillary chunks", type_name(t) + "_" + type, png::serialize(chunks));
            insert_ancillary(all, ancillary(type, img));
        }
        add("ancillary chunks", type_name(t) + "_all", png::serialize(all));

        auto after = png::chunks(img, {});
        for (const char* type : {"tEXt", "zTXt", "iTXt", "tIME"})
            png::insert_before(after, "IEND", ancillary(type, img));
        add("ancillary chunks", type_name(t) + "_text_after_idat", png::serialize(after));

        for (const char* type : {"tEXt", "gAMA"}) {
            auto damaged = png::chunks(img, {});
            Chunk c = ancillary(type, img);
            c.bad_crc = true;
            insert_ancillary(damaged, std::move(c));
            add("ancillary chunks", type_name(t) + "_bad_crc_" + type, png::serialize(damaged));
        }
        auto trailing = encode(img);
        trailing.insert(trailing.end(), {'j', 'u', 'n', 'k'});
        add("ancillary chunks", type_name(t) + "_bytes_after_iend", trailing);
    }

    // Ancillary chunks a decoder has no use for, large or many: compressed text and an ICC
    // profile inflating to 2 MiB, 1001 text chunks, 9 MiB of text in three chunks. libpng
    // decodes the image (it stops caching at 1000 chunks and skips what exceeds its memory
    // limits, with a warning); a frame must not fail, whichever path its colour type takes.
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Palette, 8}, Type{png::Gray, 8}}) {
        const Image img = image_of(t, 19, 13, seed++);
        const std::vector<std::uint8_t> two_mib(2u << 20, 'a');
        const auto z = png::zlib_compress(two_mib, 9);
        const auto with = [&](Chunk c, bool before_plte = false) {
            auto chunks = png::chunks(img, {});
            if (before_plte) {
                chunks.insert(chunks.begin() + 1, std::move(c));
            } else {
                png::insert_before(chunks, "IDAT", std::move(c));
            }
            return chunks;
        };
        Chunk ztxt{.type = "zTXt", .data = png::text_bytes(std::string("Comment\0\0", 9))};
        ztxt.data.insert(ztxt.data.end(), z.begin(), z.end());
        add("large ancillary chunks", type_name(t) + "_ztxt_2mib", png::serialize(with(ztxt)));
        Chunk itxt{.type = "iTXt", .data = png::text_bytes(std::string("Comment\0\1\0en\0\0", 14))};
        itxt.data.insert(itxt.data.end(), z.begin(), z.end());
        add("large ancillary chunks", type_name(t) + "_itxt_2mib", png::serialize(with(itxt)));
        Chunk iccp{.type = "iCCP", .data = png::text_bytes(std::string("ICC profile\0\0", 13))};
        iccp.data.insert(iccp.data.end(), z.begin(), z.end());
        add("large ancillary chunks", type_name(t) + "_iccp_2mib",
            png::serialize(with(iccp, true)));

        auto many = png::chunks(img, {});
        for (int i = 0; i < 1001; ++i) {
            png::insert_before(
                many, "IDAT",
                Chunk{.type = "tEXt", .data = png::text_bytes(std::string("Title\0frame", 11))});
        }
        add("large ancillary chunks", type_name(t) + "_1001_text_chunks", png::serialize(many));
        auto big = png::chunks(img, {});
        for (int i = 0; i < 3; ++i) {
            Chunk text{.type = "tEXt", .data = png::text_bytes(std::string("Comment\0", 8))};
            text.data.resize(3u << 20, 'x');
            png::insert_before(big, "IDAT", std::move(text));
        }
        add("large ancillary chunks", type_name(t) + "_9mib_of_text", png::serialize(big));
    }
    return out;
}

std::vector<Case> corrupt_cases() {
    std::vector<Case> out;
    const auto add = [&](const std::string& klass, const std::string& name,
                         std::vector<std::uint8_t> bytes, int libpng_accepts_from = 0) {
        out.push_back(Case{.klass = klass,
                           .name = name,
                           .bytes = std::move(bytes),
                           .valid = false,
                           .libpng_accepts_from = libpng_accepts_from});
    };
    // Bases: a fast-path type, the 1-bit gray the issue found, palette (PLTE), 16-bit interlaced.
    // Each with three IDATs, so a first, middle and last one exist.
    struct Base {
        Type type;
        bool interlace;
    };
    const Base bases[] = {{{png::Rgb, 8}, false},
                          {{png::Gray, 1}, false},
                          {{png::Palette, 8}, false},
                          {{png::Rgba, 16}, true}};
    std::uint32_t seed = 1000;
    for (const auto& b : bases) {
        const Image img = image_of(b.type, 23, 17, seed++);
        const EncodeOptions whole{.interlace = b.interlace};
        const auto one_idat = png::chunks(img, whole);
        const auto stream_size = one_idat[png::index_of(one_idat, "IDAT")].data.size();
        const EncodeOptions o{.interlace = b.interlace, .idat_size = stream_size / 3 + 1};
        const auto good = png::chunks(img, o);
        const std::string base = type_name(b.type) + (b.interlace ? "_adam7" : "");

        // Bad CRC on each critical chunk.
        std::vector<std::pair<std::string, std::size_t>> targets = {{"IHDR", 0}};
        if (png::count_of(good, "PLTE") > 0)
            targets.emplace_back("PLTE", png::index_of(good, "PLTE"));
        const int idats = png::count_of(good, "IDAT");
        targets.emplace_back("first_IDAT", png::index_of(good, "IDAT", 0));
        targets.emplace_back("middle_IDAT", png::index_of(good, "IDAT", idats / 2));
        targets.emplace_back("last_IDAT", png::index_of(good, "IDAT", idats - 1));
        targets.emplace_back("IEND", png::index_of(good, "IEND"));
        for (const auto& [what, index] : targets) {
            auto chunks = good;
            chunks[index].bad_crc = true;
            add("bad CRC on a critical chunk", base + "_bad_crc_" + what, png::serialize(chunks),
                what == "IEND" ? kLibpng1647 : 0);
        }

        // Missing image data; an empty IDAT as the only one.
        auto none = good;
        std::erase_if(none, [](const Chunk& c) { return c.type == "IDAT"; });
        add("missing IDAT", base + "_no_idat", png::serialize(none));
        auto empty = none;
        png::insert_before(empty, "IEND", Chunk{.type = "IDAT"});
        add("zero-length IDAT", base + "_only_empty_idat", png::serialize(empty));

        // Bad zlib headers (chunk CRCs correct): wrong method, check bits, a preset dictionary,
        // a window over 32K.
        const auto with_header = [&](std::uint8_t cmf, std::uint8_t flg) {
            auto chunks = good;
            auto& first = chunks[png::index_of(chunks, "IDAT")].data;
            first[0] = cmf;
            first[1] = flg;
            return png::serialize(chunks);
        };
        const auto check = [](std::uint8_t cmf, std::uint8_t flg) {
            return static_cast<std::uint8_t>(flg + (31 - (cmf * 256 + flg) % 31) % 31);
        };
        add("bad zlib header", base + "_zlib_method_7", with_header(0x77, check(0x77, 0)));
        add("bad zlib header", base + "_zlib_fcheck",
            with_header(0x78, static_cast<std::uint8_t>(check(0x78, 0) ^ 1)));
        add("bad zlib header", base + "_zlib_fdict", with_header(0x78, check(0x78, 0x20)));
        add("bad zlib header", base + "_zlib_window_64k", with_header(0x88, check(0x88, 0)));

        // Damage inside the stream or the layout (CRCs correct).
        auto raw = png::scanlines(img, whole);
        auto bad_filter = raw;
        bad_filter[0] = 5;
        add("damaged image data", base + "_filter_type_5",
            png::serialize(png::chunks(img, whole, bad_filter)));
        add("damaged image data", base + "_too_little_data",
            png::serialize(png::chunks(
                img, whole,
                {raw.begin(), raw.end() - static_cast<std::ptrdiff_t>(raw.size() / 4)})));
        auto truncated = png::chunks(img, whole);
        auto& stream = truncated[png::index_of(truncated, "IDAT")].data;
        stream.resize(stream.size() / 2);
        add("damaged image data", base + "_truncated_zlib", png::serialize(truncated));
        auto adler = png::chunks(img, whole);
        adler[png::index_of(adler, "IDAT")].data.back() ^= 1;
        add("damaged image data", base + "_bad_adler32", png::serialize(adler));
        // More data than the image needs, and the stream cut before its end: libpng reads on
        // through the excess (warning) and refuses the file when the stream does not end.
        {
            auto more = png::scanlines(img, whole);
            more.insert(more.end(), 64, 0);
            auto chunks = png::chunks(img, whole, more);
            auto& data = chunks[png::index_of(chunks, "IDAT")].data;
            data.resize(data.size() - 4);
            add("damaged image data", base + "_too_much_data_zlib_end_cut", png::serialize(chunks));
        }
        // Every scanline there, the stream's end (Adler-32) cut off: libpng reads on for it and
        // refuses the file ("Not enough image data"); libspng stopped at the last scanline.
        for (const std::size_t cut : {1u, 4u}) {
            auto no_end = png::chunks(img, whole);
            auto& data = no_end[png::index_of(no_end, "IDAT")].data;
            data.resize(data.size() - cut);
            add("damaged image data", base + "_zlib_end_cut_" + std::to_string(cut),
                png::serialize(no_end));
        }

        auto split = good;
        split.insert(split.begin() + static_cast<std::ptrdiff_t>(png::index_of(split, "IDAT", 1)),
                     ancillary("tEXt", img));
        add("chunk layout", base + "_idat_split_by_text", png::serialize(split));
        auto unknown = good;
        png::insert_before(unknown, "IDAT",
                           Chunk{.type = "CRIT", .data = png::text_bytes("unknown critical")});
        add("chunk layout", base + "_unknown_critical_chunk", png::serialize(unknown));
        auto bad_name = good;
        png::insert_before(bad_name, "IDAT",
                           Chunk{.type = "tE?t", .data = png::text_bytes("not a letter")});
        add("chunk layout", base + "_invalid_chunk_type", png::serialize(bad_name));
        auto no_iend = good;
        no_iend.pop_back();
        add("chunk layout", base + "_no_iend", png::serialize(no_iend));
        auto two_ihdr = good;
        two_ihdr.insert(two_ihdr.begin() + 1, good[0]);
        add("chunk layout", base + "_second_ihdr", png::serialize(two_ihdr));
        // A second PLTE (libpng: "duplicate"); a suggested palette twice in a truecolour image,
        // which libpng 1.6.47 drops with a warning.
        if (b.type.color_type != png::Gray) {
            auto two_plte = good;
            Chunk plte{.type = "PLTE"};
            for (int i = 0; i < 12; ++i) plte.data.push_back(static_cast<std::uint8_t>(i * 20));
            if (png::count_of(two_plte, "PLTE") == 0) png::insert_before(two_plte, "IDAT", plte);
            png::insert_before(two_plte, "IDAT", plte);
            add("chunk layout", base + "_second_plte", png::serialize(two_plte),
                b.type.color_type == png::Palette ? 0 : kLibpng1647);
        }
        // Cut inside IEND's CRC: libpng reads past the end of the file and refuses it.
        for (const std::size_t cut : {1u, 4u}) {
            auto short_iend = png::serialize(good);
            short_iend.resize(short_iend.size() - cut);
            add("chunk layout", base + "_iend_cut_" + std::to_string(cut), short_iend);
        }
    }
    // Signature damage, on the fast-path type and a libspng one.
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Gray, 1}}) {
        const auto good = encode(image_of(t, 8, 8, seed++));
        for (const int at : {0, 1, 4, 7}) {
            auto b = good;
            b[static_cast<std::size_t>(at)] ^= 0x20;
            add("bad signature", type_name(t) + "_signature_byte" + std::to_string(at), b);
        }
    }
    // A palette image without its PLTE.
    auto no_plte = png::chunks(image_of({png::Palette, 4}, 9, 9, seed++), {});
    no_plte.erase(no_plte.begin() + static_cast<std::ptrdiff_t>(png::index_of(no_plte, "PLTE")));
    add("chunk layout", "palette4_no_plte", png::serialize(no_plte));
    return out;
}

const std::vector<Case>& corpus() {
    static const std::vector<Case> all = [] {
        auto v = valid_cases();
        auto c = corrupt_cases();
        v.insert(v.end(), c.begin(), c.end());
        if (const char* dir = std::getenv("PNG_CORPUS_DIR")) {
            fs::create_directories(dir);
            for (const auto& k : v) {
                std::ofstream(fs::path(dir) / (k.name + ".png"), std::ios::binary)
                    .write(reinterpret_cast<const char*>(k.bytes.data()),
                           static_cast<std::streamsize>(k.bytes.size()));
            }
        }
        return v;
    }();
    return all;
}

std::vector<std::uint8_t> packed_rgb(const media::RgbImage& img) {
    std::vector<std::uint8_t> out;
    for (int y = 0; y < img.height; ++y) {
        const auto* row = img.data() + static_cast<std::ptrdiff_t>(y) * img.stride;
        out.insert(out.end(), row, row + img.width * 3);
    }
    return out;
}

// Where the first differing sample is, for a readable failure.
std::string first_difference(const std::vector<std::uint8_t>& got,
                             const std::vector<std::uint8_t>& want, std::uint32_t width) {
    if (got.size() != want.size())
        return "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] != want[i]) {
            const auto px = i / 3;
            return "pixel (" + std::to_string(px % width) + "," + std::to_string(px / width) +
                   ") channel " + std::to_string(i % 3) + ": " + std::to_string(got[i]) +
                   ", libpng " + std::to_string(want[i]);
        }
    }
    return "";
}

constexpr std::uint64_t kMaxPixels = 1 << 20;

TEST(PngConformance, LibpngAgreesWithHowEachCaseWasBuilt) {
    // The verdicts below are those of the libpng the header names.
    ASSERT_EQ(png_access_version_number(), static_cast<png_uint_32>(PNG_LIBPNG_VER))
        << "built against libpng " << PNG_LIBPNG_VER_STRING << ", running another";
    // The reference first: a case built valid that libpng refuses (or the reverse) is a bug in
    // the generator, and would make the other tests prove nothing.
    for (const auto& c : corpus()) {
        const auto ref = libpng_decode(c.bytes);
        EXPECT_EQ(ref.ok, libpng_accepts(c))
            << c.name << ": libpng " << PNG_LIBPNG_VER_STRING << " "
            << (ref.ok ? "accepts it" : "refuses it: " + ref.error);
    }
}

TEST(PngConformance, EveryPathDecodesValidFilesToLibpngsPixels) {
    int fast = 0;
    for (const auto& c : corpus()) {
        if (!c.valid) continue;
        SCOPED_TRACE(c.name);
        const auto ref = libpng_decode(c.bytes);
        ASSERT_TRUE(ref.ok) << ref.error;
        const auto want = composite_over_black(ref);
        const auto check = [&](const char* path, const media::RgbImage& img) {
            EXPECT_EQ(img.width, static_cast<int>(ref.width)) << path;
            EXPECT_EQ(img.height, static_cast<int>(ref.height)) << path;
            const auto diff = first_difference(packed_rgb(img), want, ref.width);
            EXPECT_EQ(diff, "") << path;
        };
        try {
            check("decode_png", media::decode_png(c.bytes, c.name, kMaxPixels));
            check("libspng path", media::decode_png_spng(c.bytes, c.name, kMaxPixels));
            if (const auto f = media::decode_png_fast(c.bytes, c.name, kMaxPixels)) {
                ++fast;
                check("fast path", *f);
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << "refused a file libpng decodes: " << e.what();
        }
    }
    std::printf("  %d valid files took the fast path\n", fast);
    EXPECT_GE(fast, 40) << "the fast path must be among the paths tested";
}

TEST(PngConformance, EveryPathRefusesWhatLibpngRefuses) {
    for (const auto& c : corpus()) {
        if (c.valid) continue;
        SCOPED_TRACE(c.name);
        // A damaged file a newer libpng accepts is still refused by every path.
        ASSERT_EQ(libpng_decode(c.bytes).ok, libpng_accepts(c));
        const auto refuses = [&](const char* path, auto&& decode) {
            try {
                decode();
                ADD_FAILURE() << path << " accepted a file libpng refuses";
            } catch (const Error& e) {
                EXPECT_EQ(e.error_class(), ErrorClass::DecodeError) << path << ": " << e.what();
                EXPECT_NE(std::string(e.what()).find(c.name), std::string::npos)
                    << path << " names the frame";
                // libspng's "non-recoverable state" is what it answers after an earlier error
                // was dropped; the message must carry that first error instead.
                EXPECT_EQ(std::string(e.what()).find("non-recoverable"), std::string::npos)
                    << path << " hides the fault: " << e.what();
            }
        };
        refuses("decode_png", [&] { media::decode_png(c.bytes, c.name, kMaxPixels); });
        refuses("libspng path", [&] { media::decode_png_spng(c.bytes, c.name, kMaxPixels); });
        // The fast path may hand a file it does not handle to libspng (nullopt); it must never
        // return pixels for it.
        try {
            EXPECT_FALSE(media::decode_png_fast(c.bytes, c.name, kMaxPixels).has_value())
                << "fast path accepted it";
        } catch (const Error& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::DecodeError) << e.what();
        }
    }
}

TEST(PngConformance, CorpusCoversEveryClass) {
    std::map<std::string, std::pair<int, int>> counts;  // class -> valid, corrupt
    for (const auto& c : corpus()) (c.valid ? counts[c.klass].first : counts[c.klass].second)++;
    for (const auto& [klass, n] : counts) {
        std::printf("  %-28s %3d valid %3d corrupt\n", klass.c_str(), n.first, n.second);
    }
    std::printf("  %zu files\n", corpus().size());
    for (const char* klass :
         {"type x depth x interlace", "tRNS", "sizes 1-40", "filter types", "multiple IDAT",
          "zlib levels 0-9", "ancillary chunks", "bad signature", "bad CRC on a critical chunk",
          "missing IDAT", "zero-length IDAT", "bad zlib header", "damaged image data",
          "chunk layout", "large ancillary chunks"}) {
        EXPECT_GT(counts[klass].first + counts[klass].second, 0) << klass;
    }
    EXPECT_EQ(counts["type x depth x interlace"].first, 30);
}

TEST(PngConformance, WhereLibpngOnlyWarnsEveryPathGivesItsPixelsOrRefuses) {
    // Files libpng decodes with a warning, or silently past a layout error. We may be stricter
    // (refuse with DecodeError) but never looser, never show other pixels than libpng's, and
    // our two paths agree. The table printed is each path's verdict, listed in DECISIONS.md.
    for (const auto t : {Type{png::Rgb, 8}, Type{png::Gray, 8}}) {
        const Image img = image_of(t, 16, 8, 77);
        std::vector<std::pair<std::string, std::vector<std::uint8_t>>> cases;
        auto more = png::scanlines(img, {});
        more.insert(more.end(), 40, 0);
        cases.emplace_back("too much image data", png::serialize(png::chunks(img, {}, more)));
        auto junk = png::chunks(img, {});
        auto& stream = junk[png::index_of(junk, "IDAT")].data;
        stream.insert(stream.end(), {9, 9, 9, 9});
        cases.emplace_back("bytes after the zlib stream", png::serialize(junk));
        auto late = png::chunks(img, {});
        png::insert_before(late, "IEND", ancillary("tEXt", img));
        png::insert_before(late, "IEND",
                           Chunk{.type = "IDAT", .data = png::zlib_compress({1, 2, 3}, 6)});
        cases.emplace_back("IDAT after the stream ended", png::serialize(late));
        auto empty_late = png::chunks(img, {});
        png::insert_before(empty_late, "IEND", ancillary("tEXt", img));
        png::insert_before(empty_late, "IEND", Chunk{.type = "IDAT"});
        cases.emplace_back("empty IDAT after the stream ended", png::serialize(empty_late));
        auto iend = png::chunks(img, {});
        iend.back().data = {1, 2, 3, 4};
        cases.emplace_back("IEND with data", png::serialize(iend));
        // The Adler-32 alone in a last IDAT, damaged: libpng warns ("incorrect data check").
        auto adler = png::chunks(img, {});
        auto& whole_stream = adler[png::index_of(adler, "IDAT")].data;
        Chunk last{.type = "IDAT", .data = {whole_stream.end() - 4, whole_stream.end()}};
        whole_stream.resize(whole_stream.size() - 4);
        last.data.back() ^= 1;
        png::insert_after_last(adler, "IDAT", std::move(last));
        cases.emplace_back("bad Adler-32 in its own IDAT", png::serialize(adler));
        // A malformed or misplaced suggested palette: libpng ignores it with a warning,
        // libspng refuses the file (PLTE is critical).
        Chunk plte{.type = "PLTE", .data = {1, 2, 3, 4, 5, 6, 7}};
        auto odd_plte = png::chunks(img, {});
        png::insert_before(odd_plte, "IDAT", plte);
        cases.emplace_back("PLTE length not a multiple of 3", png::serialize(odd_plte));
        if (t.color_type == png::Rgb) {
            plte.data.pop_back();
            auto late_plte = png::chunks(img, {});
            Chunk trns{.type = "tRNS"};
            for (int i = 0; i < 3; ++i) png::put_u16(trns.data, 7);
            png::insert_before(late_plte, "IDAT", std::move(trns));
            png::insert_before(late_plte, "IDAT", plte);
            cases.emplace_back("PLTE after tRNS", png::serialize(late_plte));
        }

        for (const auto& [what, bytes] : cases) {
            SCOPED_TRACE(type_name(t) + ": " + what);
            const auto ref = libpng_decode(bytes);
            ASSERT_TRUE(ref.ok) << ref.error;
            const auto want = composite_over_black(ref);
            const auto verdict = [&](auto&& decode) -> std::string {
                try {
                    const media::RgbImage img8 = decode();
                    EXPECT_EQ(first_difference(packed_rgb(img8), want, ref.width), "");
                    return "decodes";
                } catch (const Error& e) {
                    EXPECT_EQ(e.error_class(), ErrorClass::DecodeError) << e.what();
                    return "refuses";
                }
            };
            const auto ours =
                verdict([&] { return media::decode_png(bytes, "f.png", kMaxPixels); });
            const auto spng =
                verdict([&] { return media::decode_png_spng(bytes, "f.png", kMaxPixels); });
            std::printf("  %-7s %-34s libpng decodes%s; decode_png %s, libspng path %s\n",
                        type_name(t).c_str(), what.c_str(), ref.warnings.empty() ? "" : " (warns)",
                        ours.c_str(), spng.c_str());
            // Whichever path a frame's colour type takes, the verdict is the same.
            EXPECT_EQ(ours, spng) << "the fast path and the libspng path disagree";
        }
    }
}

}  // namespace
}  // namespace renderer::testing

#include "support/mp4_boxes.h"

#include <stdexcept>

namespace renderer::testing {
namespace {

std::uint64_t be(const std::string& s, std::uint64_t at, int bytes) {
    if (at + static_cast<std::uint64_t>(bytes) > s.size())
        throw std::runtime_error("mp4: read past the end");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::uint64_t>(i)]);
    return v;
}

// Children of the box whose payload is [from, to).
std::vector<Mp4Box> boxes_in(const std::string& s, std::uint64_t from, std::uint64_t to) {
    std::vector<Mp4Box> out;
    for (std::uint64_t at = from; at + 8 <= to;) {
        Mp4Box b{s.substr(at + 4, 4), at, be(s, at, 4)};
        if (b.size == 1) b.size = be(s, at + 8, 8);
        if (b.size == 0) b.size = to - at;  // runs to the end
        if (b.size < 8) throw std::runtime_error("mp4: box smaller than its header");
        out.push_back(b);
        at += b.size;
    }
    return out;
}

const Mp4Box* find(const std::vector<Mp4Box>& boxes, const std::string& type) {
    for (const auto& b : boxes) {
        if (b.type == type) return &b;
    }
    return nullptr;
}

std::vector<Mp4Box> children(const std::string& s, const Mp4Box& b) {
    return boxes_in(s, b.offset + 8, b.offset + b.size);
}

// mdia/minf/stbl's stts, ctts and stss (full boxes: version, flags, entry count, entries).
void read_sample_tables(const std::string& s, const std::vector<Mp4Box>& in_mdia, Mp4Track& t) {
    const Mp4Box* minf = find(in_mdia, "minf");
    if (minf == nullptr) return;
    const auto in_minf = children(s, *minf);
    const Mp4Box* stbl = find(in_minf, "stbl");
    if (stbl == nullptr) return;
    const auto in_stbl = children(s, *stbl);
    if (const Mp4Box* stts = find(in_stbl, "stts")) {
        const std::uint64_t p = stts->offset + 8;
        const std::uint64_t n = be(s, p + 4, 4);
        for (std::uint64_t i = 0; i < n; ++i) {
            t.stts.emplace_back(static_cast<std::uint32_t>(be(s, p + 8 + i * 8, 4)),
                                static_cast<std::uint32_t>(be(s, p + 12 + i * 8, 4)));
        }
    }
    if (const Mp4Box* ctts = find(in_stbl, "ctts")) {
        const std::uint64_t p = ctts->offset + 8;
        const bool v1 = be(s, p, 1) == 1;
        const std::uint64_t n = be(s, p + 4, 4);
        for (std::uint64_t i = 0; i < n; ++i) {
            const auto raw = static_cast<std::uint32_t>(be(s, p + 12 + i * 8, 4));
            t.ctts.emplace_back(
                static_cast<std::uint32_t>(be(s, p + 8 + i * 8, 4)),
                v1 ? std::int64_t{static_cast<std::int32_t>(raw)} : std::int64_t{raw});
        }
    }
    if (const Mp4Box* stss = find(in_stbl, "stss")) {
        t.has_stss = true;
        const std::uint64_t p = stss->offset + 8;
        const std::uint64_t n = be(s, p + 4, 4);
        for (std::uint64_t i = 0; i < n; ++i)
            t.stss.push_back(static_cast<std::uint32_t>(be(s, p + 8 + i * 4, 4)));
    }
}

}  // namespace

std::vector<Mp4Box> top_level_boxes(const std::string& file) {
    return boxes_in(file, 0, file.size());
}

const Mp4Track* Mp4Movie::track(const std::string& handler) const {
    for (const auto& t : tracks) {
        if (t.handler == handler) return &t;
    }
    return nullptr;
}

Mp4Movie read_movie(const std::string& s) {
    const auto top = top_level_boxes(s);
    const Mp4Box* moov = find(top, "moov");
    if (moov == nullptr) throw std::runtime_error("mp4: no moov box");
    Mp4Movie m;
    const auto in_moov = children(s, *moov);
    if (const Mp4Box* mvhd = find(in_moov, "mvhd")) {
        const std::uint64_t p = mvhd->offset + 8;
        const bool v1 = be(s, p, 1) == 1;
        m.timescale = static_cast<std::uint32_t>(be(s, p + (v1 ? 20 : 12), 4));
        m.duration = be(s, p + (v1 ? 24 : 16), v1 ? 8 : 4);
    }
    for (const auto& trak : in_moov) {
        if (trak.type != "trak") continue;
        Mp4Track t;
        const auto in_trak = children(s, trak);
        if (const Mp4Box* edts = find(in_trak, "edts")) {
            // find() points into the list: the list must outlive the pointer.
            const auto in_edts = children(s, *edts);
            if (const Mp4Box* elst = find(in_edts, "elst")) {
                const std::uint64_t p = elst->offset + 8;
                const bool v1 = be(s, p, 1) == 1;
                const std::uint64_t n = be(s, p + 4, 4);
                std::uint64_t e = p + 8;
                for (std::uint64_t i = 0; i < n; ++i) {
                    Mp4Edit edit;
                    edit.segment_duration = be(s, e, v1 ? 8 : 4);
                    const std::uint64_t mt = be(s, e + (v1 ? 8 : 4), v1 ? 8 : 4);
                    edit.media_time =
                        v1 ? static_cast<std::int64_t>(mt) : static_cast<std::int32_t>(mt);
                    t.edits.push_back(edit);
                    e += v1 ? 20 : 12;
                }
            }
        }
        if (const Mp4Box* mdia = find(in_trak, "mdia")) {
            const auto in_mdia = children(s, *mdia);
            if (const Mp4Box* mdhd = find(in_mdia, "mdhd")) {
                const std::uint64_t p = mdhd->offset + 8;
                const bool v1 = be(s, p, 1) == 1;
                t.media_timescale = static_cast<std::uint32_t>(be(s, p + (v1 ? 20 : 12), 4));
                t.media_duration = be(s, p + (v1 ? 24 : 16), v1 ? 8 : 4);
            }
            if (const Mp4Box* hdlr = find(in_mdia, "hdlr"))
                t.handler = s.substr(hdlr->offset + 16, 4);
            read_sample_tables(s, in_mdia, t);
        }
        m.tracks.push_back(t);
    }
    return m;
}

}  // namespace renderer::testing

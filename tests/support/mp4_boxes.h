// An independent reader of the MP4 boxes the tests check exactly, so they do not trust the code
// under test (or libavformat's rounding): the top-level box list, the movie header, and each
// track's handler, media timescale and edit list.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace renderer::testing {

struct Mp4Box {
    std::string type;
    std::uint64_t offset = 0;  // of the size field
    std::uint64_t size = 0;    // whole box, header included
};

// The boxes at the top level of `file`, in order; a box that claims to run past the end of the
// bytes is listed with its claimed size.
std::vector<Mp4Box> top_level_boxes(const std::string& file);

struct Mp4Edit {
    std::uint64_t segment_duration = 0;  // in the movie timescale
    std::int64_t media_time = 0;         // in the track's media timescale
};

struct Mp4Track {
    std::string handler;  // "vide", "soun"
    std::uint32_t media_timescale = 0;
    std::uint64_t media_duration = 0;
    std::vector<Mp4Edit> edits;
    // The sample tables, run-length encoded as stored: stts (count, decode-time delta), ctts
    // (count, composition offset; version 1 offsets are signed), stss (1-based sync samples).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> stts;
    std::vector<std::pair<std::uint32_t, std::int64_t>> ctts;
    std::vector<std::uint32_t> stss;
    bool has_stss = false;  // no stss box: every sample is a sync sample
};

struct Mp4Movie {
    std::uint32_t timescale = 0;
    std::uint64_t duration = 0;  // in `timescale`
    std::vector<Mp4Track> tracks;
    const Mp4Track* track(const std::string& handler) const;
};

// Throws std::runtime_error when the file has no readable moov box.
Mp4Movie read_movie(const std::string& file);

}  // namespace renderer::testing

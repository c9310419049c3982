// The MP4 muxer: streams from encoder contexts, +faststart, bit-exact (no creation_time, no
// library version tags), packets interleaved by timestamp, trailer checked.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "media/av_ptr.h"
#include "media/libav_log.h"

namespace renderer::media {

class Mp4Writer {
  public:
    Mp4Writer(const std::filesystem::path& path, LibavLogCapture& log);
    Mp4Writer(const Mp4Writer&) = delete;
    Mp4Writer(Mp4Writer&&) = delete;
    Mp4Writer& operator=(const Mp4Writer&) = delete;

    // MP4 keeps codec headers in the container: encoders must be opened with GLOBAL_HEADER.
    bool needs_global_header() const;

    // Adds a stream carrying `encoder`'s output; call before write_header().
    AVStream* add_stream(const AVCodecContext* encoder);
    void set_metadata(const std::string& key, const std::string& value);

    // `timescale` is the movie's and every video track's: choose one in which every duration the
    // file states is a whole number (the frame rate and the audio rate both divide it), so the
    // edit lists hold the exact cut instead of the muxer's default 1000 units a second.
    void write_header(int timescale);
    // Packets of `stream` end at `end` (in `time_base`) at the latest: the last frame of a video
    // cut by shorter music is shown only until the music ends. And the track's sample durations
    // reach `end`: the last packet, held back until seal_payload(), lasts until the decode
    // timeline covers the media. Call after write_header().
    void set_stream_end(const AVStream* stream, std::int64_t end, AVRational time_base);
    // Rescales `packet` from `encoder_time_base` to the stream's and hands it to the interleaver.
    void write(AVPacket* packet, AVStream* stream, AVRational encoder_time_base);
    // Flushes the interleaver and stores a hash of the mdat payload (every packet as stored) as
    // the metadata `tag`, which the trailer writes into the moov: whoever reads the file can
    // prove its packets are these. Call after the last packet, before finish().
    void seal_payload(const char* tag);
    // Flushes the interleaver, writes the trailer (moving the moov atom up front) and closes.
    void finish();

  private:
    void cut_at_end(AVPacket* packet) const;
    void interleave(AVPacket* packet);
    void write_last_packets();

    std::filesystem::path path_;
    OutputFormatPtr ctx_;
    LibavLogRoute route_;
    std::vector<std::int64_t> stream_end_;  // per stream index, in the stream's time base; -1: none
    // Per stream index, for streams with an end, in the stream's time base.
    struct Track {
        std::int64_t first_dts = AV_NOPTS_VALUE;  // the first packet's
        std::int64_t first_pts = AV_NOPTS_VALUE;  // the earliest so far
        std::int64_t shown_until = 0;             // the latest pts + duration so far
        PacketPtr held;                           // the latest packet, not yet interleaved
    };
    std::vector<Track> tracks_;
    bool header_written_ = false;
    std::int64_t payload_start_ = -1;  // where the header left the mdat payload to begin
};

}  // namespace renderer::media

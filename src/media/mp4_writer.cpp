#include "media/mp4_writer.h"

#include <algorithm>

#include <fmt/format.h>

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/error.h>
}

#include "media/av_error.h"
#include "media/libav_log.h"
#include "media/render_key.h"

namespace renderer::media {
namespace {

// A full disk, a failing device, an output dir removed mid-render (the faststart pass reopens
// the file by path: ENOENT) are the filesystem's fault, not the encoder's: IoError is transient,
// so the worker retries it. That is any error the AVIOContext recorded, and any errno the I/O
// layer returned (is_io_error); libavformat's own codes stay EncodeError.
ErrorClass write_error_class(int rc, const AVIOContext* pb) {
    if (pb != nullptr && pb->error < 0) return ErrorClass::IoError;
    return is_io_error(rc) ? ErrorClass::IoError : ErrorClass::EncodeError;
}

}  // namespace

Mp4Writer::Mp4Writer(const std::filesystem::path& path, LibavLogCapture& log) : path_(path) {
    AVFormatContext* raw = nullptr;
    av_check(avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str()),
             ErrorClass::EncodeError, "cannot create the MP4 muxer");
    ctx_.reset(raw);
    route_ = LibavLogRoute(log, ctx_.get());
    // Bit-exact output: identical inputs and settings give identical bytes.
    ctx_->flags |= AVFMT_FLAG_BITEXACT;
    const int rc = avio_open(&ctx_->pb, path.c_str(), AVIO_FLAG_WRITE);
    av_check(rc, ErrorClass::IoError, fmt::format("cannot open '{}' for writing", path.string()));
}

bool Mp4Writer::needs_global_header() const {
    return (ctx_->oformat->flags & AVFMT_GLOBALHEADER) != 0;
}

AVStream* Mp4Writer::add_stream(const AVCodecContext* encoder) {
    AVStream* st = avformat_new_stream(ctx_.get(), nullptr);
    if (st == nullptr) av_fail(ErrorClass::EncodeError, "cannot add a stream to the MP4 muxer");
    av_check(avcodec_parameters_from_context(st->codecpar, encoder), ErrorClass::EncodeError,
             "cannot copy encoder parameters to the muxer");
    // A hint only: the muxer picks its own time base in write_header (hence the rescale in
    // write()).
    st->time_base = encoder->time_base;
    if (encoder->codec_type == AVMEDIA_TYPE_VIDEO) st->avg_frame_rate = encoder->framerate;
    return st;
}

void Mp4Writer::set_metadata(const std::string& key, const std::string& value) {
    av_dict_set(&ctx_->metadata, key.c_str(), value.c_str(), 0);
}

void Mp4Writer::write_header(int timescale) {
    AVDictionary* opts = nullptr;
    // faststart: the moov atom goes before mdat so players can start before the download ends.
    av_dict_set(&opts, "movflags", "+faststart+use_metadata_tags", 0);
    av_dict_set_int(&opts, "movie_timescale", timescale, 0);
    av_dict_set_int(&opts, "video_track_timescale", timescale, 0);
    const int rc = avformat_write_header(ctx_.get(), &opts);
    av_dict_free(&opts);
    av_check(rc, write_error_class(rc, ctx_->pb), "cannot write the MP4 header");
    header_written_ = true;
    stream_end_.assign(ctx_->nb_streams, -1);
    tracks_.resize(ctx_->nb_streams);
    // The mov muxer ends its header with the mdat box's: the packets follow from here.
    payload_start_ = avio_tell(ctx_->pb);
}

void Mp4Writer::set_stream_end(const AVStream* stream, std::int64_t end, AVRational time_base) {
    stream_end_.at(static_cast<std::size_t>(stream->index)) =
        av_rescale_q(end, time_base, stream->time_base);
}

void Mp4Writer::write(AVPacket* packet, AVStream* stream, AVRational encoder_time_base) {
    // libx264 leaves durations unset; every frame of ours lasts one frame period (CFR).
    if (packet->duration == 0 && stream->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        stream->avg_frame_rate.num > 0) {
        packet->duration = av_rescale_q(1, av_inv_q(stream->avg_frame_rate), encoder_time_base);
    }
    av_packet_rescale_ts(packet, encoder_time_base, stream->time_base);
    packet->stream_index = stream->index;
    const auto index = static_cast<std::size_t>(stream->index);
    if (stream_end_.at(index) < 0 || packet->pts == AV_NOPTS_VALUE ||
        packet->dts == AV_NOPTS_VALUE) {
        interleave(packet);
        return;
    }
    // A stream with an end: its last packet is held back until the next one comes (or the
    // payload is sealed), when it is known to be the last.
    Track& t = tracks_.at(index);
    if (t.first_dts == AV_NOPTS_VALUE) t.first_dts = packet->dts;
    if (t.first_pts == AV_NOPTS_VALUE || packet->pts < t.first_pts) t.first_pts = packet->pts;
    cut_at_end(packet);
    t.shown_until = std::max(t.shown_until, packet->pts + packet->duration);
    if (t.held) {
        interleave(t.held.get());
    } else {
        t.held = make_packet();
    }
    av_packet_move_ref(t.held.get(), packet);
}

void Mp4Writer::cut_at_end(AVPacket* packet) const {
    // The muxer's track and edit list end at the latest packet's pts + duration.
    const std::int64_t end = stream_end_.at(static_cast<std::size_t>(packet->stream_index));
    if (packet->pts + packet->duration > end)
        packet->duration = std::max<std::int64_t>(0, end - packet->pts);
}

void Mp4Writer::interleave(AVPacket* packet) {
    const int rc = av_interleaved_write_frame(ctx_.get(), packet);
    if (rc < 0) av_check(rc, write_error_class(rc, ctx_->pb), "cannot write to the MP4 file");
}

void Mp4Writer::write_last_packets() {
    for (std::size_t i = 0; i < tracks_.size(); ++i) {
        Track& t = tracks_[i];
        if (!t.held) continue;
        AVPacket* last = t.held.get();
        // The media ends where its frames do (the latest pts + duration, each cut at the stream
        // end): not at the stream end itself, which the audio's rounding may put a tick later.
        const std::int64_t end = t.shown_until;
        // The mov muxer states one duration per sample, the decode-time deltas (stts), and takes
        // the last from the last packet's duration; libavformat reads a track whose deltas add up
        // to less than its media as that much shorter. With B-frames the last packet decoded is
        // not always the last shown, and x264's decode times lag the presentation times by its
        // B-frame delay, which vfr's held runs make long: a 1.4 s vfr render read back as a
        // 0.73 s video stream. So the last packet lasts until the decode timeline spans the
        // media, from the first pts to its end; where that would carry its presentation past
        // `end`, its dts moves later first (never past its pts, as the track's first sample is
        // presented that much after it is decoded; and after the dts before it, which it was
        // already). In cfr neither changes anything: the last packet keeps its period.
        const std::int64_t lead = t.first_pts - t.first_dts;  // the first sample's ctts, ≥ 0
        last->dts = std::max(last->dts, last->pts - lead);
        last->duration = std::max(last->duration, (end - t.first_pts) - (last->dts - t.first_dts));
        last->duration = std::min(last->duration, end - last->pts);  // cut already: ≥ its own
        interleave(last);
        t.held.reset();
    }
}

void Mp4Writer::seal_payload(const char* tag) {
    write_last_packets();
    // The interleaver holds packets back; the mov muxer writes each one into mdat as it gets it
    // and nothing more until the trailer, which only patches the mdat size and moves the moov.
    int rc = av_interleaved_write_frame(ctx_.get(), nullptr);
    if (rc < 0) av_check(rc, write_error_class(rc, ctx_->pb), "cannot write to the MP4 file");
    avio_flush(ctx_->pb);
    if (ctx_->pb->error < 0)
        av_check(ctx_->pb->error, ErrorClass::IoError, "cannot write to the MP4 file");
    const std::int64_t end = avio_tell(ctx_->pb);
    const auto hash = file_range_hash(path_, static_cast<std::uint64_t>(payload_start_),
                                      static_cast<std::uint64_t>(end - payload_start_));
    if (!hash) av_fail(ErrorClass::IoError, fmt::format("cannot read back '{}'", path_.string()));
    set_metadata(tag, *hash);
}

void Mp4Writer::finish() {
    write_last_packets();  // seal_payload() has, unless it was skipped
    int rc = av_write_trailer(ctx_.get());
    if (rc >= 0 && ctx_->pb != nullptr && ctx_->pb->error < 0) rc = ctx_->pb->error;
    if (rc < 0) av_check(rc, write_error_class(rc, ctx_->pb), "cannot finish the MP4 file");
    rc = avio_closep(&ctx_->pb);
    if (rc < 0) av_check(rc, ErrorClass::IoError, "cannot close the MP4 file");
}

}  // namespace renderer::media

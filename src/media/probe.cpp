#include "media/probe.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/pixdesc.h>
}

#include "media/av_error.h"
#include "media/av_ptr.h"
#include "media/libav_input.h"

namespace renderer::media {
namespace {

// Each frame shows from its pts until the next frame's (in presentation order), the last until
// the stream ends: what a player shows, whatever order the frames are stored in (B-frames) and
// whatever the sample table's decode-time deltas say. The stream's end is `stream_end` (the
// container's: an MP4's edit list) when that is after the last frame starts, else
// `packets_end`, the latest pts + duration. Not the packets' alone: for a stream with
// composition offsets libavformat reads no stored duration and gives every packet
// 1 / r_frame_rate, a rate it estimates, which for sparse vfr timestamps was 10 fps at 30.
void describe_frame_timing(StreamInfo& s, std::vector<std::int64_t>& pts, std::int64_t stream_end,
                           std::int64_t packets_end, AVRational time_base) {
    if (pts.empty()) return;
    std::sort(pts.begin(), pts.end());
    pts.push_back(stream_end != AV_NOPTS_VALUE && stream_end > pts.back() ? stream_end
                                                                          : packets_end);
    std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = 0;
    // All but the last, which shorter music may cut short in either timing: shorter, never longer.
    bool equal = true;
    for (std::size_t k = 1; k < pts.size(); ++k) {
        const std::int64_t d = pts[k] - pts[k - 1];
        const std::int64_t first = pts[1] - pts[0];
        if (k + 1 < pts.size() ? d != first : d > first) equal = false;
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    s.min_frame_duration_sec = static_cast<double>(lo) * av_q2d(time_base);
    s.max_frame_duration_sec = static_cast<double>(hi) * av_q2d(time_base);
    s.frame_timing = equal ? "cfr" : "vfr";
}

}  // namespace

MediaInfo probe_file(const std::filesystem::path& path, InputPolicy policy) {
    InputFormatPtr fmt = open_input(path, ErrorClass::PreflightError, policy);
    const int rc = avformat_find_stream_info(fmt.get(), nullptr);
    if (rc < 0) {
        throw Error(ErrorClass::PreflightError,
                    fmt::format("cannot read '{}': {}", path.string(), av_error_text(rc)));
    }

    MediaInfo info;
    info.path = path.string();
    info.format = fmt->iformat->name;
    std::error_code ec;
    info.size_bytes = std::filesystem::file_size(path, ec);
    info.bit_rate = fmt->bit_rate;
    if (fmt->duration != AV_NOPTS_VALUE)
        info.duration_sec = static_cast<double>(fmt->duration) / AV_TIME_BASE;
    const AVDictionaryEntry* tag = nullptr;
    while ((tag = av_dict_get(fmt->metadata, "", tag, AV_DICT_IGNORE_SUFFIX)) != nullptr) {
        info.tags[tag->key] = tag->value;
    }

    std::vector<std::int64_t> first(fmt->nb_streams, AV_NOPTS_VALUE),
        end(fmt->nb_streams, AV_NOPTS_VALUE);
    std::vector<std::vector<std::int64_t>> video_pts(fmt->nb_streams);
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        const AVStream* st = fmt->streams[i];
        const AVCodecParameters* par = st->codecpar;
        StreamInfo s;
        s.index = static_cast<int>(i);
        const char* type = av_get_media_type_string(par->codec_type);
        s.type = type != nullptr ? type : "unknown";
        s.codec = avcodec_get_name(par->codec_id);
        if (const char* prof = avcodec_profile_name(par->codec_id, par->profile)) s.profile = prof;
        if (par->codec_tag != 0) {
            char fourcc[AV_FOURCC_MAX_STRING_SIZE] = {};
            s.codec_tag = av_fourcc_make_string(fourcc, par->codec_tag);
        }
        s.bit_rate = par->bit_rate;
        s.attached_pic = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
            s.width = par->width;
            s.height = par->height;
            if (const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format)))
                s.pix_fmt = pf;
            if (const char* cs = av_color_space_name(par->color_space)) s.color_space = cs;
            if (const char* cr = av_color_range_name(par->color_range)) s.color_range = cr;
            if (const char* cp = av_color_primaries_name(par->color_primaries))
                s.color_primaries = cp;
            if (const char* ct = av_color_transfer_name(par->color_trc)) s.color_transfer = ct;
            if (st->avg_frame_rate.num > 0) s.fps = av_q2d(st->avg_frame_rate);
        } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
            s.sample_rate = par->sample_rate;
            s.channels = par->ch_layout.nb_channels;
        }
        info.streams.push_back(s);
    }

    // Count what is really there instead of trusting header fields.
    PacketPtr pkt = make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
        const auto i = static_cast<std::size_t>(pkt->stream_index);
        if (i < info.streams.size()) {
            ++info.streams[i].frames;
            if (pkt->pts != AV_NOPTS_VALUE) {
                if (first[i] == AV_NOPTS_VALUE || pkt->pts < first[i]) first[i] = pkt->pts;
                if (end[i] == AV_NOPTS_VALUE || pkt->pts + pkt->duration > end[i])
                    end[i] = pkt->pts + pkt->duration;
                if (info.streams[i].type == "video") video_pts[i].push_back(pkt->pts);
            }
        }
        av_packet_unref(pkt.get());
    }
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        const AVStream* st = fmt->streams[i];
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
            info.streams[i].duration_sec =
                static_cast<double>(st->duration) * av_q2d(st->time_base);
        } else if (first[i] != AV_NOPTS_VALUE) {
            info.streams[i].duration_sec =
                static_cast<double>(end[i] - first[i]) * av_q2d(st->time_base);
        }
        const std::int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : first[i];
        const std::int64_t stream_end =
            st->duration != AV_NOPTS_VALUE && st->duration > 0 && start != AV_NOPTS_VALUE
                ? start + st->duration
                : AV_NOPTS_VALUE;
        describe_frame_timing(info.streams[i], video_pts[i], stream_end, end[i], st->time_base);
    }
    return info;
}

namespace {

template <typename W>
void write_info(W& w, const MediaInfo& info) {
    w.StartObject();
    w.Key("path");
    w.String(info.path.c_str());
    w.Key("format");
    w.String(info.format.c_str());
    w.Key("duration_sec");
    w.Double(info.duration_sec);
    w.Key("size_bytes");
    w.Uint64(info.size_bytes);
    w.Key("bit_rate");
    w.Int64(info.bit_rate);
    w.Key("tags");
    w.StartObject();
    for (const auto& [k, v] : info.tags) {
        w.Key(k.c_str());
        w.String(v.c_str());
    }
    w.EndObject();
    w.Key("streams");
    w.StartArray();
    for (const auto& s : info.streams) {
        w.StartObject();
        w.Key("index");
        w.Int(s.index);
        w.Key("type");
        w.String(s.type.c_str());
        w.Key("codec");
        w.String(s.codec.c_str());
        if (!s.profile.empty()) {
            w.Key("profile");
            w.String(s.profile.c_str());
        }
        if (!s.codec_tag.empty()) {
            w.Key("codec_tag");
            w.String(s.codec_tag.c_str());
        }
        w.Key("duration_sec");
        w.Double(s.duration_sec);
        w.Key("frames");
        w.Int64(s.frames);
        w.Key("bit_rate");
        w.Int64(s.bit_rate);
        if (s.type == "video") {
            w.Key("width");
            w.Int(s.width);
            w.Key("height");
            w.Int(s.height);
            w.Key("pix_fmt");
            w.String(s.pix_fmt.c_str());
            w.Key("color_space");
            w.String(s.color_space.c_str());
            w.Key("color_range");
            w.String(s.color_range.c_str());
            w.Key("color_primaries");
            w.String(s.color_primaries.c_str());
            w.Key("color_transfer");
            w.String(s.color_transfer.c_str());
            w.Key("fps");
            w.Double(s.fps);
            w.Key("attached_pic");
            w.Bool(s.attached_pic);
            if (!s.frame_timing.empty()) {
                w.Key("frame_timing");
                w.String(s.frame_timing.c_str());
                w.Key("distinct_frames");  // frames stored; a held slide in vfr is one
                w.Int64(s.frames);
                w.Key("min_frame_duration_sec");
                w.Double(s.min_frame_duration_sec);
                w.Key("max_frame_duration_sec");
                w.Double(s.max_frame_duration_sec);
            }
        } else if (s.type == "audio") {
            w.Key("sample_rate");
            w.Int(s.sample_rate);
            w.Key("channels");
            w.Int(s.channels);
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
}

}  // namespace

std::string to_json(const MediaInfo& info, bool pretty) {
    rapidjson::StringBuffer buf;
    if (pretty) {
        rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
        w.SetIndent(' ', 2);
        write_info(w, info);
    } else {
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        write_info(w, info);
    }
    return {buf.GetString(), buf.GetSize()};
}

}  // namespace renderer::media

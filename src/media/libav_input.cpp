#include "media/libav_input.h"

#include <fmt/format.h>

extern "C" {
#include <libavutil/dict.h>
}

#include "media/av_error.h"
#include "media/format_sniff.h"

namespace renderer::media {
namespace {

// The MPEG audio decoders: the mp3 demuxer yields layers I-III, all decoded by mpegaudiodec.
constexpr const char* kMusicDecoders = "mp1,mp1float,mp2,mp2float,mp3,mp3float";
// The mov demuxer's name as libavformat lists it (av_find_input_format("mp4") returns it).
constexpr const char* kMovDemuxer = "mov,mp4,m4a,3gp,3g2,mj2";

struct DictDeleter {
    void operator()(AVDictionary* d) const { av_dict_free(&d); }
};

int refuse_nested_open(AVFormatContext* s, AVIOContext** /*pb*/, const char* url, int /*flags*/,
                       AVDictionary** /*options*/) {
    av_log(s, AV_LOG_ERROR, "refused to open '%s': an input may not open other files or URLs\n",
           url);
    return AVERROR(EPERM);
}

// The first open is avformat_open_input's own, of the input; every later one is something the
// input names, refused from then on. The protocol whitelist is passed on explicitly because
// avio_open2 does not read the format context's.
int open_only_the_input(AVFormatContext* s, AVIOContext** pb, const char* url, int flags,
                        AVDictionary** options) {
    s->io_open = refuse_nested_open;
    AVDictionary* opts = nullptr;
    if (options != nullptr) av_dict_copy(&opts, *options, 0);
    av_dict_set(&opts, "protocol_whitelist", s->protocol_whitelist, 0);
    const int rc = avio_open2(pb, url, flags, &s->interrupt_callback, &opts);
    av_dict_free(&opts);
    return rc;
}

std::string display_name(const std::filesystem::path& path, InputPolicy policy) {
    return policy == InputPolicy::Music ? "music '" + path.filename().string() + "'"
                                        : "'" + path.string() + "'";
}

// A music file that reads as another format is refused before any demuxer runs on it. Returns
// the bytes of ID3v2 tags before its audio.
std::int64_t refuse_unless_mp3(const std::filesystem::path& path, ErrorClass cls) {
    const SniffedFormat sniffed = sniff_format(path, cls);
    if (sniffed.name.empty()) {
        av_fail(cls, fmt::format("cannot open music '{}': {}", path.filename().string(),
                                 av_error_text(AVERROR_INVALIDDATA)));
    }
    if (sniffed.name == "mp3" && sniffed.id3v2_bytes >= sniffed.file_bytes) {
        av_fail(cls,
                fmt::format("music '{}' is damaged: its ID3v2 tags claim {} bytes, the file holds "
                            "{}; replace it",
                            path.filename().string(), sniffed.id3v2_bytes, sniffed.file_bytes));
    }
    if (sniffed.name == "mp3") return sniffed.id3v2_bytes;
    const std::string detail = sniffed.detail.empty() ? "" : " (" + sniffed.detail + ")";
    av_fail(
        cls,
        fmt::format(
            "music '{}' is not an MP3 file: it reads as {}{}; convert it to MP3 or remove it from "
            "the music dir",
            path.filename().string(), sniffed.name, detail));
}

}  // namespace

InputFormatPtr open_input(const std::filesystem::path& path, ErrorClass cls, InputPolicy policy) {
    const std::int64_t tags = policy == InputPolicy::Music ? refuse_unless_mp3(path, cls) : 0;

    AVDictionary* raw_opts = nullptr;
    av_dict_set(&raw_opts, "protocol_whitelist", "file", 0);
    const AVInputFormat* forced = nullptr;
    switch (policy) {
        case InputPolicy::Music:
            forced = av_find_input_format("mp3");
            av_dict_set(&raw_opts, "format_whitelist", "mp3", 0);
            av_dict_set(&raw_opts, "codec_whitelist", kMusicDecoders, 0);
            // The demuxer starts after the ID3v2 tags: a render needs no title or cover art, and
            // libavformat's tag parser reads every frame into memory (a 150 MiB private frame:
            // 47 s and 819 MB to render 3 frames), hostile-input surface we do not need.
            av_dict_set_int(&raw_opts, "skip_initial_bytes", tags, 0);
            break;
        case InputPolicy::Artifact:
            forced = av_find_input_format("mp4");
            av_dict_set(&raw_opts, "format_whitelist", kMovDemuxer, 0);
            break;
        case InputPolicy::Probe:
            break;
    }
    std::unique_ptr<AVDictionary, DictDeleter> opts(raw_opts);

    AVFormatContext* raw = avformat_alloc_context();
    if (raw == nullptr) av_fail(cls, "cannot allocate a demuxer");
    raw->io_open = open_only_the_input;
    // "file:" makes the path a file whatever it looks like ("http:x.mp3" is a file name here).
    const std::string url = "file:" + path.string();
    AVDictionary* o = opts.release();
    const int rc = avformat_open_input(&raw, url.c_str(), forced, &o);  // frees raw on failure
    opts.reset(o);
    if (rc < 0)
        av_fail(cls,
                fmt::format("cannot open {}: {}", display_name(path, policy), av_error_text(rc)));
    return InputFormatPtr(raw);
}

int first_stream(const AVFormatContext* input, AVMediaType type) {
    for (unsigned i = 0; i < input->nb_streams; ++i) {
        const AVStream* st = input->streams[i];
        if (st->codecpar->codec_type == type && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

CodecContextPtr open_decoder(const AVFormatContext* input, int index, ErrorClass cls,
                             InputPolicy policy, int threads) {
    const AVStream* st = input->streams[index];
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (codec == nullptr) {
        av_fail(cls,
                fmt::format("no decoder for codec {}", avcodec_get_name(st->codecpar->codec_id)));
    }
    CodecContextPtr dec(avcodec_alloc_context3(codec));
    if (!dec) av_fail(cls, "cannot allocate a decoder");
    av_check(avcodec_parameters_to_context(dec.get(), st->codecpar), cls, "bad stream parameters");
    // Timestamps the decoder adjusts (skipped samples of gapless MP3s) are in the stream's time
    // base.
    dec->pkt_timebase = st->time_base;
    dec->thread_count = threads;
    AVDictionary* raw_opts = nullptr;
    if (policy == InputPolicy::Music) av_dict_set(&raw_opts, "codec_whitelist", kMusicDecoders, 0);
    const int rc = avcodec_open2(dec.get(), codec, &raw_opts);
    av_dict_free(&raw_opts);
    av_check(rc, cls, fmt::format("cannot open the {} decoder", codec->name));
    return dec;
}

}  // namespace renderer::media

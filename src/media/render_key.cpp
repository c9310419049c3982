#include "media/render_key.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <link.h>

#include <fmt/format.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/cpu.h>
#include <libavutil/murmur3.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include "common/error.h"
#include "media/audio_finish_settings.h"
#include "media/av_ptr.h"
#include "media/encoders.h"
#include "renderer_version.h"

namespace renderer::media {
namespace {

struct MurmurDeleter {
    void operator()(AVMurMur3* m) const { av_free(m); }
};

class Hasher {
  public:
    Hasher() : m_(av_murmur3_alloc()) { av_murmur3_init(m_.get()); }
    void add(std::span<const std::uint8_t> bytes) {
        av_murmur3_update(m_.get(), bytes.data(), bytes.size());
    }
    void add(const std::string& s) {
        add(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
        add(std::span(reinterpret_cast<const std::uint8_t*>("\0"), 1));  // field separator
    }
    void add(std::uint64_t v) {
        add(std::span(reinterpret_cast<const std::uint8_t*>(&v), sizeof v));
    }
    std::array<std::uint8_t, 16> finish() {
        std::array<std::uint8_t, 16> out{};
        av_murmur3_final(m_.get(), out.data());
        return out;
    }

  private:
    std::unique_ptr<AVMurMur3, MurmurDeleter> m_;
};

}  // namespace

namespace {

// Feeds `size` bytes of `in` (all of it to EOF when size is nullopt) to `h`; false on a read error
// or, with a size, a short file.
bool hash_stream(std::FILE* in, std::optional<std::uint64_t> size, Hasher& h) {
    std::vector<std::uint8_t> buf(1 << 16);
    for (;;) {
        const std::size_t want =
            size ? static_cast<std::size_t>(std::min<std::uint64_t>(*size, buf.size()))
                 : buf.size();
        if (want == 0) return true;
        const std::size_t n = std::fread(buf.data(), 1, want, in);
        h.add(std::span<const std::uint8_t>(buf.data(), n));
        if (size) *size -= n;
        if (n < want) return std::ferror(in) == 0 && !size;
    }
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string hex(const std::array<std::uint8_t, 16>& digest) {
    std::string out;
    for (const auto b : digest) out += fmt::format("{:02x}", b);
    return out;
}

std::uint64_t first_64_bits(const std::array<std::uint8_t, 16>& d) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | d[static_cast<std::size_t>(i)];
    return v;
}

}  // namespace

std::uint64_t file_content_hash(const std::filesystem::path& path) {
    const std::unique_ptr<std::FILE, FileCloser> in(std::fopen(path.c_str(), "rbe"));
    Hasher h;
    if (!in || !hash_stream(in.get(), std::nullopt, h)) {
        throw Error(
            ErrorClass::IoError,
            fmt::format("cannot read '{}': {}", path.filename().string(), std::strerror(errno)));
    }
    return first_64_bits(h.finish());
}

std::optional<std::string> file_range_hash(const std::filesystem::path& file, std::uint64_t offset,
                                           std::uint64_t size) {
    const std::unique_ptr<std::FILE, FileCloser> in(std::fopen(file.c_str(), "rbe"));
    if (!in || fseeko(in.get(), static_cast<off_t>(offset), SEEK_SET) != 0) return std::nullopt;
    Hasher h;
    if (!hash_stream(in.get(), size, h)) return std::nullopt;
    return hex(h.finish());
}

std::uint64_t content_hash(std::span<const std::uint8_t> bytes) {
    Hasher h;
    h.add(bytes);
    return first_64_bits(h.finish());
}

namespace {

// libx264's build as the encoder states it in the SEI it writes into the first packet ("x264 -
// core 164 r3095 baee400 - H.264/MPEG-4 AVC codec - ..."): core number and revision, which
// libavcodec's version does not tell (Debian ships x264 as its own package). Learnt once per
// process from a 16x16 encode; "unknown" if that fails.
std::string x264_build() {
    CodecContextPtr enc(avcodec_alloc_context3(avcodec_find_encoder_by_name("libx264")));
    if (!enc) return "unknown";
    enc->width = enc->height = 16;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = AVRational{1, 25};
    enc->thread_count = 1;
    av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
    if (avcodec_open2(enc.get(), enc->codec, nullptr) < 0) return "unknown";
    FramePtr frame = make_frame();
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = frame->height = 16;
    if (av_frame_get_buffer(frame.get(), 0) < 0) return "unknown";
    for (int p = 0; p < 3; ++p)
        std::memset(frame->data[p], 128,
                    static_cast<std::size_t>(frame->linesize[p]) * (p ? 8 : 16));
    PacketPtr pkt = make_packet();
    std::string bytes;
    for (AVFrame* f : {frame.get(), static_cast<AVFrame*>(nullptr)}) {
        if (avcodec_send_frame(enc.get(), f) < 0) break;
        while (avcodec_receive_packet(enc.get(), pkt.get()) == 0) {
            bytes.append(reinterpret_cast<const char*>(pkt->data),
                         static_cast<std::size_t>(pkt->size));
            av_packet_unref(pkt.get());
        }
    }
    const auto from = bytes.find("x264 - core ");
    if (from == std::string::npos) return "unknown";
    const auto to = bytes.find(" - ", from + 12);
    return bytes.substr(from + 7, to == std::string::npos ? 32 : to - from - 7);
}

// The running executable's build, by its content: the version string stays the same across
// builds whose output differs (any change to the pipeline's code), so a fleet mid-deploy would
// take artifacts it does not reproduce. Any rebuild misses the cache once; none is taken for
// another's. "unknown" if the executable cannot be read.
std::string executable_build() {
    try {
        return fmt::format("{:016x}", file_content_hash("/proc/self/exe"));
    } catch (const Error&) {
        return "unknown";
    }
}

// The codec libraries libavcodec has loaded (libx264, libx265, libSvtAv1Enc), each by its file's
// content: Debian ships them as packages of their own, so an upgrade of one changes the output
// while every FFmpeg version stays the same. x264's build is also named above by its SEI; x265
// and SVT-AV1 state theirs only in their logs.
std::string codec_library_builds() {
    std::vector<std::string> paths;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* out) {
            const std::string_view name = info->dlpi_name != nullptr ? info->dlpi_name : "";
            for (const std::string_view lib : {"/libx264.so", "/libx265.so", "/libSvtAv1Enc.so"}) {
                if (name.find(lib) != std::string_view::npos)
                    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
            }
            return 0;
        },
        &paths);
    std::sort(paths.begin(), paths.end());
    std::string builds;
    for (const auto& path : paths) {
        const auto name = path.substr(path.rfind('/') + 1);
        try {
            builds += fmt::format(" {} {:016x}", name, file_content_hash(path));
        } catch (const Error&) {
            builds += fmt::format(" {} unknown", name);
        }
    }
    return builds;
}

}  // namespace

std::string render_key_libraries() {
    static const std::string libs = fmt::format(
        "renderer {} build {} ffmpeg {} avcodec {} avformat {} avutil {} swscale {} swresample {} "
        "x264 {}{}",
        RENDERER_VERSION, executable_build(), av_version_info(), avcodec_version(),
        avformat_version(), avutil_version(), swscale_version(), swresample_version(), x264_build(),
        codec_library_builds());
    return libs;
}

std::string render_key(const RenderSettings& s, const PreflightReport& pf,
                       std::int64_t video_frames, const std::vector<std::uint64_t>& frame_hashes,
                       std::uint64_t music_hash) {
    Hasher h;
    h.add(render_key_libraries());
    // libswscale, libswresample and libavcodec's AAC encoder take SIMD paths by the CPU's
    // features, and those round differently from each other: another kind of machine gives other
    // bytes. Read per render, not cached: av_force_cpu_flags (and the cpuflags option) change it.
    h.add(fmt::format("cpu={:#x}", static_cast<unsigned>(av_get_cpu_flags())));
    h.add(
        fmt::format("codec={} fps={} ab={} preset={} crf={} vb={} params={} threads={} "
                    "canvas={}x{} frames={}",
                    codec_name(s.codec), s.fps, s.audio_bitrate, effective_preset(s),
                    effective_crf(s), s.video_bitrate, codec_params(s, pf.canvas), s.threads,
                    pf.canvas.width, pf.canvas.height, video_frames));
    // Frame timing (DESIGN 3.2): the hold only matters in vfr, so a cfr key does not name it.
    h.add(fmt::format("keyint_sec={} frame_timing={}", s.keyint_sec, to_string(s.frame_timing)));
    if (s.frame_timing == FrameTiming::Vfr)
        h.add(fmt::format("vfr_max_hold_ms={}", s.vfr_max_hold_ms));
    // Audio finishing (DESIGN 3.1): each of these changes the samples encoded.
    const auto& a = s.audio;
    h.add(fmt::format("audio_fit={} fade_in_ms={} fade_out_ms={} loudness={} true_peak={}",
                      to_string(a.fit), a.fade_in_ms, a.fade_out_ms,
                      a.loudness_lufs ? fmt::format("{}", *a.loudness_lufs) : "off",
                      a.true_peak_dbtp));
    h.add(pf.audio_track);
    h.add(music_hash);
    for (const auto fh : frame_hashes) h.add(fh);
    return hex(h.finish());
}

}  // namespace renderer::media

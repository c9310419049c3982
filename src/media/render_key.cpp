#include "media/render_key.h"

#include <array>
#include <memory>

#include <fmt/format.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/murmur3.h>
}

#include "media/av_ptr.h"
#include "renderer_version.h"

namespace renderer::media {
namespace {

struct MurmurDeleter {
    void operator()(AVMurMur3* m) const { av_free(m); }
};

class Hasher {
public:
    Hasher() : m_(av_murmur3_alloc()) { av_murmur3_init(m_.get()); }
    void add(std::span<const std::uint8_t> bytes) { av_murmur3_update(m_.get(), bytes.data(), bytes.size()); }
    void add(const std::string& s) {
        add(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
        add(std::span(reinterpret_cast<const std::uint8_t*>("\0"), 1));  // field separator
    }
    void add(std::uint64_t v) { add(std::span(reinterpret_cast<const std::uint8_t*>(&v), sizeof v)); }
    std::array<std::uint8_t, 16> finish() {
        std::array<std::uint8_t, 16> out{};
        av_murmur3_final(m_.get(), out.data());
        return out;
    }

private:
    std::unique_ptr<AVMurMur3, MurmurDeleter> m_;
};

}  // namespace

std::uint64_t content_hash(std::span<const std::uint8_t> bytes) {
    Hasher h;
    h.add(bytes);
    const auto d = h.finish();
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
    return v;
}

std::string render_key_libraries() {
    return fmt::format("renderer {} avcodec {} avformat {} swresample {}", RENDERER_VERSION, avcodec_version(),
                       avformat_version(), swresample_version());
}

std::string render_key(const RenderSettings& s, const PreflightReport& pf, std::int64_t video_frames,
                       const std::vector<std::uint64_t>& frame_hashes, std::uint64_t music_hash) {
    Hasher h;
    h.add(render_key_libraries());
    h.add(fmt::format("fps={} ab={} preset={} crf={} vb={} x264={} threads={} canvas={}x{} frames={}", s.fps,
                      s.audio_bitrate, s.preset, s.crf, s.video_bitrate, s.x264_params, s.threads, pf.canvas.width,
                      pf.canvas.height, video_frames));
    h.add(pf.audio_track);
    h.add(music_hash);
    for (const auto fh : frame_hashes) h.add(fh);
    std::string hex;
    for (const auto b : h.finish()) hex += fmt::format("{:02x}", b);
    return hex;
}

std::optional<std::string> read_render_key(const std::filesystem::path& path) {
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0) return std::nullopt;
    InputFormatPtr fmt(raw);
    const AVDictionaryEntry* e = av_dict_get(fmt->metadata, kRenderKeyTag, nullptr, 0);
    if (e == nullptr) return std::nullopt;
    return std::string(e->value);
}

}  // namespace renderer::media

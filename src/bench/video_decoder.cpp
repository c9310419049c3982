#include "bench/video_decoder.h"

#include <fmt/format.h>

#include "media/av_error.h"
#include "media/libav_input.h"

namespace renderer::bench {

VideoDecoder::VideoDecoder(const std::filesystem::path& path) {
    const std::string what = fmt::format("'{}'", path.string());
    fmt_ = media::open_input(path, ErrorClass::DecodeError, media::InputPolicy::Artifact);
    // The pixel format and size callers ask for before the first frame come from here.
    media::av_check(avformat_find_stream_info(fmt_.get(), nullptr), ErrorClass::DecodeError,
                    fmt::format("cannot read {}", what));
    const int index = media::av_check(
        av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0),
        ErrorClass::DecodeError, fmt::format("no decodable video stream in {}", what));
    time_base_ = fmt_->streams[index]->time_base;
    // The decoder picks its threads: decoding speed is not what is being measured.
    dec_ = media::open_decoder(fmt_.get(), index, ErrorClass::DecodeError,
                               media::InputPolicy::Artifact, 0);
    loop_.emplace(
        fmt_.get(), index, dec_.get(),
        media::DecodingLoop::Options{.error_class = ErrorClass::DecodeError, .what = what});
}

std::uint64_t video_stream_bytes(const std::filesystem::path& path) {
    const auto fmt_ctx =
        media::open_input(path, ErrorClass::DecodeError, media::InputPolicy::Artifact);
    const int index = media::av_check(
        av_find_best_stream(fmt_ctx.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0),
        ErrorClass::DecodeError, fmt::format("no video stream in '{}'", path.string()));
    AVStream* st = fmt_ctx->streams[index];
    std::uint64_t bytes = 0;
    const int entries = avformat_index_get_entries_count(st);
    for (int i = 0; i < entries; ++i)
        bytes += static_cast<std::uint64_t>(avformat_index_get_entry(st, i)->size);
    return bytes;
}

media::FramePtr VideoDecoder::next() {
    media::FramePtr frame = media::make_frame();
    return loop_->next(frame.get()) ? std::move(frame) : nullptr;
}

}  // namespace renderer::bench

// Reads back the video stream of a rendered file: demux + decode, one frame at a time in
// presentation order. Used to compare an encode with its source frames.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "media/av_ptr.h"
#include "media/decoding_loop.h"

namespace renderer::bench {

// The bytes of the file's video stream (its packets' sizes, from the MP4's sample table): the
// video's own rate, which rate-quality curves need without the audio's constant share.
std::uint64_t video_stream_bytes(const std::filesystem::path& path);

class VideoDecoder {
  public:
    // Opens the file's best video stream (an MP4: the mov demuxer only). Throws
    // Error(DecodeError) naming the file when it cannot be opened or holds no decodable video.
    explicit VideoDecoder(const std::filesystem::path& path);

    int width() const { return dec_->width; }
    int height() const { return dec_->height; }
    AVPixelFormat pix_fmt() const { return dec_->pix_fmt; }
    // The video stream's time base: what decoded frames' best_effort_timestamp counts in.
    AVRational time_base() const { return time_base_; }

    // The next decoded frame, or nullptr once the stream is drained.
    media::FramePtr next();

  private:
    media::InputFormatPtr fmt_;
    media::CodecContextPtr dec_;
    std::optional<media::DecodingLoop> loop_;
    AVRational time_base_{0, 1};
};

}  // namespace renderer::bench

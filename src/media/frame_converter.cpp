#include "media/frame_converter.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/version.h>
}

#include "media/av_error.h"
#include "media/rgb_to_yuv.h"

namespace renderer::media {

Placement fit_to_canvas(int w, int h, Canvas c) {
    // `num / den` rounded to the nearest even number, at least 2. A scaled picture has even
    // sides: libswscale spreads ceil(n / 2) chroma samples over the whole picture, as if an odd
    // side were one pixel longer, which moves chroma up to half a pixel off the centre siting
    // the stream is tagged with. The aspect ratio moves by at most one pixel.
    const auto even = [](long long num, long long den) {
        return std::max(2, static_cast<int>((num + den) / (2 * den) * 2));
    };
    Placement p;
    if (w <= c.width && h <= c.height && c.width - w <= 1 && c.height - h <= 1) {
        // Odd sizes rounded up to even: place unscaled, the spare row/column stays black.
        p.width = w;
        p.height = h;
    } else if (static_cast<long long>(w) * c.height >= static_cast<long long>(h) * c.width) {
        p.width = c.width;
        p.height = even(static_cast<long long>(h) * c.width, w);
    } else {
        p.height = c.height;
        p.width = even(static_cast<long long>(w) * c.height, h);
    }
    p.width = std::min(p.width, c.width);
    p.height = std::min(p.height, c.height);
    // Even offsets keep the chroma planes aligned with luma.
    p.x = ((c.width - p.width) / 2) & ~1;
    p.y = ((c.height - p.height) / 2) & ~1;
    return p;
}

bool chroma_position(AVChromaLocation location, int& x, int& y) {
    // FFmpeg 6.1 moved this mapping to libavutil and 7.0 removed the libavcodec one.
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 28, 100)
    return av_chroma_location_enum_to_pos(&x, &y, location) >= 0;
#else
    return avcodec_enum_to_chroma_pos(&x, &y, location) >= 0;
#endif
}

namespace {

// RGB24 -> yuv420p scaler. SWS_BICUBIC is the ffmpeg CLI's default, so quality matches it at
// equal settings. The chroma position is set, not left to libswscale's default (the same
// centre today), because the stream is tagged with kChromaLocation whichever converter ran.
SwsContextPtr make_scaler(Canvas src, Canvas dst) {
    SwsContextPtr sws(sws_alloc_context());
    if (!sws) av_fail(ErrorClass::EncodeError, "cannot create the colour converter");
    int h_pos = 0, v_pos = 0;
    if (!chroma_position(kChromaLocation, h_pos, v_pos)) {
        av_fail(ErrorClass::EncodeError, "no chroma position for the converter's siting");
    }
    const std::pair<const char*, std::int64_t> options[] = {
        {"srcw", src.width},        {"srch", src.height},     {"src_format", AV_PIX_FMT_RGB24},
        {"dstw", dst.width},        {"dsth", dst.height},     {"dst_format", AV_PIX_FMT_YUV420P},
        {"sws_flags", SWS_BICUBIC}, {"dst_h_chr_pos", h_pos}, {"dst_v_chr_pos", v_pos},
    };
    for (const auto& [key, value] : options) {
        av_check(av_opt_set_int(sws.get(), key, value, 0), ErrorClass::EncodeError,
                 fmt::format("cannot set the colour converter's {}", key));
    }
    av_check(sws_init_context(sws.get(), nullptr, nullptr), ErrorClass::EncodeError,
             "cannot create the colour converter");
    return sws;
}

}  // namespace

FramePtr FrameConverter::new_frame() {
    constexpr int kAlign = 64;
    if (!pool_) {
        pool_size_ =
            av_image_get_buffer_size(AV_PIX_FMT_YUV420P, canvas_.width, canvas_.height, kAlign);
        pool_.reset(av_buffer_pool_init(static_cast<std::size_t>(pool_size_), av_buffer_alloc));
        if (!pool_) av_fail(ErrorClass::EncodeError, "cannot allocate a frame pool");
    }
    FramePtr frame = make_frame();
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = canvas_.width;
    frame->height = canvas_.height;
    frame->color_range = AVCOL_RANGE_MPEG;
    frame->colorspace = AVCOL_SPC_BT709;
    frame->color_primaries = AVCOL_PRI_BT709;
    frame->color_trc = AVCOL_TRC_BT709;
    frame->chroma_location = kChromaLocation;
    frame->buf[0] = av_buffer_pool_get(pool_.get());
    if (frame->buf[0] == nullptr) av_fail(ErrorClass::EncodeError, "cannot allocate a video frame");
    av_check(av_image_fill_arrays(frame->data, frame->linesize, frame->buf[0]->data,
                                  AV_PIX_FMT_YUV420P, canvas_.width, canvas_.height, kAlign),
             ErrorClass::EncodeError, "cannot lay out a video frame");
    return frame;
}

FramePtr FrameConverter::convert(const RgbImage& image) {
    FramePtr frame = new_frame();

    const Placement p = fit_to_canvas(image.width, image.height, canvas_);
    if (p.width != canvas_.width || p.height != canvas_.height) {
        // Black in limited range: Y=16, Cb=Cr=128.
        const int ch = (canvas_.height + 1) / 2;
        for (int y = 0; y < canvas_.height; ++y)
            std::memset(frame->data[0] + y * frame->linesize[0], 16, canvas_.width);
        for (int y = 0; y < ch; ++y) {
            std::memset(frame->data[1] + y * frame->linesize[1], 128, (canvas_.width + 1) / 2);
            std::memset(frame->data[2] + y * frame->linesize[2], 128, (canvas_.width + 1) / 2);
        }
    }

    std::uint8_t* dst[3] = {frame->data[0] + p.y * frame->linesize[0] + p.x,
                            frame->data[1] + (p.y / 2) * frame->linesize[1] + p.x / 2,
                            frame->data[2] + (p.y / 2) * frame->linesize[2] + p.x / 2};
    if (p.width == image.width && p.height == image.height) {
        // No scaling: the direct BT.709 converter, twice as fast as libswscale here.
        rgb24_to_yuv420p_bt709(image.data(), image.stride, image.width, image.height, dst,
                               frame->linesize);
        return frame;
    }
    if (!sws_ || image.width != sws_src_.width || image.height != sws_src_.height ||
        p.width != sws_dst_.width || p.height != sws_dst_.height) {
        sws_ = make_scaler(Canvas{image.width, image.height}, Canvas{p.width, p.height});
        const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
        // Source RGB is full range; destination limited (MPEG) range with BT.709 coefficients.
        sws_setColorspaceDetails(sws_.get(), bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
        sws_src_ = Canvas{image.width, image.height};
        sws_dst_ = Canvas{p.width, p.height};
    }

    const std::uint8_t* src[1] = {image.data()};
    const int src_stride[1] = {image.stride};
    sws_scale(sws_.get(), src, src_stride, 0, image.height, dst, frame->linesize);
    return frame;
}

}  // namespace renderer::media

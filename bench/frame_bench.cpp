// Per-frame cost of each pipeline stage on one core: PNG decode (libspng vs FFmpeg's png
// decoder) and RGB -> yuv420p conversion (swscale flags). Used to choose the levers recorded in
// docs/PERFORMANCE.md. Usage: frame_bench FRAMES_DIR [N]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/byte_buffer.h"
#include "common/paths.h"
#include "media/av_ptr.h"
#include "media/frame_converter.h"
#include "media/png_decoder.h"
#include "media/rgb_to_yuv.h"

using namespace renderer;
using namespace renderer::media;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: frame_bench FRAMES_DIR [N]\n");
        return 64;
    }
    auto files = list_files_with_ext(argv[1], "png");
    const std::size_t n = std::min<std::size_t>(files.size(), argc > 2 ? std::stoul(argv[2]) : 60);
    std::vector<std::vector<std::uint8_t>> bytes;
    for (std::size_t i = 0; i < n; ++i) bytes.push_back(read_file_bytes(files[i]));

    auto t0 = Clock::now();
    for (const auto& b : bytes) decode_png_spng(b, "f", 1ull << 30);
    std::printf("libspng decode        %7.2f ms/frame\n", ms_since(t0) / n);

    t0 = Clock::now();
    std::vector<RgbImage> images;
    for (const auto& b : bytes) images.push_back(decode_png(b, "f", 1ull << 30));
    std::printf("decode_png (fast path)%7.2f ms/frame, fresh buffers\n", ms_since(t0) / n);

    // As the pipeline runs it: each decode reuses the previous image's buffer.
    {
        ByteBuffer recycle;
        t0 = Clock::now();
        for (const auto& b : bytes) recycle = decode_png(b, "f", 1ull << 30, &recycle).storage;
        std::printf("decode_png (fast path)%7.2f ms/frame, recycled buffer\n", ms_since(t0) / n);
    }

    // FFmpeg's png decoder
    const AVCodec* png = avcodec_find_decoder(AV_CODEC_ID_PNG);
    CodecContextPtr dec(avcodec_alloc_context3(png));
    dec->thread_count = 1;
    avcodec_open2(dec.get(), png, nullptr);
    PacketPtr pkt = make_packet();
    FramePtr frame = make_frame();
    t0 = Clock::now();
    for (const auto& b : bytes) {
        av_new_packet(pkt.get(), static_cast<int>(b.size()));
        std::copy(b.begin(), b.end(), pkt->data);
        avcodec_send_packet(dec.get(), pkt.get());
        avcodec_receive_frame(dec.get(), frame.get());
        av_frame_unref(frame.get());
        av_packet_unref(pkt.get());
    }
    std::printf("ffmpeg png decode     %7.2f ms/frame\n", ms_since(t0) / n);

    const int w = images[0].width, h = images[0].height;
    for (const auto& [name, flags] : std::vector<std::pair<const char*, int>>{
             {"bicubic", SWS_BICUBIC},
             {"bilinear", SWS_BILINEAR},
             {"fast_bilinear", SWS_FAST_BILINEAR},
             {"point", SWS_POINT},
             {"bicubic|accurate_rnd", SWS_BICUBIC | SWS_ACCURATE_RND},
         }) {
        SwsContextPtr sws(sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, flags,
                                         nullptr, nullptr, nullptr));
        const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
        sws_setColorspaceDetails(sws.get(), bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
        FramePtr out = make_frame();
        out->format = AV_PIX_FMT_YUV420P;
        out->width = w;
        out->height = h;
        av_frame_get_buffer(out.get(), 0);
        t0 = Clock::now();
        for (const auto& img : images) {
            const std::uint8_t* src[1] = {img.data()};
            const int stride[1] = {img.stride};
            sws_scale(sws.get(), src, stride, 0, h, out->data, out->linesize);
        }
        std::printf("sws %-22s %7.2f ms/frame\n", name, ms_since(t0) / n);
    }

    {
        FramePtr out = make_frame();
        out->format = AV_PIX_FMT_YUV420P;
        out->width = w;
        out->height = h;
        av_frame_get_buffer(out.get(), 0);
        for (const auto& [kernel, name] :
             {std::pair{YuvKernel::Portable, "portable"}, std::pair{YuvKernel::Best, "best"}}) {
            t0 = Clock::now();
            for (const auto& img : images)
                rgb24_to_yuv420p_bt709(img.data(), img.stride, w, h, out->data, out->linesize,
                                       kernel);
            std::printf("bt709 converter, %-8s %5.2f ms/frame%s\n", name, ms_since(t0) / n,
                        kernel == YuvKernel::Best && yuv_kernel_has_avx2() ? " (AVX2)" : "");
        }
    }

    FrameConverter conv(Canvas{w, h});
    t0 = Clock::now();
    for (const auto& img : images) conv.convert(img);
    std::printf("FrameConverter        %7.2f ms/frame\n", ms_since(t0) / n);
    return 0;
}

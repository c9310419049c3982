// LD_PRELOAD shim for codecs_test: makes the encoder named by RENDERER_TEST_HIDE_ENCODER look
// absent from libavcodec (avcodec_find_encoder_by_name answers null for it), so the real binary
// meets a libavcodec built without that encoder. Every other name goes to libavcodec.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

extern "C" {
#include <libavcodec/avcodec.h>

const AVCodec* avcodec_find_encoder_by_name(const char* name) {
    using Find = const AVCodec* (*)(const char*);
    const char* hidden = std::getenv("RENDERER_TEST_HIDE_ENCODER");
    if (hidden != nullptr && name != nullptr && std::strcmp(name, hidden) == 0) return nullptr;
    const auto next = reinterpret_cast<Find>(dlsym(RTLD_NEXT, "avcodec_find_encoder_by_name"));
    return next != nullptr ? next(name) : nullptr;
}
}

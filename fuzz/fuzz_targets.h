// The fuzz targets: one function per input the service takes from outside. Each returns 0 and
// treats a renderer::Error of the expected class as a correct refusal; anything else (another
// exception, a broken invariant, a sanitizer report) is a finding. libFuzzer calls them through
// LLVMFuzzerTestOneInput (built with -Dfuzz=true); the fuzz_regression test suite replays the
// committed corpora and every past crash through the same functions with GCC's sanitizers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace renderer::fuzz {

int job_list(const std::uint8_t* data, std::size_t size);   // GET /api/render-jobs answers
int claim(const std::uint8_t* data, std::size_t size);      // claim/heartbeat/status bodies
int config(const std::uint8_t* data, std::size_t size);     // env values and their parsers
int png(const std::uint8_t* data, std::size_t size);        // the PNG frame loader
int preflight(const std::uint8_t* data, std::size_t size);  // preflight over arbitrary files
int tar(const std::uint8_t* data, std::size_t size);        // a frames .tar (frames_url)

// A broken invariant: prints what and aborts, which libFuzzer and the tests report as a crash.
[[noreturn]] void violated(const char* what);
inline void require(bool ok, const char* what) {
    if (!ok) violated(what);
}

}  // namespace renderer::fuzz

// Each target's file ends with RENDERER_FUZZ_ENTRY(fn): the libFuzzer entry point in a fuzz
// build, nothing elsewhere (several targets share one test binary).
#ifdef RENDERER_FUZZ_MAIN
#define RENDERER_FUZZ_ENTRY(fn)                                                         \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
        return fn(data, size);                                                          \
    }
#else
#define RENDERER_FUZZ_ENTRY(fn)
#endif

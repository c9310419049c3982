#include "fuzz/fuzz_targets.h"

#include <cstdio>
#include <cstdlib>

namespace renderer::fuzz {

void violated(const char* what) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
}

}  // namespace renderer::fuzz

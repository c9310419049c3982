// Replays every fuzz target's committed corpus (fuzz/corpus/<target>/) and every crash a fuzz
// run ever found (fuzz/regressions/<target>/) through the same target functions, built here
// with this test build's compiler and sanitizers. A finding aborts the binary: a failed suite.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/fuzz_targets.h"

namespace renderer::testing {
namespace {

namespace fs = std::filesystem;

struct Target {
    const char* name;
    std::function<int(const std::uint8_t*, std::size_t)> fn;
};

fs::path fuzz_dir() {
    const char* v = std::getenv("RENDERER_FUZZ_DIR");
    return v != nullptr ? fs::path(v) : fs::path(RENDERER_SOURCE_ROOT) / "fuzz";
}

// Files of fuzz/<kind>/<target>/, sorted so a failure names the same input every run.
std::vector<fs::path> inputs(const std::string& kind, const std::string& target) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fuzz_dir() / kind / target, ec)) {
        if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

class FuzzRegressionTest : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzRegressionTest, CorpusAndPastCrashesRunClean) {
    const auto& t = GetParam();
    const auto corpus = inputs("corpus", t.name);
    const auto crashes = inputs("regressions", t.name);
    EXPECT_GE(corpus.size(), 3u) << "every target has a committed seed corpus";
    for (const auto* list : {&corpus, &crashes}) {
        for (const auto& path : *list) {
            SCOPED_TRACE(path.string());
            std::ifstream in(path, std::ios::binary);
            const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                                  std::istreambuf_iterator<char>());
            EXPECT_EQ(t.fn(bytes.data(), bytes.size()), 0);
        }
    }
    RecordProperty("inputs", static_cast<int>(corpus.size() + crashes.size()));
    std::printf("fuzz_regression %s: %zu corpus inputs, %zu past crashes\n", t.name, corpus.size(),
                crashes.size());
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzRegressionTest,
                         ::testing::Values(Target{"job_list", fuzz::job_list},
                                           Target{"claim", fuzz::claim},
                                           Target{"config", fuzz::config}, Target{"png", fuzz::png},
                                           Target{"preflight", fuzz::preflight},
                                           Target{"tar", fuzz::tar}),
                         [](const auto& param) { return std::string(param.param.name); });

}  // namespace
}  // namespace renderer::testing

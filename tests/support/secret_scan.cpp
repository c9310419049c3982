#include "support/secret_scan.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace renderer::testing {
namespace {

// Calls `fn(path)` for each regular file under `dir`, without following symlinks.
template <typename Fn>
int for_each_file(const std::filesystem::path& dir, Fn&& fn) {
    int n = 0;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return 0;
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec)) {
        std::error_code entry_ec;
        if (it->is_symlink(entry_ec) || !it->is_regular_file(entry_ec)) continue;
        fn(it->path());
        ++n;
    }
    return n;
}

int scan(std::string_view secret, const SecretScan& s, std::vector<std::string>& found) {
    int scanned = 0;
    for (const auto& [label, text] : s.texts) {
        ++scanned;
        if (text.find(secret) != std::string::npos) found.push_back(label);
    }
    for (const auto& dir : s.dirs) {
        scanned += for_each_file(dir, [&](const std::filesystem::path& p) {
            if (std::find(s.exclude.begin(), s.exclude.end(), p) != s.exclude.end()) return;
            if (read_text(p).find(secret) != std::string::npos) found.push_back(p.string());
        });
    }
    return scanned;
}

}  // namespace

std::vector<std::string> find_secret(std::string_view secret, const SecretScan& s) {
    std::vector<std::string> found;
    scan(secret, s, found);
    return found;
}

int expect_no_secret(std::string_view secret, const SecretScan& s) {
    EXPECT_FALSE(secret.empty());
    std::vector<std::string> found;
    const int scanned = scan(secret, s, found);
    for (const auto& where : found) ADD_FAILURE() << "the API token leaked into " << where;
    return scanned;
}

}  // namespace renderer::testing

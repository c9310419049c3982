// The secrets check every hardening test ends with: the API token appears nowhere in what the
// program printed, nor in any file it wrote (outputs, temp and work dirs, logs, reports).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace renderer::testing {

struct SecretScan {
    // Captured streams: a label ("worker 1 stdout") and the text.
    std::vector<std::pair<std::string, std::string>> texts;
    // Every regular file under these (recursively, hidden ones too; symlinks not followed).
    std::vector<std::filesystem::path> dirs;
    // Files the test itself wrote the token into on purpose (a token file).
    std::vector<std::filesystem::path> exclude;
};

// Where `secret` was found: one "label" or file path per place; empty when nowhere.
std::vector<std::string> find_secret(std::string_view secret, const SecretScan& scan);

// Adds a test failure naming each place where `secret` was found; returns how many files and
// texts were scanned, so a test can show the check was not vacuous.
int expect_no_secret(std::string_view secret, const SecretScan& scan);

}  // namespace renderer::testing

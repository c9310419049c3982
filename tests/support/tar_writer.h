// Tar archives for the tests, written with libarchive exactly as described, hostile entries
// included (libarchive's writer checks no names): "../x.png", absolute names, links, FIFOs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace renderer::testing {

struct TarEntry {
    enum class Kind { File, Directory, Symlink, Hardlink, Fifo };
    std::string name;
    std::string data;  // File: the contents
    Kind kind = Kind::File;
    std::string link;  // Symlink / Hardlink: the target
};

// Writes `entries` in order to `path` as a pax (restricted) tar.
void write_tar(const std::filesystem::path& path, const std::vector<TarEntry>& entries);

// The demo story's frames (testdata/stories/demo/part1/frames) as entries named PREFIX+NAME.
std::vector<TarEntry> demo_frame_entries(const std::string& prefix = {});

}  // namespace renderer::testing

// Frames delivered as a .tar (frames_url, storage/remote_tar): arbitrary bytes as the archive.
// Extraction must refuse with PreflightError, or write only top-level regular .png files into
// the frames dir, as many and as large as it says, within the limits; nothing anywhere else.
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/error.h"
#include "fuzz/fuzz_targets.h"
#include "storage/remote_frames.h"
#include "storage/remote_tar.h"

namespace renderer::fuzz {
namespace {

namespace fs = std::filesystem;

struct Dirs {
    fs::path root, frames, archive;
    ~Dirs() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

const Dirs& dirs() {
    static const Dirs d = [] {
        std::string tmpl = (fs::temp_directory_path() / "renderer-fuzz-tar-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) violated("mkdtemp failed");
        const fs::path root(tmpl);
        return Dirs{root, root / "job" / "frames", root / "in.tar"};
    }();
    return d;
}

}  // namespace

int tar(const std::uint8_t* data, std::size_t size) {
    const auto& d = dirs();
    std::error_code ec;
    fs::remove_all(d.root / "job", ec);
    fs::create_directories(d.frames);
    std::ofstream(d.archive, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    storage::StorageLimits limits;
    limits.max_files = 64;
    limits.max_bytes = 1 << 20;
    limits.min_free_bytes = 0;
    try {
        const auto got = storage::extract_frames_tar(d.archive, d.frames, limits,
                                                     "https://fuzz.example/in.tar", {});
        std::size_t files = 0;
        std::uint64_t bytes = 0;
        for (const auto& e : fs::directory_iterator(d.frames)) {
            require(e.is_regular_file() && !e.is_symlink(), "extracted a non-regular file");
            const auto name = e.path().filename().string();
            require(storage::frame_name(name, "") == name, "extracted a name frame_name refuses");
            ++files;
            bytes += e.file_size();
        }
        require(files == got.files && bytes == got.bytes, "the result miscounts the files");
        require(files >= 1 && files <= limits.max_files && bytes <= limits.max_bytes,
                "extracted past a limit");
    } catch (const Error& e) {
        require(e.error_class() == ErrorClass::PreflightError, "refused with another class");
        require(fs::is_empty(d.frames), "a refusal left files behind");
    }
    // Nothing but the archive and the job dir, whatever the names in the archive said.
    for (const auto& e : fs::directory_iterator(d.root)) {
        require(e.path() == d.archive || e.path() == d.root / "job", "wrote outside the job");
    }
    for (const auto& e : fs::directory_iterator(d.root / "job")) {
        require(e.path() == d.frames, "wrote beside the frames dir");
    }
    return 0;
}

}  // namespace renderer::fuzz

RENDERER_FUZZ_ENTRY(renderer::fuzz::tar)

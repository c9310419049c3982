// Byte buffers that skip zero-filling, and whole files read into them: frames are read and
// decoded into memory that is written in full, where zeroing it first is measurable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace renderer {

// An allocator that leaves new elements default-initialised (bytes: uninitialised): decode
// buffers are written in full, and zero-filling 6 MB per 1080p frame first is measurable.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
    template <typename U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    using std::allocator<T>::allocator;
    template <typename U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
using ByteBuffer = std::vector<std::uint8_t, DefaultInitAllocator<std::uint8_t>>;

// The whole file into `out`, reusing its capacity. Throws Error(IoError) "<what> '<file name>':
// cannot open|read: <reason>": a file that was there and cannot be read now is the filesystem's
// doing (removed meanwhile, a failing disk), transient, not the fault of its contents.
void read_file_into(const std::filesystem::path& path, ByteBuffer& out,
                    std::string_view what = "file");
// The same into a new vector.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path,
                                          std::string_view what = "file");

}  // namespace renderer

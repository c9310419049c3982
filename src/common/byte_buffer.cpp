#include "common/byte_buffer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"

namespace renderer {
namespace {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

[[noreturn]] void io_fail(std::string_view what, const std::filesystem::path& path,
                          std::string_view why) {
    throw Error(ErrorClass::IoError,
                fmt::format("{} '{}': {}", what, path.filename().string(), why));
}

}  // namespace

void read_file_into(const std::filesystem::path& path, ByteBuffer& out, std::string_view what) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) io_fail(what, path, fmt::format("cannot open: {}", std::strerror(errno)));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) io_fail(what, path, std::strerror(errno));
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        const auto n = ::read(f.fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) io_fail(what, path, fmt::format("cannot read: {}", std::strerror(errno)));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
}

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path,
                                          std::string_view what) {
    ByteBuffer buf;
    read_file_into(path, buf, what);
    return {buf.begin(), buf.end()};
}

}  // namespace renderer

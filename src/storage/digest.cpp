#include "storage/digest.h"

#include <fstream>
#include <memory>
#include <new>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "common/error.h"

namespace renderer::storage {
namespace {

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// libcrypto fails these only when it cannot allocate.
void check(int rc) {
    if (rc != 1) throw std::bad_alloc();
}

MdCtxPtr start(const EVP_MD* md) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    check(EVP_DigestInit_ex(ctx.get(), md, nullptr));
    return ctx;
}

std::string finish(EVP_MD_CTX* ctx) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    check(EVP_DigestFinal_ex(ctx, out, &len));
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string digest(const EVP_MD* md, std::string_view data) {
    auto ctx = start(md);
    check(EVP_DigestUpdate(ctx.get(), data.data(), data.size()));
    return finish(ctx.get());
}

std::string base64(const std::string& raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(raw.data()),
                                  static_cast<int>(raw.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string file_md5_raw(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorClass::IoError, "cannot read " + path.string());
    auto ctx = start(EVP_md5());
    std::vector<char> block(1 << 20);
    while (in) {
        in.read(block.data(), static_cast<std::streamsize>(block.size()));
        check(EVP_DigestUpdate(ctx.get(), block.data(), static_cast<std::size_t>(in.gcount())));
    }
    if (!in.eof()) throw Error(ErrorClass::IoError, "cannot read " + path.string());
    return finish(ctx.get());
}

}  // namespace

std::string to_hex(std::string_view raw) {
    std::string hex;
    for (const unsigned char c : raw) hex += fmt::format("{:02x}", c);
    return hex;
}

std::string sha256_hex(std::string_view data) { return to_hex(digest(EVP_sha256(), data)); }

std::string sha256_base64(std::string_view data) { return base64(digest(EVP_sha256(), data)); }

std::string md5_raw(std::string_view data) { return digest(EVP_md5(), data); }

std::string file_md5_base64(const std::filesystem::path& path) {
    return base64(file_md5_raw(path));
}

std::string file_md5_hex(const std::filesystem::path& path) { return to_hex(file_md5_raw(path)); }

}  // namespace renderer::storage

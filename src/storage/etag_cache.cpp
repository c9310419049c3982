#include "storage/etag_cache.h"

#include <algorithm>
#include <fstream>
#include <system_error>

#include "storage/digest.h"
#include "storage/remote_url.h"

namespace renderer::storage {
namespace {

namespace fs = std::filesystem;

// Hard link, else copy; both into a temp name renamed into place, so a reader never sees a
// half-made file.
bool link_or_copy(const fs::path& from, const fs::path& to) {
    auto temp = to;
    temp += ".tmp";
    std::error_code ec;
    fs::remove(temp, ec);
    fs::create_hard_link(from, temp, ec);
    if (ec) {
        ec.clear();
        fs::copy_file(from, temp, ec);
        if (ec) return false;
    }
    fs::rename(temp, to, ec);
    if (ec) fs::remove(temp, ec);
    return !ec;
}

// An ETag goes back to the store as If-None-Match: one with a control byte (libcurl passes a
// bare CR inside a header line through) would be refused there by every later job, or split
// the header line.
bool sendable(std::string_view etag) {
    return !etag.empty() && etag.size() <= 256 &&
           std::none_of(etag.begin(), etag.end(),
                        [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

}  // namespace

EtagCache::EtagCache(fs::path dir) : dir_(std::move(dir)) {}

fs::path EtagCache::etag_path(std::string_view url) const {
    return dir_ / (sha256_hex(url_for_log(url)) + ".etag");
}

fs::path EtagCache::data_path(std::string_view url, const std::string& etag) const {
    return dir_ / (sha256_hex(url_for_log(url)) + "." + sha256_hex(etag).substr(0, 16));
}

std::optional<std::string> EtagCache::etag(std::string_view url) const {
    std::ifstream in(etag_path(url), std::ios::binary);
    std::string etag;
    if (!in || !std::getline(in, etag) || !sendable(etag)) return std::nullopt;
    std::error_code ec;
    if (!fs::is_regular_file(data_path(url, etag), ec)) return std::nullopt;
    return etag;
}

bool EtagCache::restore(std::string_view url, const std::string& etag, const fs::path& dest) const {
    return link_or_copy(data_path(url, etag), dest);
}

void EtagCache::store(std::string_view url, const std::string& etag, const fs::path& file) const {
    if (!sendable(etag)) return;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec || !link_or_copy(file, data_path(url, etag))) return;
    const auto previous = this->etag(url);
    auto temp = etag_path(url);
    temp += ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << etag << '\n';
        if (!out) return;
    }
    fs::rename(temp, etag_path(url), ec);
    if (!ec && previous && *previous != etag) fs::remove(data_path(url, *previous), ec);
}

}  // namespace renderer::storage

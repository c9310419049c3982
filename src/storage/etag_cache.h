// Files downloaded by URL, kept in a directory (TMP_DIR/.music-cache) and validated by ETag:
// the next job naming the same URL sends If-None-Match and, on 304, links the cached copy
// instead of downloading it again. Keyed by the URL without its query, so a presigned URL
// signed anew still finds its copy.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace renderer::storage {

class EtagCache {
  public:
    explicit EtagCache(std::filesystem::path dir);

    // The ETag of the cached copy of `url`, if there is one.
    std::optional<std::string> etag(std::string_view url) const;
    // Puts the cached copy of `url` (with `etag`) at `dest`: a hard link, or a copy across file
    // systems. False when the copy is gone (another worker replaced it).
    bool restore(std::string_view url, const std::string& etag,
                 const std::filesystem::path& dest) const;
    // Keeps `file` as the copy of `url` at `etag`, replacing older ones. Failures are ignored:
    // the cache only saves downloads.
    void store(std::string_view url, const std::string& etag,
               const std::filesystem::path& file) const;

  private:
    std::filesystem::path data_path(std::string_view url, const std::string& etag) const;
    std::filesystem::path etag_path(std::string_view url) const;

    std::filesystem::path dir_;
};

}  // namespace renderer::storage

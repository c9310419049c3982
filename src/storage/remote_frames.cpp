#include "storage/remote_frames.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/natural_sort.h"
#include "storage/digest.h"
#include "storage/s3_xml.h"

namespace renderer::storage {
namespace {

constexpr std::size_t kPageKeys = 1000;  // S3's largest page
constexpr std::size_t kMaxNameBytes = 255;

bool has_png_extension(std::string_view name) {
    if (name.size() < 5) return false;
    auto ext = std::string(name.substr(name.size() - 4));
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png";
}

[[noreturn]] void refuse(std::string message) {
    throw Error(ErrorClass::PreflightError, std::move(message));
}

}  // namespace

std::optional<std::string> frame_name(std::string_view key, std::string_view prefix) {
    if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
    const auto name = key.substr(prefix.size());
    if (name.empty() || name.size() > kMaxNameBytes || name.front() == '.') return std::nullopt;
    // '/' would reach outside the frames dir or into a subdirectory; "." and ".." start with
    // '.', refused above; NUL and other control bytes make names no tool shows faithfully.
    const bool clean = std::none_of(name.begin(), name.end(), [](unsigned char c) {
        return c == '/' || c < 0x20 || c == 0x7f;
    });
    if (!clean || !has_png_extension(name)) return std::nullopt;
    return std::string(name);
}

std::vector<RemoteFrame> list_frames(const S3Client& client, S3Location prefix,
                                     const CancelFn& cancelled) {
    if (!prefix.key.empty() && prefix.key.back() != '/') prefix.key += '/';
    const auto& limits = client.config().limits;
    const auto shown = fmt::format("s3://{}/{}", prefix.bucket, prefix.key);
    std::map<std::string, RemoteFrame> by_name;
    std::uint64_t bytes = 0;
    std::size_t listed = 0;
    std::string token;
    std::set<std::string> tokens;
    for (;;) {
        S3Request request{.object = {prefix.bucket, ""},
                          .query = {{"list-type", "2"},
                                    {"prefix", prefix.key},
                                    {"delimiter", "/"},
                                    {"max-keys", std::to_string(kPageKeys)}}};
        if (!token.empty()) request.query.emplace_back("continuation-token", token);
        const auto answer = client.perform(request, {}, cancelled);
        auto page = parse_list_page(answer.body);
        // Subdirectories count as keys, and every page as at least one: neither a prefix of a
        // million subdirectories nor a store answering one key a page lists forever.
        listed += std::max<std::size_t>(page.objects.size() + page.common_prefixes, 1);
        if (listed > limits.max_list_keys) {
            refuse(
                fmt::format("{} lists more than {} objects (STORAGE_MAX_LIST_KEYS): not "
                            "downloaded; point frames_url at a prefix holding only the "
                            "part's frames",
                            shown, limits.max_list_keys));
        }
        for (auto& object : page.objects) {
            auto name = frame_name(object.key, prefix.key);
            if (!name) continue;
            bytes += object.size;
            by_name[*name] = RemoteFrame{std::move(object.key), *name, object.size};
            if (by_name.size() > limits.max_files) {
                refuse(fmt::format("{} holds more than {} frames (STORAGE_MAX_FILES)", shown,
                                   limits.max_files));
            }
            if (bytes > limits.max_bytes) {
                refuse(fmt::format("the frames under {} exceed {} bytes (STORAGE_MAX_BYTES)", shown,
                                   limits.max_bytes));
            }
        }
        if (!page.truncated) break;
        // A token seen before would page the same keys again until STORAGE_MAX_LIST_KEYS.
        // Kept as digests: a hostile store's tokens may be megabytes each.
        if (!tokens.insert(sha256_hex(page.next_token)).second) {
            throw Error(ErrorClass::IoError,
                        fmt::format("listing {}: the storage answered a continuation token it "
                                    "had answered before, so its pages would never end",
                                    shown));
        }
        token = std::move(page.next_token);
    }
    if (by_name.empty()) refuse(fmt::format("{} holds no .png frames", shown));
    std::vector<std::string> names;
    names.reserve(by_name.size());
    for (const auto& [name, frame] : by_name) names.push_back(name);
    natural_sort(names);
    std::vector<RemoteFrame> frames;
    frames.reserve(names.size());
    for (const auto& name : names) frames.push_back(std::move(by_name[name]));
    return frames;
}

}  // namespace renderer::storage

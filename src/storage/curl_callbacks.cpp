#include "storage/curl_callbacks.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace renderer::storage {

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* header_list) {
    auto* headers = static_cast<HeaderList*>(header_list);
    const std::size_t n = size * count;
    std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {
        headers->clear();
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.remove_suffix(1);
    headers->emplace_back(std::move(name), std::string(value));
    return n;
}

std::size_t append_bounded(char* data, std::size_t size, std::size_t count, void* bounded_body) {
    auto* sink = static_cast<BoundedBody*>(bounded_body);
    const std::size_t n = size * count;
    if (sink->body->size() + n > sink->limit) {
        sink->overflow = true;
        return 0;
    }
    sink->body->append(data, n);
    return n;
}

}  // namespace renderer::storage

// The libcurl callbacks every HTTP client here needs: an answer's headers collected by name,
// and a body kept in memory up to a limit.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace renderer::storage {

// An answer's headers, names lower-cased, values trimmed, in the order sent.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// CURLOPT_HEADERFUNCTION with a HeaderList* as CURLOPT_HEADERDATA. A status line starts the
// list afresh, so after a 100 Continue only the final answer's headers remain.
std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* header_list);

struct BoundedBody {
    std::string* body;
    std::size_t limit;
    bool overflow = false;  // the answer was longer than `limit`: the transfer was aborted
};

// CURLOPT_WRITEFUNCTION with a BoundedBody* as CURLOPT_WRITEDATA: past the limit it returns 0,
// which makes libcurl abort the transfer with CURLE_WRITE_ERROR.
std::size_t append_bounded(char* data, std::size_t size, std::size_t count, void* bounded_body);

}  // namespace renderer::storage

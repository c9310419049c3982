// Parsing JSON that came from outside: RapidJSON's iterative parser, so no input can exhaust the
// stack however deeply it nests (the recursive one crashed on 200 KB of '['), and a cap on the
// nesting depth, so nothing that walks the document afterwards (a Writer, our own readers)
// recurses deeply either.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace renderer {

// Far beyond any document the job API exchanges (a job list nests four levels).
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` into `doc`. Returns an empty string on success, else what is wrong and where:
// "Invalid value. at offset 3", "nested more than 64 levels deep at offset 64".
std::string parse_untrusted_json(std::string_view text, rapidjson::Document& doc,
                                 int max_depth = kMaxJsonDepth);

}  // namespace renderer

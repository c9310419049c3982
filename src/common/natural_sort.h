// Locale-independent natural ordering: "frame_2" < "frame_10"; ties broken bytewise so the
// order is total and deterministic.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace renderer {

bool natural_less(std::string_view a, std::string_view b);
void natural_sort(std::vector<std::string>& names);

}  // namespace renderer

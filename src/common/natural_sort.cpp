#include "common/natural_sort.h"

#include <algorithm>

namespace renderer {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Compares the digit runs a and b by numeric value without converting (runs may be long).
int compare_numbers(std::string_view a, std::string_view b) {
    const auto strip = [](std::string_view s) {
        const auto nz = s.find_first_not_of('0');
        return nz == std::string_view::npos ? std::string_view{} : s.substr(nz);
    };
    const auto sa = strip(a), sb = strip(b);
    if (sa.size() != sb.size()) return sa.size() < sb.size() ? -1 : 1;
    if (const int c = sa.compare(sb); c != 0) return c < 0 ? -1 : 1;
    return 0;
}

}  // namespace

bool natural_less(std::string_view a, std::string_view b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            std::size_t ie = i, je = j;
            while (ie < a.size() && is_digit(a[ie])) ++ie;
            while (je < b.size() && is_digit(b[je])) ++je;
            if (const int c = compare_numbers(a.substr(i, ie - i), b.substr(j, je - j)); c != 0)
                return c < 0;
            i = ie;
            j = je;
        } else {
            const auto ca = static_cast<unsigned char>(a[i]), cb = static_cast<unsigned char>(b[j]);
            if (ca != cb) return ca < cb;
            ++i;
            ++j;
        }
    }
    if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
    return a < b;  // equal under the natural order ("f01" vs "f1"): fall back to bytes
}

void natural_sort(std::vector<std::string>& names) {
    std::sort(names.begin(), names.end(),
              [](const std::string& a, const std::string& b) { return natural_less(a, b); });
}

}  // namespace renderer

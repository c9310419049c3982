#include "common/time_format.h"

#include <cstdio>
#include <ctime>

namespace renderer {
namespace {

// The `count` decimal digits at `pos`; clears `ok` when they are not all digits or not there.
int digits(std::string_view s, std::size_t pos, std::size_t count, bool& ok) {
    int v = 0;
    if (pos + count > s.size()) {
        ok = false;
        return 0;
    }
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (s[i] < '0' || s[i] > '9') ok = false;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

}  // namespace

std::string format_utc_millis(std::chrono::system_clock::time_point tp) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch());
    const auto secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
    return buf;
}

std::string format_http_date(std::chrono::system_clock::time_point tp) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto secs =
        std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(tp));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
    bool ok = s.size() >= 20 && s[4] == '-' && s[7] == '-' &&
              (s[10] == 'T' || s[10] == 't' || s[10] == ' ') && s[13] == ':' && s[16] == ':';
    if (!ok) return std::nullopt;
    const int year = digits(s, 0, 4, ok), month = digits(s, 5, 2, ok), day = digits(s, 8, 2, ok);
    const int hour = digits(s, 11, 2, ok), minute = digits(s, 14, 2, ok),
              second = digits(s, 17, 2, ok);
    if (!ok) return std::nullopt;
    std::size_t pos = 19;
    std::chrono::nanoseconds fraction{0};
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::int64_t scale = 100000000, nanos = 0;
        const std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            nanos += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) return std::nullopt;
        fraction = std::chrono::nanoseconds(nanos);
    }
    std::chrono::minutes offset{0};
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
        const int oh = digits(s, pos + 1, 2, ok), om = digits(s, pos + 4, 2, ok);
        if (!ok) return std::nullopt;
        offset = std::chrono::minutes(oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year(year),
                                          std::chrono::month(static_cast<unsigned>(month)),
                                          std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    // The wall clock counts nanoseconds in 64 bits: years outside 1678-2261 overflow it (found
    // by fuzzing: "9336-01-01T00:00:00Z" was undefined behaviour). No lease expires outside
    // 1970-2200, so anything else is refused as a malformed time.
    if (year < 1970 || year > 2200) return std::nullopt;
    const auto tp = std::chrono::sys_days(ymd) + std::chrono::hours(hour) +
                    std::chrono::minutes(minute) + std::chrono::seconds(second) + fraction - offset;
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(tp);
}

}  // namespace renderer

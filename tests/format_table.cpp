// SPDX-License-Identifier: MIT
// Prints what the C++ byte formatters write for a fixed table of figures, as a JSON array
// of {"bytes": "<decimal>", "text": format_memory(), "signed": format_signed_memory(),
// "plus": format_signed_memory(, true)}; "text" is null for a negative figure, "signed"
// and "plus" for one beyond int64_t. tests/e2e/format.test.mjs checks the page's
// formatter (web/static/format.js) against every row.
//
// The figures: unit boundaries, values that round up to the next unit's worth without
// changing unit, exact ties at each number of decimals (to_chars breaks them to even),
// and figures a double cannot hold exactly (the page reads them from JSON as doubles, the
// C++ formatter converts to double: both round to nearest).

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "memscope/format.hpp"

namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = kKiB * 1024;
constexpr std::uint64_t kGiB = kMiB * 1024;
constexpr std::uint64_t k2p53 = std::uint64_t{1} << 53;
constexpr std::uint64_t k2p63 = std::uint64_t{1} << 63;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// One line per kind of figure.
// clang-format off
constexpr std::uint64_t kUnsigned[] = {
    // whole bytes
    0, 1, 2, 500, 999, 1000, 1023,
    // KB, its exact ties (n.25 and n.75 KiB) and their neighbours
    kKiB, kKiB + 1, 1075, 1076, 1279, 1280, 1281, 1536, 1792, 2048, 2304, 2816,
    // up to 1024.0 KB, still in KB
    10239, 10240, 102399, 1047808, 1048320, 1048524, 1048525, 1048575,
    // MB and its ties, up to 1024.0 MB
    kMiB, kMiB + 1, 1310720, 1835008, 5 * kMiB, 10 * kMiB - 1, 1073689395, 1073689396, kGiB - 1,
    // GB (2 decimals): ties at odd eighths of a GiB, their neighbours, 1.005 GiB around
    kGiB, kGiB + 1, 1207959551, 1207959552, 1207959553, 1476395008, 1744830464, 2013265920,
    1079110533, 1079110534, 10 * kGiB - 1, 1024 * kGiB, 1024 * kGiB + kGiB / 8,
    // doubles stop holding every integer at 2^53
    k2p53 - 1, k2p53, k2p53 + 1, k2p53 + 2, k2p53 + 3,
    // a tie past 2^53, and one that is a tie only once converted to a double
    (std::uint64_t{1} << 60) + (std::uint64_t{1} << 27),
    (std::uint64_t{1} << 60) + (std::uint64_t{1} << 27) + 1,
    // int64_t's largest, and ties above it
    k2p63 - 1, k2p63, k2p63 + (std::uint64_t{1} << 27), k2p63 + (std::uint64_t{1} << 27) + 1,
    // size_t's largest and its neighbours, which a double rounds to 2^64
    kMax - 2048, kMax - 1024, kMax - 1023, kMax,
};

constexpr std::int64_t kNegative[] = {
    -1, -1023, -1024, -1280, -1281, -1048575, -1048576, -1073741823, -1207959552, -1207959553,
    -static_cast<std::int64_t>(k2p53) - 1,
    std::numeric_limits<std::int64_t>::min() + 1, std::numeric_limits<std::int64_t>::min(),
};
// clang-format on

std::string quoted(const std::string& text) {
    return '"' + text + '"';  // the formatters write digits, letters, ".", "+", "-" and " "
}

void print_row(bool& first, const std::string& bytes, const std::string& text,
               const std::string& signed_text, const std::string& plus_text) {
    std::printf("%s\n  {\"bytes\": \"%s\", \"text\": %s, \"signed\": %s, \"plus\": %s}",
                first ? "" : ",", bytes.c_str(), text.c_str(), signed_text.c_str(),
                plus_text.c_str());
    first = false;
}

}  // namespace

int main() {
    using memscope::format_memory;
    using memscope::format_signed_memory;
    bool first = true;
    std::printf("[");
    for (const std::uint64_t bytes : kUnsigned) {
        const bool fits =
            bytes <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        const auto as_signed = static_cast<std::int64_t>(bytes);
        print_row(first, std::to_string(bytes), quoted(format_memory(bytes)),
                  fits ? quoted(format_signed_memory(as_signed)) : "null",
                  fits ? quoted(format_signed_memory(as_signed, true)) : "null");
    }
    for (const std::int64_t bytes : kNegative) {
        print_row(first, std::to_string(bytes), "null", quoted(format_signed_memory(bytes)),
                  quoted(format_signed_memory(bytes, true)));
    }
    std::printf("\n]\n");
    return 0;
}

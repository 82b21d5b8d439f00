// SPDX-License-Identifier: MIT
// format_memory(): the specification's digits and unit boundaries.

#include <doctest/doctest.h>

#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <memscope/format.hpp>

using memscope::format_memory;

TEST_CASE("format_memory uses the specification's units and digits") {
    CHECK(format_memory(0) == "0 B");
    CHECK(format_memory(500) == "500 B");
    CHECK(format_memory(1023) == "1023 B");
    CHECK(format_memory(1024) == "1.0 KB");
    CHECK(format_memory(2048) == "2.0 KB");
    CHECK(format_memory(1536) == "1.5 KB");
    CHECK(format_memory(1024 * 1024 - 1) == "1024.0 KB");
    CHECK(format_memory(1024 * 1024) == "1.0 MB");
    CHECK(format_memory(5'242'880) == "5.0 MB");
    CHECK(format_memory(1'073'741'824) == "1.00 GB");
    CHECK(format_memory(1'610'612'736) == "1.50 GB");
    CHECK(format_memory(std::size_t{4096} << 20) == "4.00 GB");
}

// format_memory() uses std::to_chars for speed; printf is the reference for its digits.
std::string printf_reference(std::size_t bytes) {
    const double b = static_cast<double>(bytes);
    char buf[64];
    if (b >= 1073741824.0)
        std::snprintf(buf, sizeof buf, "%.2f GB", b / 1073741824.0);
    else if (b >= 1048576.0)
        std::snprintf(buf, sizeof buf, "%.1f MB", b / 1048576.0);
    else if (b >= 1024.0)
        std::snprintf(buf, sizeof buf, "%.1f KB", b / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%zu B", bytes);
    return buf;
}

TEST_CASE("format_memory rounds exactly as printf does, ties included") {
    std::vector<std::size_t> values = {
        0,       1,       1023,       1024,       1025,
        1048575, 1048576, 1073741823, 1073741824, std::numeric_limits<std::size_t>::max()};
    // Boundaries of every rounding step, and values whose next digit is a 5 (ties).
    for (std::size_t scale : {std::size_t{1024}, std::size_t{1} << 20, std::size_t{1} << 30}) {
        for (std::size_t k = 1; k < 3000; k += 7) {
            values.push_back(k * scale / 20);
            values.push_back(k * scale / 20 + 1);
            values.push_back(k * scale / 200 - 1);
        }
    }
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) values.push_back(rng() >> (rng() % 64));
    for (std::size_t v : values) REQUIRE_MESSAGE(format_memory(v) == printf_reference(v), v);
}

TEST_CASE("format_seconds never shows a short time as zero") {
    CHECK(memscope::format_seconds(0.0) == "0 s");
    CHECK(memscope::format_seconds(-1.0) == "0 s");
    CHECK(memscope::format_seconds(0.0004) == "0.4 ms");
    CHECK(memscope::format_seconds(0.012) == "12 ms");
    CHECK(memscope::format_seconds(0.04) == "40 ms");
    CHECK(memscope::format_seconds(0.1) == "0.1 s");
    CHECK(memscope::format_seconds(2.34) == "2.3 s");
    CHECK(memscope::format_seconds(60.0) == "60 s");
}

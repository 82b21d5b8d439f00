// format_memory(): the specification's digits and unit boundaries.

#include <doctest/doctest.h>

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

// SPDX-License-Identifier: MIT
// parse_size(): every accepted form gives the exact byte count, and everything else is
// refused with the reason the config file's messages quote.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <memscope/units.hpp>

namespace {

using memscope::parse_size;

constexpr std::uint64_t kKiB = std::uint64_t{1} << 10;
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kTiB = std::uint64_t{1} << 40;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

struct Good {
    const char* text;
    std::uint64_t bytes;
};

struct Bad {
    std::string_view text;
    const char* error;
};

}  // namespace

TEST_CASE("parse_size reads the issue's three examples exactly") {
    CHECK(parse_size("512 MiB") == 512 * kMiB);
    CHECK(parse_size("1.5 GB") == 1610612736u);  // 1.5 * 2^30, not 1.5e9
    CHECK(parse_size("300MB") == 300 * kMiB);
}

TEST_CASE("parse_size accepts bytes and every unit, case-insensitive, all 1024-based") {
    const Good cases[] = {
        {"0", 0},
        {"1", 1},
        {"1048576", kMiB},
        {"007", 7},
        {"18446744073709551615", kMax},
        {"1B", 1},
        {"1 b", 1},
        {"64k", 64 * kKiB},
        {"64 K", 64 * kKiB},
        {"2kb", 2 * kKiB},
        {"2 KB", 2 * kKiB},
        {"2 KiB", 2 * kKiB},
        {"2 kIb", 2 * kKiB},
        {"3 m", 3 * kMiB},
        {"3 MB", 3 * kMiB},
        {"3 mib", 3 * kMiB},
        {"4G", 4 * kGiB},
        {"4 gb", 4 * kGiB},
        {"4 GiB", 4 * kGiB},
        {"1 T", kTiB},
        {"1 TB", kTiB},
        {"1 TiB", kTiB},
        {"1   MiB", kMiB},  // any number of spaces between number and unit
        {"0 GiB", 0},
        {"0.5 K", 512},
        {"0.75 MiB", 768 * kKiB},
        {"1.25 GiB", 5 * kGiB / 4},
        {"1.5 TiB", 3 * kTiB / 2},
        // Rounded to the nearest byte, halves up: 0.00048828125 KiB is exactly 0.5 bytes.
        {"0.00048828125 K", 1},
        {"0.00048828124 K", 0},
        {"0.0009765625 KiB", 1},
        {"1.0009765625 KiB", 1025},
        // Digits past the 41st cannot change the rounding, however many there are.
        {"1.00000000000000000000000000000000000000000000000000000001 TiB", kTiB},
        {"0.99999999999999999999999999999999999999999999999999999999 KiB", kKiB},
        // The largest sizes that still fit.
        {"16777215 TiB", kMax - kTiB + 1},
        {"16777215.999999999999 TiB", kMax},
        {"17179869183 GiB", kMax - kGiB + 1},
    };
    for (const Good& c : cases) {
        CAPTURE(c.text);
        std::string error = "untouched";
        const auto bytes = parse_size(c.text, &error);
        REQUIRE(bytes.has_value());
        CHECK(*bytes == c.bytes);
        CHECK(error == "untouched");  // set only on failure
    }
}

TEST_CASE("parse_size refuses anything else with a reason") {
    using namespace std::string_view_literals;
    const Bad cases[] = {
        {"", "empty size"},
        {"-1", "negative size"},
        {"-1 MB", "negative size"},
        {"-0", "negative size"},
        {"+1", "a leading '+' is not allowed"},
        {"12 XB", "unknown unit \"XB\""},
        {"5 PiB", "unknown unit \"PiB\""},
        {"5 bytes", "unknown unit \"bytes\""},
        {"1e3", "unknown unit \"e\""},
        {"0x10", "hexadecimal sizes are not supported"},
        {"18446744073709551616", "size overflows 64 bits"},
        {"99999999999999999999999999999999", "size overflows 64 bits"},
        {"16777216 TiB", "size overflows 64 bits"},
        {"17179869184 GiB", "size overflows 64 bits"},
        {"16777215.9999999999999999999999999999999999 TiB", "size overflows 64 bits"},
        {"1.5", "a size in bytes must be a whole number (use a larger unit, e.g. \"1.5 KiB\")"},
        {"1.5 B", "a size in bytes must be a whole number (use a larger unit, e.g. \"1.5 KiB\")"},
        {"1.", "expected a digit after '.'"},
        {"1. MB", "expected a digit after '.'"},
        {".5 MB", "expected a number of bytes, or a number and a unit, got \".5 MB\""},
        {"nan", "expected a number of bytes, or a number and a unit, got \"nan\""},
        {"inf", "expected a number of bytes, or a number and a unit, got \"inf\""},
        {"MB", "expected a number of bytes, or a number and a unit, got \"MB\""},
        {" 5", "expected a number of bytes, or a number and a unit, got \" 5\""},
        {"5 ", "unexpected text \" \" after the number"},
        {"1 000", "unexpected text \" 000\" after the number"},
        {"1,5 MB", "unexpected text \",5 MB\" after the number"},
        {"5 MB ", "trailing text \" \""},
        {"5 MB/s", "trailing text \"/s\""},
        {"5 M B", "trailing text \" B\""},
        {"5\0MB"sv, "unexpected text \"\\u0000MB\" after the number"},
        {"5\xff", "unexpected text \"\\xFF\" after the number"},
    };
    for (const Bad& c : cases) {
        CAPTURE(c.text);
        std::string error;
        CHECK_FALSE(parse_size(c.text, &error).has_value());
        CHECK(error == c.error);
        CHECK_FALSE(parse_size(c.text).has_value());  // no error string wanted: still refused
    }
}

TEST_CASE("parse_size handles very long inputs without overflow or slowness") {
    const std::string zeros(100000, '0');
    CHECK(parse_size(zeros + "1 KiB") == kKiB);
    CHECK(parse_size("1." + zeros + "1 TiB") == kTiB);
    std::string error;
    CHECK_FALSE(parse_size(std::string(100000, '9'), &error));
    CHECK(error == "size overflows 64 bits");
    CHECK_FALSE(parse_size("1 " + std::string(100000, 'k'), &error));
    CHECK(error.size() < 200);  // the message quotes a bounded excerpt
}

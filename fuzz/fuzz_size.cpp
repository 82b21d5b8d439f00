// SPDX-License-Identifier: MIT
// Fuzz target: parse_size(), the size-unit parser ("512 MiB", "1.5 GB", "300MB").
//
// Input: the bytes are the text, as is.
//
// Checks, beyond "no crash, no sanitizer report":
//   - the result equals that of a second, independent parser written here from the
//     documented grammar (exact 128-bit arithmetic instead of the library's digit
//     doubling): same acceptance, same value, overflow refused as an overflow;
//   - the error string is untouched on success, a one-line UTF-8 phrase on failure;
//   - what format_memory() prints for the value parses back to within the rounding of
//     its digits (unless the rounded figure no longer fits in 64 bits).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "memscope/format.hpp"
#include "memscope/units.hpp"

namespace {

using memscope::fuzz::printable;
__extension__ typedef unsigned __int128 u128;  // -Wpedantic: a GNU extension

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// What the reference parser makes of a text.
struct Expected {
    enum Kind { refused, overflow, exact, between } kind = refused;
    std::uint64_t value = 0;    // exact: the value; between: the lower bound
    std::uint64_t high = 0;     // between: the upper bound
    bool may_overflow = false;  // between: the upper bound is beyond 64 bits
};

bool digit(char c) {
    return c >= '0' && c <= '9';
}
bool letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// log2 of a unit: a letter b/k/m/g/t, then nothing, "b" or "ib" (any case), "b" alone
// for bytes. -1 when it is none of these.
int unit_bits(std::string_view unit) {
    if (unit.empty()) return 0;
    std::string u(unit);
    std::transform(u.begin(), u.end(), u.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    if (u == "b") return 0;
    const std::string_view letters = "kmgt";
    const std::size_t at = letters.find(u[0]);
    if (at == std::string_view::npos) return -1;
    const std::string_view tail = std::string_view(u).substr(1);
    if (tail != "" && tail != "b" && tail != "ib") return -1;
    return 10 * static_cast<int>(at + 1);
}

// round(f / 10^k * 2^bits), halves up, for f < 10^k <= 10^18: exact in 128 bits.
u128 scaled_fraction(std::uint64_t f, int k, int bits) {
    u128 p = 1;
    for (int i = 0; i < k; ++i) p *= 10;
    return ((u128{f} << (bits + 1)) + p) / (2 * p);
}

// The grammar of format.hpp: digits, optionally '.' digits, then either the end, or
// optional spaces and a unit. A fraction needs a unit larger than bytes.
Expected reference(std::string_view text) {
    Expected e;
    std::size_t i = 0;
    while (i < text.size() && digit(text[i])) ++i;
    const std::string_view whole = text.substr(0, i);
    if (whole.empty()) return e;
    std::string_view fraction;
    bool point = false;
    if (i < text.size() && text[i] == '.') {
        point = true;
        const std::size_t start = ++i;
        while (i < text.size() && digit(text[i])) ++i;
        fraction = text.substr(start, i - start);
        if (fraction.empty()) return e;
    }
    std::size_t unit_start = i;
    while (unit_start < text.size() && text[unit_start] == ' ') ++unit_start;
    std::size_t unit_end = unit_start;
    while (unit_end < text.size() && letter(text[unit_end])) ++unit_end;
    if (unit_end != text.size()) return e;
    const std::string_view unit = text.substr(unit_start);
    if (unit.empty() && unit_start != i) return e;  // spaces but no unit
    const int bits = unit_bits(unit);
    if (bits < 0 || (point && bits == 0)) return e;

    // Whole part, saturating: more than 64 bits is an overflow whatever follows.
    u128 w = 0;
    for (char c : whole) {
        w = w * 10 + static_cast<unsigned>(c - '0');
        if (w > kMax) {
            e.kind = Expected::overflow;
            return e;
        }
    }
    const u128 base = w << bits;
    // The first 18 fraction digits give the value exactly, or bound it: rounding is
    // monotonic, so the value lies between the results for the truncated fraction and
    // for it plus one unit of its last digit.
    const int k = static_cast<int>(std::min<std::size_t>(fraction.size(), 18));
    std::uint64_t f = 0;
    for (int d = 0; d < k; ++d) f = f * 10 + static_cast<unsigned>(fraction[d] - '0');
    const bool longer = fraction.size() > 18 &&
                        fraction.substr(18).find_first_not_of('0') != std::string_view::npos;
    const u128 low = base + scaled_fraction(f, k, bits);
    const u128 high = longer ? base + scaled_fraction(f + 1, k, bits) : low;
    if (low > kMax) {
        e.kind = Expected::overflow;
    } else if (high == low) {
        e.kind = Expected::exact;
        e.value = static_cast<std::uint64_t>(low);
    } else {
        e.kind = Expected::between;
        e.value = static_cast<std::uint64_t>(low);
        e.may_overflow = high > kMax;
        e.high = e.may_overflow ? kMax : static_cast<std::uint64_t>(high);
    }
    return e;
}

std::string describe(std::string_view text, std::optional<std::uint64_t> got,
                     const std::string& why) {
    std::string s = "input \"" + printable(text) + "\": ";
    s += got ? "parsed as " + std::to_string(*got) : "refused: " + why;
    return s;
}

// format_memory() prints 2 decimals of GiB, 1 of MiB or KiB, or exact bytes; parsing that
// back lands within half a unit of the last digit, plus the double's own rounding of the
// value (at most 2^11 bytes below 2^64) and half a byte.
void check_round_trip(std::uint64_t value) {
    const std::string text = memscope::format_memory(value);
    std::string why;
    const auto back = memscope::parse_size(text, &why);
    double slack = 0;
    if (value >= (std::uint64_t{1} << 30))
        slack = 0.005 * 1073741824.0 + 2049;
    else if (value >= (std::uint64_t{1} << 20))
        slack = 0.05 * 1048576.0 + 1;
    else if (value >= 1024)
        slack = 0.05 * 1024.0 + 1;
    const auto tolerance = static_cast<std::uint64_t>(slack);
    if (!back) {
        // Only a figure rounded up past 2^64 - 1 may be refused, as an overflow.
        MEMSCOPE_FUZZ_CHECK(why == "size overflows 64 bits" && value > kMax - tolerance,
                            "format_memory(" + std::to_string(value) + ") = \"" + text +
                                "\" does not parse back: " + why);
        return;
    }
    const std::uint64_t distance = *back > value ? *back - value : value - *back;
    MEMSCOPE_FUZZ_CHECK(distance <= tolerance, "format_memory(" + std::to_string(value) + ") = \"" +
                                                   text + "\" parses back as " +
                                                   std::to_string(*back));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string kUntouched = "untouched";
    std::string why = kUntouched;
    const std::optional<std::uint64_t> got = memscope::parse_size(text, &why);
    const Expected want = reference(text);

    if (got) {
        MEMSCOPE_FUZZ_CHECK(why == kUntouched, "the error was written on success");
    } else {
        MEMSCOPE_FUZZ_CHECK(!why.empty() && why != kUntouched, "refused without a reason");
        MEMSCOPE_FUZZ_CHECK(memscope::fuzz::is_valid_utf8(why) && memscope::fuzz::is_one_line(why),
                            "the reason is not one line of UTF-8: " + printable(why));
    }
    switch (want.kind) {
        case Expected::refused:
            MEMSCOPE_FUZZ_CHECK(!got && why != "size overflows 64 bits",
                                describe(text, got, why) + ", expected a syntax refusal");
            break;
        case Expected::overflow:
            MEMSCOPE_FUZZ_CHECK(!got && why == "size overflows 64 bits",
                                describe(text, got, why) + ", expected an overflow");
            break;
        case Expected::exact:
            MEMSCOPE_FUZZ_CHECK(
                got && *got == want.value,
                describe(text, got, why) + ", expected " + std::to_string(want.value));
            break;
        case Expected::between:
            MEMSCOPE_FUZZ_CHECK(got ? *got >= want.value && *got <= want.high
                                    : why == "size overflows 64 bits" && want.may_overflow,
                                describe(text, got, why) + ", expected " +
                                    std::to_string(want.value) + ".." + std::to_string(want.high));
            break;
    }
    if (got) check_round_trip(*got);
    return 0;
}

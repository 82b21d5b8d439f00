// SPDX-License-Identifier: MIT
// parse_size(): "512 MiB", "1.5 GB", "300MB", "1048576" -> bytes, exactly.
//
// Exact decimal arithmetic, no double: "1.5 GB" must be 1610612736 bytes, not one off,
// and "17179869184 GiB" must be refused as an overflow, not wrap. A unit is a power of
// two, so the fraction is multiplied by doubling its decimal digits; see fraction_times().

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "memscope/format.hpp"
#include "memscope/internal.hpp"
#include "memscope/json.hpp"
#include "memscope/units.hpp"

namespace memscope {
namespace {

using detail::is_digit;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// log2 of the unit's size in bytes, or -1 for an unknown unit. All 1024-based, like
// format_memory(), so that a figure read off the dashboard means the same in the file.
int unit_shift(std::string_view unit) {
    struct Unit {
        std::string_view name;
        int shift;
    };
    static constexpr std::array<Unit, 13> kUnits{{{"b", 0},
                                                  {"k", 10},
                                                  {"kb", 10},
                                                  {"kib", 10},
                                                  {"m", 20},
                                                  {"mb", 20},
                                                  {"mib", 20},
                                                  {"g", 30},
                                                  {"gb", 30},
                                                  {"gib", 30},
                                                  {"t", 40},
                                                  {"tb", 40},
                                                  {"tib", 40}}};
    for (const Unit& u : kUnits)
        if (detail::iequals(unit, u.name)) return u.shift;
    return -1;
}

// round(0.<fraction> * 2^shift), exactly, half rounding up. Doubling a decimal fraction
// digit by digit carries at most 1 into the integer part each time; after `shift`
// doublings the digits left are the fraction of the product, and its first digit says
// whether that fraction is at least one half. Only the first 41 digits can matter: every
// rounding boundary (m + 0.5) / 2^40 has at most 41 decimal places, so cutting later
// digits cannot move a value across one.
std::uint64_t fraction_times(std::string_view fraction, int shift) {
    std::string digits(fraction.substr(0, 41));
    std::uint64_t whole = 0;
    for (int i = 0; i < shift; ++i) {
        int carry = 0;
        for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
            const int v = (*it - '0') * 2 + carry;
            *it = static_cast<char>('0' + v % 10);
            carry = v / 10;
        }
        whole = whole * 2 + static_cast<std::uint64_t>(carry);
    }
    if (!digits.empty() && digits.front() >= '5') ++whole;
    return whole;
}

std::optional<std::uint64_t> failure(std::string* error, std::string why) {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error) {
    if (text.empty()) return failure(error, "empty size");
    if (text.front() == '-') return failure(error, "negative size");
    if (text.front() == '+') return failure(error, "a leading '+' is not allowed");
    if (!is_digit(text.front()))
        return failure(
            error, "expected a number of bytes, or a number and a unit, got " + json_quote(text));
    if (text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        return failure(error, "hexadecimal sizes are not supported");

    std::size_t i = 0;
    while (i < text.size() && is_digit(text[i])) ++i;
    const std::string_view whole_digits = text.substr(0, i);
    std::string_view fraction;
    bool has_point = false;
    if (i < text.size() && text[i] == '.') {
        has_point = true;
        const std::size_t start = ++i;
        while (i < text.size() && is_digit(text[i])) ++i;
        fraction = text.substr(start, i - start);
        if (fraction.empty()) return failure(error, "expected a digit after '.'");
    }
    const std::size_t number_end = i;
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t unit_start = i;
    while (i < text.size() && is_letter(text[i])) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    const std::string_view rest = text.substr(i);

    int shift = 0;
    if (unit.empty()) {
        if (number_end != text.size())
            return failure(error, "unexpected text " + json_quote(text.substr(number_end)) +
                                      " after the number");
    } else {
        shift = unit_shift(unit);
        if (shift < 0) return failure(error, "unknown unit " + json_quote(unit));
        if (!rest.empty()) return failure(error, "trailing text " + json_quote(rest));
    }
    if (has_point && shift == 0)
        return failure(error,
                       "a size in bytes must be a whole number (use a larger unit, "
                       "e.g. \"1.5 KiB\")");

    const std::string overflow = "size overflows 64 bits";
    std::uint64_t bytes = 0;
    for (char c : whole_digits) {
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (bytes > (kMax - d) / 10) return failure(error, overflow);
        bytes = bytes * 10 + d;
    }
    if (shift > 0 && bytes > (kMax >> shift)) return failure(error, overflow);
    bytes <<= shift;
    const std::uint64_t part = fraction_times(fraction, shift);
    if (bytes > kMax - part) return failure(error, overflow);
    return bytes + part;
}

}  // namespace memscope

// SPDX-License-Identifier: MIT
#pragma once
// The internal side of memscope/json.hpp, for the library's own sources: the one UTF-8
// validator (the reader's messages and the writer's escaper use it).

#include <cstddef>
#include <string>
#include <string_view>

#include "memscope/json.hpp"

namespace memscope::detail {

/// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if there is none there
/// (stray continuation byte, overlong form, encoded surrogate, beyond U+10FFFF, cut short).
/// The ranges are those of the Unicode standard's table 3-7. Requires i < s.size().
[[nodiscard]] constexpr std::size_t utf8_sequence_length(std::string_view s,
                                                         std::size_t i) noexcept {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = at(i);
    if (c < 0x80) return 1;
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        if (c == 0xE0) low = 0xA0;   // overlong below U+0800
        if (c == 0xED) high = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        if (c == 0xF0) low = 0x90;   // overlong below U+10000
        if (c == 0xF4) high = 0x8F;  // beyond U+10FFFF
    } else {
        return 0;
    }
    if (s.size() - i < length) return 0;
    if (at(i + 1) < low || at(i + 1) > high) return 0;
    for (std::size_t k = 2; k < length; ++k)
        if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    return length;
}

}  // namespace memscope::detail

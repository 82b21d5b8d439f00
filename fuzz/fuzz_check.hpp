// SPDX-License-Identifier: MIT
#pragma once
// What the fuzz targets share: a check that stops the process with a message (libFuzzer
// then saves the input as a crash; the replay test fails), and validators for the checks.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

/// Aborts with `what` (anything convertible to std::string_view) when `condition` is false.
#define MEMSCOPE_FUZZ_CHECK(condition, what)                                            \
    do {                                                                                \
        if (!(condition)) ::memscope::fuzz::fail(__FILE__, __LINE__, #condition, what); \
    } while (false)

namespace memscope::fuzz {

/// Prints the failed check and aborts.
[[noreturn]] inline void fail(const char* file, int line, const char* condition,
                              std::string_view what) {
    std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n  %.*s\n", file, line, condition,
                 static_cast<int>(what.size()), what.data());
    std::fflush(stderr);
    std::abort();
}

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points
/// beyond U+10FFFF). Written from the definition, independently of the code under test.
inline bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (b0 < 0x80) {
            ++i;
            continue;
        }
        if ((b0 & 0xE0) == 0xC0) {
            n = 2;
            cp = b0 & 0x1Fu;
        } else if ((b0 & 0xF0) == 0xE0) {
            n = 3;
            cp = b0 & 0x0Fu;
        } else if ((b0 & 0xF8) == 0xF0) {
            n = 4;
            cp = b0 & 0x07u;
        } else {
            return false;
        }
        if (text.size() - i < n) return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        constexpr std::uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMinimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

/// True when `text` is one line: no line feed, carriage return or NUL.
inline bool is_one_line(std::string_view text) {
    return text.find_first_of(std::string_view("\n\r\0", 3)) == std::string_view::npos;
}

/// `text` with bytes outside printable ASCII as \xNN, cut at `max_bytes`: for messages.
inline std::string printable(std::string_view text, std::size_t max_bytes = 200) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < max_bytes; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
    }
    if (text.size() > max_bytes) out += "...";
    return out;
}

}  // namespace memscope::fuzz

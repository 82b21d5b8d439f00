// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Sizes written by people (config files, request bodies, command lines) read as bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memscope {

/// Parses a size: an integer of bytes (`"1048576"`), or a number with a unit, with or
/// without spaces between them: `"512 MiB"`, `"1.5 GB"`, `"300MB"`, `"64k"`. Units are
/// case-insensitive and all 1024-based, like format_memory() (so what it prints parses
/// back): K/KB/KiB = 1024, M/MB/MiB = 1024^2, G/GB/GiB = 1024^3, T/TB/TiB = 1024^4, B = 1.
/// Fractions are allowed with a unit larger than B and rounded to the nearest byte
/// (halves up), computed exactly: `"1.5 GB"` is 1610612736. Returns nullopt, and the
/// reason in `*error` if given (left untouched on success), for anything else: a sign,
/// overflow beyond 64 bits, unknown units, surrounding spaces or trailing text, NaN, inf,
/// hexadecimal, exponents. Reasons are short phrases meant to be quoted in a larger
/// message: `negative size`, `unknown unit "XB"`, `size overflows 64 bits`.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text,
                                                      std::string* error = nullptr);

}  // namespace memscope

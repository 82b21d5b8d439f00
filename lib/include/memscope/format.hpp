// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Byte figures as people read them: the one formatter behind logs, JSON `formatted`
/// fields, verdicts and the page (web/static/format.js prints the same digits).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memscope {

/// Formats a byte count with 1024-based units: two decimals in GB, one in MB and KB, whole bytes:
/// `format_memory(1073741824) == "1.00 GB"`, `format_memory(5242880) == "5.0 MB"`,
/// `format_memory(2048) == "2.0 KB"`, `format_memory(500) == "500 B"`.
[[nodiscard]] std::string format_memory(std::size_t bytes);

/// format_memory() of a signed figure: `format_signed_memory(-2097152) == "-2.0 MB"`;
/// with `plus`, positive figures get a "+" (`"+2.0 KB"`), as deltas are shown. Zero is
/// "0 B" either way.
[[nodiscard]] std::string format_signed_memory(std::int64_t bytes, bool plus = false);

/// Formats a duration for people, never as a misleading zero: one decimal below 10 s, whole
/// seconds above, milliseconds below a tenth of a second:
/// `format_seconds(60) == "60 s"`, `format_seconds(2.34) == "2.3 s"`,
/// `format_seconds(0.012) == "12 ms"`, `format_seconds(0.0004) == "0.4 ms"`,
/// `format_seconds(0) == "0 s"`.
[[nodiscard]] std::string format_seconds(double seconds);

}  // namespace memscope

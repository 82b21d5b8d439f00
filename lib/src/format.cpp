// SPDX-License-Identifier: MIT
// format_memory() and its signed form: 1024-based units with the seed's digits.

#include "memscope/format.hpp"

#include <charconv>
#include <cstdio>

#include "seed_figures.hpp"

namespace memscope {

std::string format_memory(std::size_t bytes) {
    constexpr double kKiB = 1024.0;
    constexpr double kMiB = kKiB * 1024.0;
    constexpr double kGiB = kMiB * 1024.0;
    // std::to_chars rather than snprintf: the dashboard formats thousands of figures per
    // scrape, and to_chars is about five times faster (same digits: both round the exact
    // binary value to nearest, ties to even; tests/test_format.cpp compares them).
    const auto b = static_cast<double>(bytes);
    char buf[48];
    char* const last = buf + sizeof buf;
    std::to_chars_result r;
    const char* unit;
    if (b >= kGiB) {
        r = std::to_chars(buf, last, b / kGiB, std::chars_format::fixed, 2);
        unit = " GB";
    } else if (b >= kMiB) {
        r = std::to_chars(buf, last, b / kMiB, std::chars_format::fixed, 1);
        unit = " MB";
    } else if (b >= kKiB) {
        r = std::to_chars(buf, last, b / kKiB, std::chars_format::fixed, 1);
        unit = " KB";
    } else {
        r = std::to_chars(buf, last, bytes);
        unit = " B";
    }
    std::string out(buf, r.ptr);
    out += unit;
    return out;
}

namespace detail {

std::string format_budget_figure(std::size_t bytes, std::size_t scale_bytes) {
    char buf[48];
    const auto b = static_cast<double>(bytes);
    if (scale_bytes >= (std::size_t{10} << 20))
        std::snprintf(buf, sizeof buf, "%.0f MB", b / 1048576.0);
    else if (scale_bytes >= (std::size_t{1} << 20))
        std::snprintf(buf, sizeof buf, "%.1f MB", b / 1048576.0);
    else if (scale_bytes >= 10240)
        std::snprintf(buf, sizeof buf, "%.0f KB", b / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%zu B", bytes);
    return buf;
}

std::string format_frame_figure(std::size_t bytes) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1fMB", static_cast<double>(bytes) / 1048576.0);
    return buf;
}

}  // namespace detail

std::string format_signed_memory(std::int64_t bytes, bool plus) {
    // -(bytes + 1) + 1: the magnitude of INT64_MIN without signed overflow.
    if (bytes < 0) return "-" + format_memory(static_cast<std::size_t>(-(bytes + 1)) + 1);
    return (plus && bytes > 0 ? "+" : "") + format_memory(static_cast<std::size_t>(bytes));
}

std::string format_seconds(double seconds) {
    char buf[32];
    if (!(seconds > 0.0))  // zero, negative or NaN: nothing measured
        return "0 s";
    if (seconds < 0.001)
        std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1000.0);
    else if (seconds < 0.1)
        std::snprintf(buf, sizeof buf, "%.0f ms", seconds * 1000.0);
    else
        std::snprintf(buf, sizeof buf, seconds < 10.0 ? "%.1f s" : "%.0f s", seconds);
    return buf;
}

}  // namespace memscope

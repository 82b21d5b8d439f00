// format_memory(): the specification's 1024-based figures with its digits.

#include "memscope/format.hpp"

#include <cstdio>

namespace memscope {

std::string format_memory(std::size_t bytes) {
    constexpr double kKiB = 1024.0;
    constexpr double kMiB = kKiB * 1024.0;
    constexpr double kGiB = kMiB * 1024.0;
    char buf[64];
    const auto b = static_cast<double>(bytes);
    if (b >= kGiB) std::snprintf(buf, sizeof buf, "%.2f GB", b / kGiB);
    else if (b >= kMiB) std::snprintf(buf, sizeof buf, "%.1f MB", b / kMiB);
    else if (b >= kKiB) std::snprintf(buf, sizeof buf, "%.1f KB", b / kKiB);
    else std::snprintf(buf, sizeof buf, "%zu B", bytes);
    return buf;
}

}  // namespace memscope

// SPDX-License-Identifier: MIT
#pragma once
// Hashing of subsystem names for the tables keyed by them.

#include <cstddef>
#include <functional>
#include <string_view>

namespace memscope::detail {

/// A transparent hash: report("Chunks", ...) finds its entry in an
/// unordered_map<std::string, T, NameHash, std::equal_to<>> without making a std::string.
struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

}  // namespace memscope::detail

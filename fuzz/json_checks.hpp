#pragma once
// Checks on the DOM of the config file's JSON reader, shared by the fuzz targets that use
// it as an oracle.

#include <algorithm>
#include <cmath>

#include "json_reader.hpp"

namespace memscope::fuzz {

/// True when some number of `v` is beyond the range of a double. RFC 8259 lets a reader
/// limit the range of numbers: nlohmann refuses 1e400, the strict reader keeps it as
/// infinity (which the config schema then refuses as a size or threshold).
inline bool has_infinite_number(const detail::JsonValue& v) {
    if (const auto* n = v.number()) return std::isinf(n->value);
    if (const auto* a = v.array())
        return std::any_of(a->begin(), a->end(),
                           [](const detail::JsonValue& e) { return has_infinite_number(e); });
    if (const auto* o = v.object())
        return std::any_of(o->begin(), o->end(), [](const detail::JsonMember& m) {
            return has_infinite_number(m.value);
        });
    return false;
}

}  // namespace memscope::fuzz

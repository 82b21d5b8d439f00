// SPDX-License-Identifier: MIT
#pragma once
// The guarded control endpoints: budget edits, peak reset, simulated pressure. They answer
// 403 while no token is configured and 401 to a request without the right
// `Authorization: Bearer <token>`; the token is compared in constant time and never
// written to a response or a log.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "router.hpp"

namespace memscope {
class MemoryBudget;
}

namespace memscope::web {

/// Compares a token a client sent with the configured one in time that depends only on
/// the configured token's length, never on where the two first differ.
[[nodiscard]] bool constant_time_equal(std::string_view given, std::string_view secret) noexcept;

/// The refusal for a control request without the right token, or nullopt to go ahead.
[[nodiscard]] std::optional<Response> check_token(const Request& request, std::string_view token);

/// Adds PUT /api/v1/budgets/{name}, POST /api/v1/peaks/reset and POST /api/v1/pressure/{name}.
/// `budget` must outlive the router; `token` empty turns them off (403).
void add_control_routes(Router& router, MemoryBudget& budget, std::string token,
                        std::size_t max_body_bytes);

}  // namespace memscope::web

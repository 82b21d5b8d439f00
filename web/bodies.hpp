// SPDX-License-Identifier: MIT
#pragma once
// Parsing and validation of every request body the API accepts. Each parser either fills
// its result and returns nullopt, or returns the error to answer: status 400 (malformed),
// 413 (too large) or 415 (not JSON), a message, and the offending field if there is one.
// These are the functions the body fuzzer calls.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "memscope/budget.hpp"
#include "router.hpp"

namespace memscope::web {

/// Why a body was refused.
struct BodyError {
    int status = 400;     ///< 400, 413 or 415
    std::string message;  ///< one sentence, for the "error" key
    std::string field;    ///< the key at fault, or empty
};

/// PUT /api/v1/budgets/{name}: `{"budget_bytes": 536870912}` or `{"budget": "512 MiB"}`.
struct BudgetBody {
    std::uint64_t budget_bytes = 0;  ///< 0 removes the budget
};
[[nodiscard]] std::optional<BodyError> parse_budget_body(const Request& request,
                                                         std::size_t max_bytes, BudgetBody& out);

/// POST /api/v1/pressure/{name}: `{"status": "warning" | "over_budget" | "ok"}`.
struct PressureBody {
    MemoryStatus status = MemoryStatus::ok;
};
[[nodiscard]] std::optional<BodyError> parse_pressure_body(const Request& request,
                                                           std::size_t max_bytes,
                                                           PressureBody& out);

/// POST /api/v1/marks: `{"name": "level2-loaded"}`; the name as name_problem() allows.
struct MarkBody {
    std::string name;
};
[[nodiscard]] std::optional<BodyError> parse_mark_body(const Request& request,
                                                       std::size_t max_bytes, MarkBody& out);

/// POST /api/v1/peaks/reset: no body, or an empty JSON object.
[[nodiscard]] std::optional<BodyError> parse_empty_body(const Request& request,
                                                        std::size_t max_bytes);

/// True when `text` is one JSON document as read_json() reads it, strict (no comments, no
/// duplicate keys): what a VerdictProvider must return.
[[nodiscard]] bool is_valid_json(std::string_view text);

}  // namespace memscope::web

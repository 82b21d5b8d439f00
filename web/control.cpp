// SPDX-License-Identifier: MIT
// Control endpoints: token check first (so nothing about the body is revealed to a client
// without the token), then the body, then the change.

#include "control.hpp"

#include <algorithm>

#include "bodies.hpp"
#include "json_api.hpp"
#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"
#include "memscope/internal.hpp"

namespace memscope::web {
namespace {

Response body_error(const BodyError& e) {
    return error_response(e.status, e.message, e.field);
}

// The subsystem `name` exists (or is the total), else the 404 to answer.
std::optional<Response> check_subsystem(const MemoryBudget& budget, const std::string& name) {
    if (name == kTotalName || budget.subsystem(name)) return std::nullopt;
    // Creating subsystems from the network would let any client grow the table without bound.
    return error_response(
        404, "no subsystem named \"" + name + "\" (it must have reported or have a budget)",
        "name");
}

}  // namespace

bool constant_time_equal(std::string_view given, std::string_view secret) noexcept {
    std::size_t diff = given.size() ^ secret.size();
    for (std::size_t i = 0; i < secret.size(); ++i) {
        // Reads `given` cyclically so the loop never branches on its contents or length.
        const char g = given.empty() ? '\0' : given[i % given.size()];
        diff |= static_cast<unsigned char>(g ^ secret[i]);
    }
    return diff == 0;
}

std::optional<Response> check_token(const Request& request, std::string_view token) {
    if (token.empty())
        return error_response(403,
                              "control endpoints are off: no token is configured "
                              "(set ServerOptions::token or MEMSCOPE_TOKEN)");
    const auto unauthorized = [](std::string_view message, std::string_view challenge) {
        Response r = error_response(401, message);
        r.set_header("WWW-Authenticate", std::string(challenge));
        return r;
    };
    const auto header = request.header("Authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (!header || !detail::istarts_with(*header, kScheme))
        return unauthorized("this endpoint needs the header Authorization: Bearer <token>",
                            "Bearer realm=\"memscope\"");
    std::string_view given = header->substr(kScheme.size());
    while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
    if (!constant_time_equal(given, token))
        return unauthorized("wrong token", "Bearer realm=\"memscope\", error=\"invalid_token\"");
    return std::nullopt;
}

void add_control_routes(Router& router, MemoryBudget& budget, std::string token,
                        std::size_t max_body_bytes) {
    router.add("PUT", "/api/v1/budgets/{name}", [&budget, token, max_body_bytes](const Call& call) {
        if (auto refusal = check_token(call.request, token)) return std::move(*refusal);
        BudgetBody body;
        if (auto e = parse_budget_body(call.request, max_body_bytes, body)) return body_error(*e);
        const std::string& name = call.path_params[0];
        if (auto missing = check_subsystem(budget, name)) return std::move(*missing);

        std::string out;
        JsonWriter w(out);
        if (name == kTotalName) {
            budget.set_total_budget(body.budget_bytes);
            write_totals(w, budget.totals(), budget.warning_threshold());
        } else {
            budget.set_budget(name, body.budget_bytes);
            const auto rows = budget.snapshot();
            const auto row =
                std::find_if(rows.begin(), rows.end(),
                             [&](const SubsystemSnapshot& r) { return r.name == name; });
            if (row == rows.end()) return error_response(404, "the subsystem disappeared", "name");
            write_subsystem(w, *row);
        }
        return json_response(200, std::move(out));
    });

    router.add("POST", "/api/v1/peaks/reset", [&budget, token, max_body_bytes](const Call& call) {
        if (auto refusal = check_token(call.request, token)) return std::move(*refusal);
        if (auto e = parse_empty_body(call.request, max_body_bytes)) return body_error(*e);
        reset_peak();
        budget.reset_window_peaks();
        std::string out;
        JsonWriter w(out);
        w.begin_object().key("reset").value(true).key("allocator");
        write_allocator(w, allocation_stats(), allocation_sources());
        w.end_object();
        return json_response(200, std::move(out));
    });

    router.add("POST", "/api/v1/pressure/{name}",
               [&budget, token, max_body_bytes](const Call& call) {
                   if (auto refusal = check_token(call.request, token)) return std::move(*refusal);
                   PressureBody body;
                   if (auto e = parse_pressure_body(call.request, max_body_bytes, body))
                       return body_error(*e);
                   const std::string& name = call.path_params[0];
                   if (auto missing = check_subsystem(budget, name)) return std::move(*missing);
                   const std::size_t called = budget.simulate_pressure(name, body.status);
                   std::string out;
                   JsonWriter w(out);
                   w.begin_object();
                   w.key("subsystem").value(name);
                   w.key("status").value(to_string(body.status));
                   w.key("callbacks_called").value(called);
                   w.end_object();
                   return json_response(200, std::move(out));
               });
}

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
// Fuzz target: the HTTP routing layer and every endpoint behind it, web::Api::handle(),
// without a socket, with a token configured so that the control endpoints are reached.
//
// Input: a request written like HTTP/1.1, without the version:
//
//     METHOD SP TARGET LF          the first line; TARGET is "/path?query", still encoded
//     NAME: VALUE LF               zero or more header lines
//     LF                           an empty line
//     BODY                         every byte that follows, as is
//
// The method is the first line up to its first space (all of it if there is none), the
// target the rest of the line, split at its first '?' (Request::from_target). A header
// name ends at the line's first ':' (a line without one is a name with an empty value);
// spaces and tabs after the ':' are dropped. A '\r' before a '\n' is dropped, so CRLF
// seeds read the same. Input that ends before the empty line has no body. Every byte
// value is allowed everywhere. The token is "fuzz-token"; seeds carry
// "Authorization: Bearer fuzz-token" to reach the control endpoints.
//
// Each input gets a fresh Api over a budget in a known state (the default budgets,
// reports, one sample, a mark "start", a verdict provider, a pressure callback), so that
// a crash never depends on earlier inputs.
//
// Checks: the status is 200-599 and never 500 (no handler throws); header names and values
// are one line; the security headers are there and no CORS header is; JSON bodies parse,
// as objects, with an "error" string in every 4xx/5xx; other content types are the
// metrics, the stream or a page asset; HEAD never starts a stream; a stream's first
// message carries JSON and it ends when the streams are stopped; the token is never
// echoed; and without the token no budget, total, window peak or pressure callback moves.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "endpoints.hpp"
#include "fuzz_check.hpp"
#include "memscope/budget.hpp"
#include "memscope/json.hpp"
#include "memscope/log.hpp"
#include "memscope/sampler.hpp"
#include "router.hpp"

namespace {

using memscope::fuzz::is_one_line;
using memscope::fuzz::printable;
using memscope::web::Request;
using memscope::web::Response;
using nlohmann::json;

constexpr std::string_view kToken = "fuzz-token";
constexpr std::size_t kMiB = std::size_t{1} << 20;

// One line of the input, without its '\n' (and a '\r' before it); advances `rest`.
std::string_view take_line(std::string_view& rest) {
    const std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

Request decode(std::string_view input) {
    std::string_view line = take_line(input);
    const std::size_t space = line.find(' ');
    const std::string_view target =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    Request request = Request::from_target(std::string(line.substr(0, space)), target);
    while (!input.empty()) {
        line = take_line(input);
        if (line.empty()) {
            request.body = std::string(input);
            break;
        }
        const std::size_t colon = line.find(':');
        std::string_view value =
            colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        request.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return request;
}

// The rule of the control endpoints, restated: the first Authorization header is
// "Bearer" (any case), a space, optional spaces, then exactly the token.
bool authorized(const Request& request) {
    const auto header = request.header("Authorization");
    if (!header || header->size() < 7) return false;
    std::string scheme(header->substr(0, 7));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    if (scheme != "bearer ") return false;
    std::string_view given = header->substr(7);
    while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
    return given == kToken;
}

// What only the control endpoints may change: every budget, the total budget, and the
// window peaks (reset by POST /api/v1/peaks/reset).
std::vector<std::size_t> guarded_state(const memscope::MemoryBudget& budget) {
    std::vector<std::size_t> out;
    for (const auto& row : budget.snapshot()) {
        out.push_back(row.memory.budget_bytes);
        out.push_back(row.window_peak_bytes);
    }
    const auto totals = budget.totals();
    out.push_back(totals.budget_bytes);
    return out;
}

struct Fixture {
    static memscope::BudgetOptions options() {
        memscope::BudgetOptions o;
        o.log_events = false;
        return o;
    }
    memscope::MemoryBudget budget{options()};
    // A short history: a fresh one per input, and 600 empty samples cost more to make
    // than most requests cost to answer.
    memscope::Sampler sampler{budget, memscope::SamplerOptions{.capacity = 16}};
    std::unique_ptr<memscope::web::Api> api;
    std::size_t pressure_calls = 0;

    Fixture() {
        budget.configure_default_budgets();
        budget.report("Chunks", 900 * kMiB, 12);  // warning: the event list is not empty
        budget.report("Audio/Music", 3 * kMiB, 2);
        budget.report("Scripts", 5 * kMiB, 1);    // unbudgeted
        budget.report("Chunks", 700 * kMiB, 10);  // the window peak is above the current
        budget.on_any_pressure([this](const memscope::PressureEvent&) { ++pressure_calls; });
        sampler.sample_now();
        memscope::web::ApiOptions o;
        o.token = std::string(kToken);
        api = std::make_unique<memscope::web::Api>(budget, sampler, o);
        api->set_verdict_provider([] { return std::string(R"({"verdict":"pass"})"); });
        Request mark = Request::from_target("POST", "/api/v1/marks");
        mark.headers.emplace_back("Content-Type", "application/json");
        mark.body = R"({"name":"start"})";
        MEMSCOPE_FUZZ_CHECK(api->handle(mark).status == 201, "the fixture's mark");
    }
};

bool is_json_type(std::string_view type) {
    return type == memscope::web::kJsonType;
}

void check_json_body(const Response& r, const std::string& what) {
    const json body = json::parse(r.body, nullptr, false);
    MEMSCOPE_FUZZ_CHECK(!body.is_discarded(),
                        what + "the JSON body does not parse: " + printable(r.body));
    MEMSCOPE_FUZZ_CHECK(body.is_object(), what + "the JSON body is not an object");
    if (r.status >= 400)
        MEMSCOPE_FUZZ_CHECK(body.contains("error") && body["error"].is_string(),
                            what + "an error without an \"error\" string");
}

// Every "data:" line of SSE text is one JSON document.
void check_events(std::string_view text, const std::string& what) {
    MEMSCOPE_FUZZ_CHECK(text.ends_with("\n\n"), what + "an SSE message is not terminated");
    std::string_view rest = text;
    while (!rest.empty()) {
        const std::string_view line = take_line(rest);
        if (line.starts_with("data: "))
            MEMSCOPE_FUZZ_CHECK(json::accept(line.substr(6)), what + "SSE data is not JSON");
    }
}

// The token may come back only when the request itself carries it outside the
// Authorization header, in a form the server echoes as it: literally, in the form the JSON
// writer escapes it to (a control character's "\u001f" ends in a hex digit, so the path
// "f\x1Fuzz-token" comes back as "f\u001fuzz-token"), or encoded in a form it decodes.
bool may_echo_token(const Request& r) {
    for (const std::string* part : {&r.method, &r.path, &r.query, &r.body}) {
        if (part->find(kToken) != std::string::npos) return true;
        if (part->find_first_of("%\\+") != std::string::npos) return true;
        for (const auto invalid :
             {memscope::InvalidUtf8::replace, memscope::InvalidUtf8::show_byte}) {
            std::string escaped;
            memscope::append_json_escaped(escaped, *part, invalid);
            if (escaped.find(kToken) != std::string::npos) return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        memscope::set_log_sink([](memscope::LogLevel, std::string_view) {});
        return true;
    }();
    static_cast<void>(quiet);
    const Request request = decode(std::string_view(reinterpret_cast<const char*>(data), size));
    const std::string what = printable(request.method, 40) + " " + printable(request.path, 80) +
                             (request.query.empty() ? "" : "?" + printable(request.query, 80)) +
                             ": ";

    Fixture f;
    const std::vector<std::size_t> before = guarded_state(f.budget);
    Response r = f.api->handle(request);

    MEMSCOPE_FUZZ_CHECK(r.status >= 200 && r.status <= 599,
                        what + "status " + std::to_string(r.status));
    MEMSCOPE_FUZZ_CHECK(r.status != 500, what + "500: " + printable(r.body));
    MEMSCOPE_FUZZ_CHECK(!r.content_type.empty() && is_one_line(r.content_type),
                        what + "content type");
    for (const auto& [name, value] : r.headers) {
        MEMSCOPE_FUZZ_CHECK(!name.empty() && is_one_line(name) && is_one_line(value),
                            what + "header " + printable(name) + ": " + printable(value));
        MEMSCOPE_FUZZ_CHECK(!name.starts_with("Access-Control-"), what + "a CORS header");
    }
    MEMSCOPE_FUZZ_CHECK(
        r.header("X-Content-Type-Options") == "nosniff" && r.header("X-Frame-Options") == "DENY" &&
            r.header("Content-Security-Policy") == memscope::web::kContentSecurityPolicy,
        what + "a security header is missing");

    if (r.stream) {
        MEMSCOPE_FUZZ_CHECK(request.method != "HEAD", what + "HEAD started a stream");
        MEMSCOPE_FUZZ_CHECK(r.content_type == memscope::web::kEventStreamType,
                            what + "a stream that is not text/event-stream");
        std::string first;
        MEMSCOPE_FUZZ_CHECK(r.stream->next(first), what + "the stream ended at once");
        check_events(first, what);
        f.api->stop_streams();
        std::string last;
        MEMSCOPE_FUZZ_CHECK(!r.stream->next(last) && last.starts_with("event: end\n"),
                            what + "the stream did not end when stopped");
        check_events(last, what);
    } else if (is_json_type(r.content_type)) {
        check_json_body(r, what);
    } else {
        // The metrics text, or a page asset (200, or 304 to a matching If-None-Match).
        MEMSCOPE_FUZZ_CHECK(
            r.content_type == memscope::web::kMetricsType || r.status == 200 || r.status == 304,
            what + "status " + std::to_string(r.status) + " with content type " +
                printable(r.content_type));
    }

    if (!may_echo_token(request)) {
        MEMSCOPE_FUZZ_CHECK(r.body.find(kToken) == std::string::npos, what + "token echoed");
        for (const auto& header : r.headers)
            MEMSCOPE_FUZZ_CHECK(header.second.find(kToken) == std::string::npos,
                                what + "token echoed in a header");
    }
    if (!authorized(request)) {
        MEMSCOPE_FUZZ_CHECK(guarded_state(f.budget) == before,
                            what + "a control change without the token");
        MEMSCOPE_FUZZ_CHECK(f.pressure_calls == 0, what + "pressure simulated without the token");
    }
    return 0;
}

// Fuzz target: every request-body parser of web/bodies.* (budget edit, simulated pressure,
// mark, empty body) and is_valid_json().
//
// Input: byte 0 picks the parser, byte 1 the Content-Type header and the size limit, the
// rest is the body:
//   byte 0 % 5:         0 parse_budget_body, 1 parse_pressure_body, 2 parse_mark_body,
//                       3 parse_empty_body, 4 is_valid_json (the body is the text)
//   byte 1 % 8:         Content-Type  0 application/json   1 application/json; charset=utf-8
//                       2 " APPLICATION/Json ;x=y"   3 text/plain   4 application/jsonx
//                       5 "" (empty value)   6 and 7: no Content-Type header
//   byte 1 & 0x80:      limit 32 bytes instead of the server's 64 KiB (reaches the 413)
// An input shorter than two bytes is skipped.
//
// Checks: a refusal has a status of 400, 413 (exactly when the body is over the limit) or
// 415, a message, and makes a valid JSON error response; an accepted body is a JSON object
// with exactly the allowed keys, and the parsed result is what nlohmann reads in it.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bodies.hpp"
#include "fuzz_check.hpp"
#include "json_checks.hpp"
#include "json_reader.hpp"
#include "memscope/units.hpp"
#include "router.hpp"

namespace {

using memscope::fuzz::printable;
using memscope::web::BodyError;
using nlohmann::json;

constexpr std::string_view kContentTypes[] = {
    "application/json",       "application/json; charset=utf-8",
    " APPLICATION/Json ;x=y", "text/plain",
    "application/jsonx",      ""};

void check_refusal(const BodyError& e, const memscope::web::Request& request, std::size_t limit) {
    const std::string what = "refusal " + std::to_string(e.status) + " \"" + printable(e.message) +
                             "\" of body \"" + printable(request.body) + "\": ";
    MEMSCOPE_FUZZ_CHECK(e.status == 400 || e.status == 413 || e.status == 415, what + "status");
    MEMSCOPE_FUZZ_CHECK((e.status == 413) == (request.body.size() > limit), what + "413");
    MEMSCOPE_FUZZ_CHECK(e.status != 415 || !request.body.empty(), what + "415 of no body");
    MEMSCOPE_FUZZ_CHECK(!e.message.empty(), what + "no message");
    const memscope::web::Response r = memscope::web::error_response(e.status, e.message, e.field);
    MEMSCOPE_FUZZ_CHECK(json::accept(r.body), what + "the error response is not JSON");
}

// The body of an accepted request, as nlohmann reads it: a JSON object. It must be JSON
// by the strict reader of the config file too, but for what RFC 8259 leaves open and
// nlohmann allows: duplicate keys, and nesting beyond the reader's 64 levels.
json accepted_object(const memscope::web::Request& request) {
    if (request.body.empty()) return json::object();
    memscope::detail::JsonError strict;
    if (!memscope::detail::read_json(request.body, &strict))
        MEMSCOPE_FUZZ_CHECK(strict.kind == memscope::detail::JsonErrorKind::duplicate_key ||
                                strict.kind == memscope::detail::JsonErrorKind::too_deep,
                            "accepted a body that is not JSON (" + strict.message +
                                "): " + printable(request.body));
    json body = json::parse(request.body, nullptr, false);
    MEMSCOPE_FUZZ_CHECK(body.is_object(),
                        "accepted a body that is not a JSON object: " + printable(request.body));
    return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned parser = data[0] % 5;
    const unsigned type = data[1] % 8;
    const std::size_t limit = (data[1] & 0x80) != 0 ? 32 : 64 * 1024;
    memscope::web::Request request;
    request.method = "POST";
    request.path = "/";
    if (type < std::size(kContentTypes))
        request.headers.emplace_back("Content-Type", std::string(kContentTypes[type]));
    request.body.assign(reinterpret_cast<const char*>(data) + 2, size - 2);

    std::optional<BodyError> error;
    switch (parser) {
        case 0: {
            memscope::web::BudgetBody out;
            error = parse_budget_body(request, limit, out);
            if (error) break;
            const json body = accepted_object(request);
            MEMSCOPE_FUZZ_CHECK(body.size() == 1, "budget body with other keys accepted");
            if (body.contains("budget_bytes")) {
                MEMSCOPE_FUZZ_CHECK(
                    body["budget_bytes"].is_number_unsigned() &&
                        body["budget_bytes"].get<std::uint64_t>() == out.budget_bytes,
                    "budget_bytes misread");
            } else {
                const json& text = body.at("budget");
                MEMSCOPE_FUZZ_CHECK(
                    text.is_string() &&
                        memscope::parse_size(text.get<std::string>()) == out.budget_bytes,
                    "budget misread");
            }
            break;
        }
        case 1: {
            memscope::web::PressureBody out;
            error = parse_pressure_body(request, limit, out);
            if (error) break;
            const json body = accepted_object(request);
            MEMSCOPE_FUZZ_CHECK(
                body.size() == 1 && body.at("status").is_string() &&
                    body.at("status").get<std::string>() == memscope::to_string(out.status),
                "pressure status misread");
            break;
        }
        case 2: {
            memscope::web::MarkBody out;
            error = parse_mark_body(request, limit, out);
            if (error) break;
            const json body = accepted_object(request);
            MEMSCOPE_FUZZ_CHECK(body.size() == 1 && body.at("name") == out.name, "name misread");
            MEMSCOPE_FUZZ_CHECK(
                !out.name.empty() && out.name.size() <= memscope::web::kMaxMarkNameBytes &&
                    std::none_of(
                        out.name.begin(), out.name.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }) &&
                    memscope::fuzz::is_valid_utf8(out.name),
                "a mark name out of its rules: " + printable(out.name));
            break;
        }
        case 3:
            error = parse_empty_body(request, limit);
            if (!error)
                MEMSCOPE_FUZZ_CHECK(accepted_object(request).empty(),
                                    "a non-empty body accepted as empty");
            break;
        default:
            // What the verdict check accepts must parse; what the strict reader of the
            // config file accepts must pass it.
            if (memscope::web::is_valid_json(request.body))
                MEMSCOPE_FUZZ_CHECK(!json::parse(request.body, nullptr, false).is_discarded(),
                                    "is_valid_json accepts what does not parse");
            else if (const auto dom = memscope::detail::read_json(request.body))
                MEMSCOPE_FUZZ_CHECK(memscope::fuzz::has_infinite_number(*dom),
                                    "is_valid_json refuses what the strict reader accepts");
            return 0;
    }
    if (error) check_refusal(*error, request, limit);
    return 0;
}

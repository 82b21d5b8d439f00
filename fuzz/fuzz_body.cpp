// SPDX-License-Identifier: MIT
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
// 415, a one-line UTF-8 message, and makes a valid JSON error response; an accepted body is
// a JSON object by the reader (strict), with exactly the allowed keys, and the parsed result
// is what the reader's DOM holds; the reader itself is checked against nlohmann
// (json_checks.hpp), as is_valid_json() is.

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
#include "memscope/format.hpp"
#include "memscope/json.hpp"
#include "memscope/units.hpp"
#include "router.hpp"

namespace {

using memscope::JsonValue;
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
    MEMSCOPE_FUZZ_CHECK(!e.message.empty() && memscope::fuzz::is_one_line(e.message) &&
                            memscope::fuzz::is_valid_utf8(e.message),
                        what + "not one line of UTF-8");
    const memscope::web::Response r = memscope::web::error_response(e.status, e.message, e.field);
    MEMSCOPE_FUZZ_CHECK(json::accept(r.body), what + "the error response is not JSON");
}

// The members of an accepted body, as the reader reads it (strict): a JSON object.
JsonValue::Object accepted_object(const memscope::web::Request& request) {
    if (request.body.empty()) return {};
    memscope::JsonError e;
    auto body = memscope::read_json(request.body, &e);
    MEMSCOPE_FUZZ_CHECK(body.has_value(), "accepted a body that is not JSON (" + e.message +
                                              "): " + printable(request.body));
    MEMSCOPE_FUZZ_CHECK(body->object() != nullptr,
                        "accepted a body that is not a JSON object: " + printable(request.body));
    return std::move(std::get<JsonValue::Object>(body->data));
}

const JsonValue* member(const JsonValue::Object& body, std::string_view key) {
    for (const auto& m : body)
        if (m.key == key) return &m.value;
    return nullptr;
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
            const auto body = accepted_object(request);
            MEMSCOPE_FUZZ_CHECK(body.size() == 1, "budget body with other keys accepted");
            if (const JsonValue* bytes = member(body, "budget_bytes")) {
                MEMSCOPE_FUZZ_CHECK(
                    bytes->number() != nullptr && bytes->number()->as_uint64() == out.budget_bytes,
                    "budget_bytes misread");
            } else {
                const JsonValue* text = member(body, "budget");
                MEMSCOPE_FUZZ_CHECK(text != nullptr && text->string() != nullptr &&
                                        memscope::parse_size(*text->string()) == out.budget_bytes,
                                    "budget misread");
            }
            break;
        }
        case 1: {
            memscope::web::PressureBody out;
            error = parse_pressure_body(request, limit, out);
            if (error) break;
            const auto body = accepted_object(request);
            const JsonValue* status = member(body, "status");
            MEMSCOPE_FUZZ_CHECK(body.size() == 1 && status != nullptr &&
                                    status->string() != nullptr &&
                                    *status->string() == memscope::to_string(out.status),
                                "pressure status misread");
            break;
        }
        case 2: {
            memscope::web::MarkBody out;
            error = parse_mark_body(request, limit, out);
            if (error) break;
            const auto body = accepted_object(request);
            const JsonValue* name = member(body, "name");
            MEMSCOPE_FUZZ_CHECK(body.size() == 1 && name != nullptr && name->string() != nullptr &&
                                    *name->string() == out.name,
                                "name misread");
            MEMSCOPE_FUZZ_CHECK(
                !out.name.empty() && out.name.size() <= memscope::kMaxNameBytes &&
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
        default: {
            // is_valid_json() is the reader at its widest limits: nlohmann agrees with it but
            // for what the reader refuses on purpose (json_checks.hpp).
            const memscope::JsonReadOptions widest{.max_depth = memscope::kMaxJsonDepth,
                                                   .max_size_bytes = request.body.size()};
            MEMSCOPE_FUZZ_CHECK(memscope::web::is_valid_json(request.body) ==
                                    memscope::read_json(request.body, nullptr, widest).has_value(),
                                "is_valid_json is not the reader");
            memscope::fuzz::check_reader(request.body, widest);
            return 0;
        }
    }
    if (!request.body.empty() && request.body.size() <= limit)
        memscope::fuzz::check_reader(request.body, {.max_size_bytes = limit});
    if (error) check_refusal(*error, request, limit);
    return 0;
}

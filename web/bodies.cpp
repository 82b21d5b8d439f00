// SPDX-License-Identifier: MIT
// Request bodies, read with the core's JSON reader, strict (no comments). Unknown keys are
// refused: a typo such as "budget_byte" must not silently do nothing.

#include "bodies.hpp"

#include <algorithm>
#include <initializer_list>

#include "memscope/format.hpp"
#include "memscope/json.hpp"
#include "memscope/units.hpp"

namespace memscope::web {
namespace {

BodyError error(int status, std::string message, std::string field = {}) {
    return BodyError{status, std::move(message), std::move(field)};
}

// "application/json; charset=utf-8" -> true; the media type alone decides.
bool is_json_content_type(std::string_view value) {
    value = value.substr(0, value.find(';'));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    constexpr std::string_view kJson = "application/json";
    return std::equal(value.begin(), value.end(), kJson.begin(), kJson.end(), [](char a, char b) {
        return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
    });
}

// "the body is not valid JSON: 1:12: trailing comma before '}' is not allowed in JSON".
std::string describe(const JsonError& e) {
    std::string s =
        e.kind == JsonErrorKind::syntax ? "the body is not valid JSON: " : "the body is refused: ";
    s += std::to_string(e.position.line) + ':' + std::to_string(e.position.column) + ": ";
    if (!e.path.empty()) s += e.path + ": ";
    return s + e.message;
}

// The body as a JSON object. An empty body is an empty object when `allow_empty`.
std::optional<BodyError> parse_object(const Request& request, std::size_t max_bytes,
                                      bool allow_empty, JsonValue::Object& out) {
    if (request.body.size() > max_bytes)
        return error(413, "the body is larger than " + std::to_string(max_bytes) + " bytes");
    if (request.body.empty()) {
        if (!allow_empty) return error(400, "this endpoint needs a JSON object as its body");
        out.clear();
        return std::nullopt;
    }
    const auto type = request.header("Content-Type");
    if (!type || !is_json_content_type(*type))
        return error(415, "send the body as JSON, with Content-Type: application/json");
    JsonError why;
    std::optional<JsonValue> body =
        read_json(request.body, &why, {.max_size_bytes = request.body.size()});
    if (!body) return error(400, describe(why));
    auto* members = std::get_if<JsonValue::Object>(&body->data);
    if (members == nullptr) return error(400, "the body must be a JSON object");
    out = std::move(*members);
    return std::nullopt;
}

// The value of member `key`, or null.
const JsonValue* find(const JsonValue::Object& body, std::string_view key) {
    for (const JsonMember& m : body)
        if (m.key == key) return &m.value;
    return nullptr;
}

// Refuses keys outside `allowed`.
std::optional<BodyError> check_keys(const JsonValue::Object& body,
                                    std::initializer_list<std::string_view> allowed) {
    for (const JsonMember& m : body) {
        if (std::find(allowed.begin(), allowed.end(), m.key) == allowed.end())
            return error(400, "unknown key " + json_quote(m.key), m.key);
    }
    return std::nullopt;
}

}  // namespace

std::optional<BodyError> parse_budget_body(const Request& request, std::size_t max_bytes,
                                           BudgetBody& out) {
    JsonValue::Object body;
    if (auto e = parse_object(request, max_bytes, false, body)) return e;
    if (auto e = check_keys(body, {"budget_bytes", "budget"})) return e;
    const JsonValue* bytes = find(body, "budget_bytes");
    const JsonValue* text = find(body, "budget");
    if ((bytes != nullptr) == (text != nullptr))
        return error(400,
                     "give exactly one of \"budget_bytes\" (an integer) or \"budget\" (a size such "
                     "as \"512 MiB\")",
                     bytes != nullptr ? "budget" : "budget_bytes");

    if (bytes != nullptr) {
        const JsonNumber* n = bytes->number();
        if (n == nullptr)
            return error(400, "budget_bytes must be an integer number of bytes", "budget_bytes");
        if (const auto value = n->as_uint64()) {
            out.budget_bytes = *value;
            return std::nullopt;
        }
        if (n->negative && n->value != 0.0)
            return error(400, "budget_bytes must not be negative", "budget_bytes");
        return error(400, "budget_bytes must be a whole number of bytes below 2^64",
                     "budget_bytes");
    }
    const std::string* size = text->string();
    if (size == nullptr)
        return error(400,
                     "budget must be a string such as \"512 MiB\" (use budget_bytes for a number)",
                     "budget");
    std::string why;
    const auto parsed = parse_size(*size, &why);
    if (!parsed) return error(400, "budget: " + why, "budget");
    out.budget_bytes = *parsed;
    return std::nullopt;
}

std::optional<BodyError> parse_pressure_body(const Request& request, std::size_t max_bytes,
                                             PressureBody& out) {
    JsonValue::Object body;
    if (auto e = parse_object(request, max_bytes, false, body)) return e;
    if (auto e = check_keys(body, {"status"})) return e;
    const JsonValue* status = find(body, "status");
    const std::string* text = status != nullptr ? status->string() : nullptr;
    if (text != nullptr && *text == "warning")
        out.status = MemoryStatus::warning;
    else if (text != nullptr && *text == "over_budget")
        out.status = MemoryStatus::over_budget;
    else if (text != nullptr && *text == "ok")
        out.status = MemoryStatus::ok;
    else
        return error(400, "status must be \"warning\", \"over_budget\" or \"ok\"", "status");
    return std::nullopt;
}

std::optional<BodyError> parse_mark_body(const Request& request, std::size_t max_bytes,
                                         MarkBody& out) {
    JsonValue::Object body;
    if (auto e = parse_object(request, max_bytes, false, body)) return e;
    if (auto e = check_keys(body, {"name"})) return e;
    const JsonValue* value = find(body, "name");
    const std::string* name = value != nullptr ? value->string() : nullptr;
    if (name == nullptr)
        return error(400, "name must be a string, e.g. {\"name\": \"level2-loaded\"}", "name");
    if (const std::string why = name_problem(*name); !why.empty())
        return error(400, "name " + why, "name");
    out.name = *name;
    return std::nullopt;
}

bool is_valid_json(std::string_view text) {
    // A verdict provider's document, already in memory: no size limit, the deepest
    // nesting the reader allows.
    return read_json(text, nullptr, {.max_depth = kMaxJsonDepth, .max_size_bytes = text.size()})
        .has_value();
}

std::optional<BodyError> parse_empty_body(const Request& request, std::size_t max_bytes) {
    JsonValue::Object body;
    if (auto e = parse_object(request, max_bytes, true, body)) return e;
    return check_keys(body, {});
}

}  // namespace memscope::web

// Request bodies, parsed with nlohmann/json (the only file of the server that includes
// it, which keeps the build fast). Unknown keys are refused: a typo such as
// "budget_byte" must not silently do nothing.

#include "bodies.hpp"

#include <algorithm>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "memscope/units.hpp"

namespace memscope::web {
namespace {

using nlohmann::json;

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

// The body as a JSON object. An empty body is an empty object when `allow_empty`.
std::optional<BodyError> parse_object(const Request& request, std::size_t max_bytes,
                                      bool allow_empty, json& out) {
    if (request.body.size() > max_bytes)
        return error(413, "the body is larger than " + std::to_string(max_bytes) + " bytes");
    if (request.body.empty()) {
        if (!allow_empty) return error(400, "this endpoint needs a JSON object as its body");
        out = json::object();
        return std::nullopt;
    }
    const auto type = request.header("Content-Type");
    if (!type || !is_json_content_type(*type))
        return error(415, "send the body as JSON, with Content-Type: application/json");
    // nlohmann's lexer takes a NUL byte for the end of the input and would accept
    // `{}<NUL>anything`; JSON text never holds one.
    if (const auto nul = request.body.find('\0'); nul != std::string::npos)
        return error(400, "the body is not valid JSON (NUL byte at byte " +
                              std::to_string(nul + 1) + ")");
    try {
        out = json::parse(request.body);
    } catch (const json::parse_error& e) {
        return error(400,
                     "the body is not valid JSON (error at byte " + std::to_string(e.byte) + ")");
    } catch (const json::out_of_range&) {
        // Not a parse_error: nlohmann refuses a number beyond a double (1e400) this way.
        // Uncaught, it would become the router's 500 with nlohmann's message.
        return error(400, "the body holds a number beyond the range of a double");
    }
    if (!out.is_object()) return error(400, "the body must be a JSON object");
    return std::nullopt;
}

// Refuses keys outside `allowed`.
std::optional<BodyError> check_keys(const json& body,
                                    std::initializer_list<std::string_view> allowed) {
    for (const auto& item : body.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
            return error(400, "unknown key \"" + item.key() + "\"", item.key());
    }
    return std::nullopt;
}

}  // namespace

std::optional<BodyError> parse_budget_body(const Request& request, std::size_t max_bytes,
                                           BudgetBody& out) {
    json body;
    if (auto e = parse_object(request, max_bytes, false, body)) return e;
    if (auto e = check_keys(body, {"budget_bytes", "budget"})) return e;
    const bool has_bytes = body.contains("budget_bytes");
    const bool has_text = body.contains("budget");
    if (has_bytes == has_text)
        return error(400,
                     "give exactly one of \"budget_bytes\" (an integer) or \"budget\" (a size such "
                     "as \"512 MiB\")",
                     has_bytes ? "budget" : "budget_bytes");

    if (has_bytes) {
        const json& v = body["budget_bytes"];
        if (v.is_number_unsigned()) {
            out.budget_bytes = v.get<std::uint64_t>();
            return std::nullopt;
        }
        if (v.is_number_integer())
            return error(400, "budget_bytes must not be negative", "budget_bytes");
        if (v.is_number_float())
            return error(400, "budget_bytes must be a whole number of bytes below 2^64",
                         "budget_bytes");
        return error(400, "budget_bytes must be an integer number of bytes", "budget_bytes");
    }
    const json& v = body["budget"];
    if (!v.is_string())
        return error(400,
                     "budget must be a string such as \"512 MiB\" (use budget_bytes for a number)",
                     "budget");
    std::string why;
    const auto bytes = parse_size(v.get_ref<const std::string&>(), &why);
    if (!bytes) return error(400, "budget: " + why, "budget");
    out.budget_bytes = *bytes;
    return std::nullopt;
}

std::optional<BodyError> parse_pressure_body(const Request& request, std::size_t max_bytes,
                                             PressureBody& out) {
    json body;
    if (auto e = parse_object(request, max_bytes, false, body)) return e;
    if (auto e = check_keys(body, {"status"})) return e;
    const auto it = body.find("status");
    const std::string* text =
        it != body.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
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
    json body;
    if (auto e = parse_object(request, max_bytes, false, body)) return e;
    if (auto e = check_keys(body, {"name"})) return e;
    const auto it = body.find("name");
    if (it == body.end() || !it->is_string())
        return error(400, "name must be a string, e.g. {\"name\": \"level2-loaded\"}", "name");
    const auto& name = it->get_ref<const std::string&>();
    if (name.empty() || name.size() > kMaxMarkNameBytes)
        return error(400, "name must be 1 to " + std::to_string(kMaxMarkNameBytes) + " bytes long",
                     "name");
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
        return error(400, "name must not contain control characters", "name");
    out.name = name;
    return std::nullopt;
}

bool is_valid_json(std::string_view text) {
    return text.find('\0') == std::string_view::npos && json::accept(text);
}

std::optional<BodyError> parse_empty_body(const Request& request, std::size_t max_bytes) {
    json body;
    if (auto e = parse_object(request, max_bytes, true, body)) return e;
    return check_keys(body, {});
}

}  // namespace memscope::web

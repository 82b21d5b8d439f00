// SPDX-License-Identifier: MIT
#pragma once
// Checks of the JSON reader (memscope/json.hpp), shared by the fuzz targets that read JSON
// (config, body). nlohmann/json, read directly, is the oracle for what is JSON; the checks
// add what only the reader does: positions, sentences, duplicate keys, depth, NUL bytes.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "memscope/json.hpp"

namespace memscope::fuzz {

/// True when some number of `v` is beyond the range of a double. RFC 8259 lets a reader
/// limit the range of numbers: nlohmann refuses 1e400, the reader keeps it as infinity
/// (which the config schema then refuses as a size or threshold).
inline bool has_infinite_number(const JsonValue& v) {
    if (const auto* n = v.number()) return std::isinf(n->value);
    if (const auto* a = v.array())
        return std::any_of(a->begin(), a->end(),
                           [](const JsonValue& e) { return has_infinite_number(e); });
    if (const auto* o = v.object())
        return std::any_of(o->begin(), o->end(),
                           [](const JsonMember& m) { return has_infinite_number(m.value); });
    return false;
}

/// The byte offset of a line and column (columns count code points) in `text`, or npos
/// when the position is not in it. Written from the definition, apart from the reader.
inline std::size_t offset_of(std::string_view text, JsonPosition p) {
    std::size_t i = 0;
    if (text.starts_with("\xEF\xBB\xBF")) i = 3;  // the byte order mark takes no column
    for (std::size_t line = 1; line < p.line; ++line) {
        i = text.find('\n', i);
        if (i == std::string_view::npos) return i;
        ++i;
    }
    for (std::size_t column = 1; column < p.column; ++column) {
        if (i >= text.size() || text[i] == '\n') return std::string_view::npos;
        ++i;
        while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    }
    return i;
}

/// Every value of `v` and every key starts where its position says, with the character
/// that starts its kind (a number with its own text).
inline void check_positions(std::string_view text, const JsonValue& v) {
    const std::size_t at = offset_of(text, v.position);
    MEMSCOPE_FUZZ_CHECK(at < text.size(), "a value's position is not in the text");
    const std::string_view from = text.substr(at);
    const auto starts = [&](std::string_view s) { return from.starts_with(s); };
    bool right = false;
    switch (v.type()) {
        case JsonType::null:
            right = starts("null");
            break;
        case JsonType::boolean:
            right = starts(*v.boolean() ? "true" : "false");
            break;
        case JsonType::number:
            right = starts(v.number()->text);
            break;
        case JsonType::string:
            right = starts("\"");
            break;
        case JsonType::array:
            right = starts("[");
            for (const JsonValue& e : *v.array()) check_positions(text, e);
            break;
        case JsonType::object:
            right = starts("{");
            for (const JsonMember& m : *v.object()) {
                const std::size_t key_at = offset_of(text, m.key_position);
                MEMSCOPE_FUZZ_CHECK(key_at < text.size() && text[key_at] == '"',
                                    "a key's position is not its opening quote");
                check_positions(text, m.value);
            }
            break;
    }
    MEMSCOPE_FUZZ_CHECK(right, "the text at a value's position is not that value: " +
                                   printable(from.substr(0, 40)));
}

/// Deepest nesting of arrays and objects in a text nlohmann accepted (comments skipped
/// when `comments`).
inline std::size_t nesting(std::string_view text, bool comments) {
    std::size_t depth = 0, deepest = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i)
                if (text[i] == '\\') ++i;
        } else if (comments && c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            while (i < text.size() && text[i] != '\n' && text[i] != '\r') ++i;
        } else if (comments && c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            i = std::min(text.find("*/", i + 2), text.size()) + 1;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

/// The DOM as JSON text: numbers as written, strings re-escaped.
inline void serialize(const JsonValue& v, std::string& out) {
    const auto string = [&out](const std::string& s) {
        out += '"';
        for (char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned char>(c));
                out += buf;
            } else {
                out += c;
            }
        }
        out += '"';
    };
    if (v.type() == JsonType::null) {
        out += "null";
    } else if (const bool* b = v.boolean()) {
        out += *b ? "true" : "false";
    } else if (const auto* n = v.number()) {
        out += n->text;
    } else if (const std::string* s = v.string()) {
        string(*s);
    } else if (const auto* a = v.array()) {
        out += '[';
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (i > 0) out += ',';
            serialize((*a)[i], out);
        }
        out += ']';
    } else {
        out += '{';
        bool first = true;
        for (const auto& m : *v.object()) {
            if (!first) out += ',';
            first = false;
            string(m.key);
            out += ':';
            serialize(m.value, out);
        }
        out += '}';
    }
}

/// The reader's numbers against nlohmann's reading of the same text.
inline void compare_numbers(const JsonValue& v, const nlohmann::json& j) {
    if (const auto* n = v.number()) {
        const std::string what = "number " + printable(n->text) + ": ";
        if (n->magnitude) {
            const double exact = static_cast<double>(*n->magnitude);
            MEMSCOPE_FUZZ_CHECK(n->integral && n->value == (n->negative ? -exact : exact),
                                what + "value and magnitude disagree");
        }
        if (j.is_number_unsigned()) {
            MEMSCOPE_FUZZ_CHECK(n->as_uint64() == j.get<std::uint64_t>(), what + "not exact");
        } else if (j.is_number_integer()) {
            const auto i = j.get<std::int64_t>();
            const std::uint64_t magnitude =
                i < 0 ? ~static_cast<std::uint64_t>(i) + 1 : static_cast<std::uint64_t>(i);
            // nlohmann reads "-0" as the integer 0; the reader keeps its sign.
            MEMSCOPE_FUZZ_CHECK(
                n->magnitude == magnitude && (i < 0 ? n->negative : magnitude == 0 || !n->negative),
                what + "not exact");
        } else {
            const double d = j.get<double>();
            if (std::isnormal(d) || std::isinf(d))
                MEMSCOPE_FUZZ_CHECK(n->value == d, what + "reads " + std::to_string(n->value) +
                                                       ", nlohmann " + std::to_string(d));
        }
    } else if (const auto* a = v.array()) {
        for (std::size_t i = 0; i < a->size(); ++i) compare_numbers((*a)[i], j[i]);
    } else if (const auto* o = v.object()) {
        for (const auto& m : *o) compare_numbers(m.value, j.at(m.key));
    }
}

/// True when `message` is one of the reader's own sentences, not nlohmann's words (which
/// would mean a refusal the reader could not explain).
inline bool is_reader_sentence(std::string_view message) {
    constexpr std::string_view kStarts[] = {"empty input, ",
                                            "unexpected ",
                                            "expected ",
                                            "trailing comma before ",
                                            "invalid ",
                                            "unterminated ",
                                            "unpaired surrogate ",
                                            "control character U+",
                                            "leading zeros ",
                                            "nesting deeper ",
                                            "duplicate key ",
                                            "input is ",
                                            "a '/' outside a string "};
    return std::any_of(std::begin(kStarts), std::end(kStarts),
                       [&](std::string_view s) { return message.starts_with(s); });
}

/// An error of the reader: in the text, one line of UTF-8, one of the reader's sentences.
inline void check_error(const JsonError& e, std::string_view text) {
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    MEMSCOPE_FUZZ_CHECK(e.position.line >= 1 && e.position.line <= lines && e.position.column >= 1,
                        "error position out of the text: line " + std::to_string(e.position.line));
    MEMSCOPE_FUZZ_CHECK(
        e.kind == JsonErrorKind::too_large || offset_of(text, e.position) <= text.size(),
        "error position out of the text");
    MEMSCOPE_FUZZ_CHECK(!e.message.empty() && is_one_line(e.message) && is_valid_utf8(e.message),
                        "bad reader message: " + printable(e.message));
    MEMSCOPE_FUZZ_CHECK(is_reader_sentence(e.message),
                        "a refusal not diagnosed: " + printable(e.message));
    MEMSCOPE_FUZZ_CHECK(is_valid_utf8(e.path) && is_one_line(e.path),
                        "bad reader path: " + printable(e.path));
}

/// read_json() of `text` with `options`, checked against nlohmann: what the reader accepts
/// nlohmann accepts (but for numbers beyond a double), with the same strings and numbers
/// and every position right; what it refuses that nlohmann accepts is a duplicate key,
/// nesting beyond the limit, or a NUL byte (nlohmann's lexer takes it for the end).
inline void check_reader(std::string_view text, const JsonReadOptions& options) {
    using nlohmann::json;
    JsonError error;
    const auto dom = read_json(text, &error, options);
    const bool has_nul = text.find('\0') != std::string_view::npos;
    if (has_nul) MEMSCOPE_FUZZ_CHECK(!dom, "the reader accepts a NUL byte");
    if (!dom) check_error(error, text);
    if (has_nul || text.size() > options.max_size_bytes) return;
    const bool accepted = json::accept(text.begin(), text.end(), options.allow_comments);
    if (dom) {
        check_positions(text, *dom);
        if (!accepted && has_infinite_number(*dom)) return;
        MEMSCOPE_FUZZ_CHECK(accepted, "the reader accepts what nlohmann refuses");
        std::string ours;
        serialize(*dom, ours);
        const json mine = json::parse(ours, nullptr, false);
        MEMSCOPE_FUZZ_CHECK(!mine.is_discarded(), "the reader's DOM is not JSON again");
        const json theirs =
            json::parse(text.begin(), text.end(), nullptr, true, options.allow_comments);
        MEMSCOPE_FUZZ_CHECK(mine == theirs, "the reader's DOM differs from nlohmann's");
        compare_numbers(*dom, theirs);
        return;
    }
    if (!accepted) return;
    MEMSCOPE_FUZZ_CHECK(
        error.kind == JsonErrorKind::duplicate_key || error.kind == JsonErrorKind::too_deep,
        "the reader refuses JSON nlohmann accepts: " + printable(error.message));
    if (error.kind == JsonErrorKind::too_deep)
        MEMSCOPE_FUZZ_CHECK(
            nesting(text, options.allow_comments) > std::min(options.max_depth, kMaxJsonDepth),
            "too_deep at depth " + std::to_string(nesting(text, options.allow_comments)));
}

}  // namespace memscope::fuzz

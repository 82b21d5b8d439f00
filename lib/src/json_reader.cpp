// The strict JSON reader behind the configuration file (see json_reader.hpp).
//
// A recursive-descent parser: one function per grammar rule, each returning false after
// recording the first error. Recursion happens only through containers and stops at
// max_depth, so the stack stays bounded whatever the input. Errors get their key path
// as the parser unwinds: each container prefixes its own key or index.

#include "json_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace memscope::detail {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if there is none there
// (stray continuation byte, overlong form, encoded surrogate, beyond U+10FFFF, cut short).
// The ranges are those of the Unicode standard's table 3-7.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = at(i);
    if (c < 0x80) return 1;
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        if (c == 0xE0) low = 0xA0;   // overlong below U+0800
        if (c == 0xED) high = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        if (c == 0xF0) low = 0x90;   // overlong below U+10000
        if (c == 0xF4) high = 0x8F;  // beyond U+10FFFF
    } else {
        return 0;
    }
    if (s.size() - i < length) return 0;
    if (at(i + 1) < low || at(i + 1) > high) return 0;
    for (std::size_t k = 2; k < length; ++k)
        if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    return length;
}

// What a one-letter escape such as \n stands for, or 0 if `e` is not one.
char simple_escape(char e) {
    constexpr std::string_view kLetters = "\"\\/bfnrt";
    constexpr std::string_view kMeanings = "\"\\/\b\f\n\r\t";
    const std::size_t i = kLetters.find(e);
    return i == std::string_view::npos ? 0 : kMeanings[i];
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string position_text(JsonPosition p) {
    return "line " + std::to_string(p.line) + ", column " + std::to_string(p.column);
}

// A key path segment that can be written bare after a '.'.
bool is_plain_key(std::string_view key) {
    if (key.empty() || key.size() > 40) return false;
    return std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
               c == '-';
    });
}

// The exact integer behind a JSON number's digits: `digits` (no sign, no point) times
// 10^exponent. Sets integral and magnitude; returns the decimal order of magnitude
// (number of digits before the point), which tells overflow from underflow.
std::int64_t exact_integer(std::string digits, std::int64_t exponent, JsonNumber& n) {
    const std::size_t first = digits.find_first_not_of('0');
    if (first == std::string::npos) {  // zero, whatever the exponent
        n.integral = true;
        n.magnitude = 0;
        return 0;
    }
    digits.erase(0, first);
    const std::size_t last = digits.find_last_not_of('0');
    exponent += static_cast<std::int64_t>(digits.size() - 1 - last);
    digits.erase(last + 1);
    const std::int64_t order = static_cast<std::int64_t>(digits.size()) + exponent;
    n.integral = exponent >= 0;
    // UINT64_MAX has 20 digits: anything longer cannot fit, so never loop on 1e999999.
    if (!n.integral || order > 20) return order;
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t m = 0;
    for (char c : digits) {
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (m > (kMax - d) / 10) return order;
        m = m * 10 + d;
    }
    for (std::int64_t i = 0; i < exponent; ++i) {
        if (m > kMax / 10) return order;
        m *= 10;
    }
    n.magnitude = m;
    return order;
}

class Parser {
  public:
    Parser(std::string_view text, const JsonReadOptions& options)
        : text_(text), max_depth_(std::min(options.max_depth, kMaxJsonDepth)) {}

    bool parse_document(JsonValue& out) {
        if (text_.size() >= 3 && text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
        skip_whitespace();
        if (at_end()) return fail(here(), "empty input, expected a JSON value");
        if (!parse_value(out, 0)) return false;
        skip_whitespace();
        if (!at_end())
            return fail(here(), "unexpected " + describe_next() + " after the JSON value");
        return true;
    }

    /// The first error, once parse_document() has returned false.
    JsonError take_error() { return std::move(error_); }

  private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    JsonPosition here() const { return {line_, column_}; }

    // Consumes one byte. A column is one code point, so UTF-8 continuation bytes do not
    // move it.
    void advance() {
        const auto c = static_cast<unsigned char>(text_[pos_++]);
        if (c == '\n') {
            ++line_;
            column_ = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++column_;
        }
    }

    void skip_whitespace() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            advance();
    }

    bool fail(JsonPosition where, std::string message, JsonErrorKind kind = JsonErrorKind::syntax) {
        error_.kind = kind;
        error_.position = where;
        error_.message = std::move(message);
        return false;
    }

    // The next character, for "got ..." in messages.
    std::string describe_next() const {
        if (at_end()) return "end of input";
        const auto c = static_cast<unsigned char>(peek());
        if (c == '\n' || c == '\r') return "end of line";
        if (c > 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
        char buf[24];
        std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
        return buf;
    }

    // Error paths are built while unwinding: the innermost frame knows the last segment.
    void prefix_path(std::string segment) {
        if (!error_.path.empty() && error_.path.front() != '[') segment += '.';
        error_.path = std::move(segment) + error_.path;
    }

    bool parse_value(JsonValue& out, std::size_t depth) {
        skip_whitespace();
        out.position = here();
        if (at_end()) return fail(here(), "expected a value, got end of input");
        switch (peek()) {
            case '{':
                return parse_object(out, depth + 1);
            case '[':
                return parse_array(out, depth + 1);
            case '"': {
                std::string s;
                if (!parse_string(s)) return false;
                out.data = std::move(s);
                return true;
            }
            case 't':
                if (!expect_word("true")) return false;
                out.data.emplace<bool>(true);
                return true;
            case 'f':
                if (!expect_word("false")) return false;
                out.data.emplace<bool>(false);
                return true;
            case 'n':
                if (!expect_word("null")) return false;
                out.data.emplace<std::nullptr_t>(nullptr);
                return true;
            default:
                if (peek() == '-' || is_digit(peek())) return parse_number(out);
                return fail(here(),
                            "expected a value (object, array, string, number, true, "
                            "false or null), got " +
                                describe_next());
        }
    }

    // Consumes `word` (true, false, null) or fails.
    bool expect_word(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word)
            return fail(here(), "invalid literal, expected '" + std::string(word) + "'");
        skip(word.size());
        return true;
    }

    // Enforces the depth limit on entering a container at `depth` (the top one is 1).
    bool enter(std::size_t depth) {
        if (depth <= max_depth_) return true;
        return fail(here(), "nesting deeper than " + std::to_string(max_depth_) + " levels",
                    JsonErrorKind::too_deep);
    }

    // "..., got end of input ('{' at line 1, column 1 is not closed)".
    std::string got_next(JsonPosition open, char bracket) const {
        std::string s = describe_next();
        if (at_end())
            s += std::string(" ('") + bracket + "' at " + position_text(open) + " is not closed)";
        return s;
    }

    bool parse_object(JsonValue& out, std::size_t depth) {
        const JsonPosition open = here();
        if (!enter(depth)) return false;
        advance();  // '{'
        JsonValue::Object members;
        // Key -> index in members: duplicate detection in O(1), so a 1 MiB object of
        // distinct keys costs no quadratic time.
        std::unordered_map<std::string, std::size_t> seen;
        skip_whitespace();
        if (!at_end() && peek() == '}') {
            advance();
            out.data = std::move(members);
            return true;
        }
        bool after_comma = false;
        for (;;) {
            skip_whitespace();
            if (at_end() || peek() != '"') {
                if (after_comma && !at_end() && peek() == '}')
                    return fail(here(), "trailing comma before '}' is not allowed in JSON");
                return fail(here(), std::string(after_comma ? "expected a string key after ','"
                                                            : "expected a string key or '}'") +
                                        ", got " + got_next(open, '{'));
            }
            JsonMember member;
            member.key_position = here();
            if (!parse_string(member.key)) return false;
            if (auto [it, inserted] = seen.emplace(member.key, members.size()); !inserted) {
                error_.path = json_path_key("", member.key);
                return fail(member.key_position,
                            "duplicate key " + json_quote(member.key) + " (first at " +
                                position_text(members[it->second].key_position) + ")",
                            JsonErrorKind::duplicate_key);
            }
            skip_whitespace();
            if (at_end() || peek() != ':')
                return fail(here(), "expected ':' after object key " + json_quote(member.key) +
                                        ", got " + got_next(open, '{'));
            advance();
            if (!parse_value(member.value, depth)) {
                prefix_path(json_path_key("", member.key));
                return false;
            }
            members.push_back(std::move(member));
            skip_whitespace();
            if (!at_end() && peek() == ',') {
                advance();
                after_comma = true;
                continue;
            }
            if (!at_end() && peek() == '}') {
                advance();
                out.data = std::move(members);
                return true;
            }
            return fail(here(),
                        "expected ',' or '}' after object member, got " + got_next(open, '{'));
        }
    }

    bool parse_array(JsonValue& out, std::size_t depth) {
        const JsonPosition open = here();
        if (!enter(depth)) return false;
        advance();  // '['
        JsonValue::Array elements;
        skip_whitespace();
        if (!at_end() && peek() == ']') {
            advance();
            out.data = std::move(elements);
            return true;
        }
        for (;;) {
            skip_whitespace();
            if (!at_end() && peek() == ']' && !elements.empty())
                return fail(here(), "trailing comma before ']' is not allowed in JSON");
            if (at_end()) return fail(here(), "expected a value, got " + got_next(open, '['));
            JsonValue element;
            if (!parse_value(element, depth)) {
                prefix_path(json_path_index("", elements.size()));
                return false;
            }
            elements.push_back(std::move(element));
            skip_whitespace();
            if (!at_end() && peek() == ',') {
                advance();
                continue;
            }
            if (!at_end() && peek() == ']') {
                advance();
                out.data = std::move(elements);
                return true;
            }
            return fail(here(),
                        "expected ',' or ']' after array element, got " + got_next(open, '['));
        }
    }

    // The four hex digits of a "\uXXXX" escape whose 'u' is at text_[at]; false if they
    // are not there. Does not consume anything.
    bool hex4_at(std::size_t at, std::uint32_t& value) const {
        if (at >= text_.size() || text_[at] != 'u' || text_.size() - at < 5) return false;
        value = 0;
        for (std::size_t k = 1; k <= 4; ++k) {
            const int h = hex_value(text_[at + k]);
            if (h < 0) return false;
            value = value * 16 + static_cast<std::uint32_t>(h);
        }
        return true;
    }

    void skip(std::size_t bytes) {
        for (std::size_t k = 0; k < bytes; ++k) advance();
    }

    // Pos_ at the backslash; appends the decoded character.
    bool parse_escape(std::string& out) {
        const JsonPosition where = here();
        advance();                   // '\'
        if (at_end()) return false;  // the caller reports the unterminated string
        const char e = peek();
        if (e != 'u') {
            const char simple = simple_escape(e);
            if (simple == 0)
                return fail(where, "invalid escape '\\" + describe_escape(e) +
                                       "' in string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r "
                                       "\\t \\uXXXX)");
            advance();
            out += simple;
            return true;
        }
        std::uint32_t cp = 0;
        if (!hex4_at(pos_, cp)) return fail(where, "invalid \\u escape: expected 4 hex digits");
        skip(5);
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(where, "unpaired surrogate " + u_escape(cp) +
                                   " in string (a low surrogate must follow a high one)");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate is only half a character: the low half must follow at once.
            std::uint32_t low = 0;
            const bool paired = pos_ < text_.size() && text_[pos_] == '\\' &&
                                hex4_at(pos_ + 1, low) && low >= 0xDC00 && low <= 0xDFFF;
            if (!paired)
                return fail(where, "unpaired surrogate " + u_escape(cp) +
                                       " in string (a high surrogate must be followed by a "
                                       "\\uDC00-\\uDFFF low surrogate)");
            skip(6);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        return true;
    }

    static std::string describe_escape(char e) {
        const auto c = static_cast<unsigned char>(e);
        if (c > 0x20 && c < 0x7F) return std::string(1, e);
        char buf[16];
        std::snprintf(buf, sizeof buf, "<0x%02X>", c);
        return buf;
    }

    static std::string u_escape(std::uint32_t cp) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
        return buf;
    }

    // Pos_ at the opening quote.
    bool parse_string(std::string& out) {
        const JsonPosition open = here();
        advance();  // '"'
        for (;;) {
            if (at_end()) return fail(open, "unterminated string");
            const auto c = static_cast<unsigned char>(peek());
            if (c == '"') {
                advance();
                return true;
            }
            if (c == '\\') {
                if (!parse_escape(out)) {
                    if (at_end()) return fail(open, "unterminated string");
                    return false;
                }
                continue;
            }
            if (c == '\n' || c == '\r')
                return fail(open,
                            "unterminated string (a line break cannot appear inside a "
                            "string; write \\n)");
            if (c < 0x20) {
                char buf[96];
                std::snprintf(buf, sizeof buf,
                              "control character U+%04X must be escaped in a string", c);
                return fail(here(), buf);
            }
            const std::size_t length = utf8_sequence_length(text_, pos_);
            if (length == 0) return fail(here(), "invalid UTF-8 in string");
            out.append(text_.substr(pos_, length));
            skip(length);
        }
    }

    bool parse_number(JsonValue& out) {
        const std::size_t start = pos_;
        JsonNumber n;
        std::string digits;  // integer and fraction digits, for the exact value
        std::int64_t exponent = 0;
        if (peek() == '-') {
            n.negative = true;
            advance();
            if (at_end() || !is_digit(peek()))
                return fail(here(), "expected a digit after '-', got " + describe_next());
        }
        if (peek() == '0') {
            advance();
            digits += '0';
            if (!at_end() && is_digit(peek()))
                return fail(here(), "leading zeros are not allowed in JSON numbers");
        } else {
            while (!at_end() && is_digit(peek())) {
                digits += peek();
                advance();
            }
        }
        if (!at_end() && peek() == '.') {
            advance();
            if (at_end() || !is_digit(peek()))
                return fail(here(),
                            "expected a digit after the decimal point, got " + describe_next());
            while (!at_end() && is_digit(peek())) {
                digits += peek();
                --exponent;  // digits holds the fraction too: scale back by one per digit
                advance();
            }
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            advance();
            bool minus = false;
            if (!at_end() && (peek() == '+' || peek() == '-')) {
                minus = peek() == '-';
                advance();
            }
            if (at_end() || !is_digit(peek()))
                return fail(here(), "expected a digit in the exponent, got " + describe_next());
            // Saturate: 1e99999999999999999999 is as infinite as 1e400, and an exponent
            // bounded this way cannot overflow the arithmetic below.
            std::int64_t e = 0;
            while (!at_end() && is_digit(peek())) {
                if (e < 1'000'000'000'000) e = e * 10 + (peek() - '0');
                advance();
            }
            exponent += minus ? -e : e;
        }
        n.text = std::string(text_.substr(start, pos_ - start));
        const std::int64_t order = exact_integer(std::move(digits), exponent, n);
        // from_chars, unlike strtod, ignores the locale: a game that set LC_NUMERIC to
        // "de_DE" still reads 0.85 right.
        const char* first = n.text.data();
        const char* last = first + n.text.size();
        const auto result = std::from_chars(first, last, n.value);
        if (result.ec == std::errc::result_out_of_range) {
            n.value = order > 0 ? std::numeric_limits<double>::infinity() : 0.0;
            if (n.negative) n.value = -n.value;
        } else if (result.ec != std::errc() || result.ptr != last) {
            return fail(out.position, "invalid number " + json_quote(n.text));  // not reached
        }
        out.data = std::move(n);
        return true;
    }

    std::string_view text_;
    JsonError error_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;    // of text_[pos_]
    std::size_t column_ = 1;  // of text_[pos_]
    std::size_t max_depth_;
};

}  // namespace

std::string_view json_type_name(JsonType type) noexcept {
    switch (type) {
        case JsonType::null:
            return "null";
        case JsonType::boolean:
            return "a boolean";
        case JsonType::number:
            return "a number";
        case JsonType::string:
            return "a string";
        case JsonType::array:
            return "an array";
        case JsonType::object:
            return "an object";
    }
    return "an unknown type";
}

const JsonValue* JsonValue::find(std::string_view key) const noexcept {
    const Object* members = object();
    if (members == nullptr) return nullptr;
    for (const JsonMember& m : *members)
        if (m.key == key) return &m.value;
    return nullptr;
}

std::optional<JsonValue> read_json(std::string_view text, JsonError* error,
                                   const JsonReadOptions& options) {
    if (text.size() > options.max_size_bytes) {
        if (error != nullptr) {
            *error = JsonError{};
            error->kind = JsonErrorKind::too_large;
            error->message = "input is " + std::to_string(text.size()) + " bytes, more than the " +
                             std::to_string(options.max_size_bytes) + "-byte limit";
        }
        return std::nullopt;
    }
    Parser parser(text, options);
    JsonValue value;
    if (!parser.parse_document(value)) {
        if (error != nullptr) *error = parser.take_error();
        return std::nullopt;
    }
    return value;
}

std::string json_path_key(std::string_view path, std::string_view key) {
    std::string out(path);
    if (is_plain_key(key)) {
        if (!out.empty()) out += '.';
        out.append(key);
    } else {
        out += '[';
        out += json_quote(key, 40);
        out += ']';
    }
    return out;
}

std::string json_path_index(std::string_view path, std::size_t index) {
    return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string json_quote(std::string_view text, std::size_t max_bytes) {
    std::string out = "\"";
    std::size_t i = 0;
    while (i < text.size()) {
        if (i >= max_bytes) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(text[i]);
        char buf[16];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
            std::snprintf(buf, sizeof buf, "\\u%04X", c);
            out += buf;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (const std::size_t length = utf8_sequence_length(text, i); length != 0) {
            out.append(text.substr(i, length));
            i += length;
            continue;
        } else {
            // Not UTF-8 (parse_size() accepts any bytes): show the byte, keep the message
            // valid UTF-8.
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
        ++i;
    }
    out += '"';
    return out;
}

}  // namespace memscope::detail

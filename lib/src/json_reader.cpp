// SPDX-License-Identifier: MIT
// read_json(): nlohmann/json decides what is JSON; this file builds the positioned DOM
// from its SAX events and turns its errors into sentences a person understands.
//
// nlohmann's events carry no position, so a cursor walks the same text alongside. Between
// two events there can only be whitespace, comments, ':' and ',' (nlohmann has checked
// them), so the next token starts at the first other byte, and its first byte tells how
// long it is. When nlohmann stops at an error, the cursor is at the end of the last good
// token and the builder knows what the grammar expects next: a look at the text from there
// names the problem and its exact line and column.

#include "json_reader.hpp"
#include "memscope/internal.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

namespace memscope {
namespace {

using detail::hex_value;
using detail::is_digit;
using detail::utf8_sequence_length;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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

// Length of the JSON number (RFC 8259's grammar, longest match) at text[i], or 0 if none
// starts there.
std::size_t number_length(std::string_view text, std::size_t i) {
    const std::size_t start = i;
    const auto digit_at = [&](std::size_t k) { return k < text.size() && is_digit(text[k]); };
    if (i < text.size() && text[i] == '-') ++i;
    if (!digit_at(i)) return 0;
    if (text[i] == '0') {
        ++i;
    } else {
        while (digit_at(i)) ++i;
    }
    if (i < text.size() && text[i] == '.' && digit_at(i + 1)) {
        i += 2;
        while (digit_at(i)) ++i;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        std::size_t k = i + 1;
        if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
        if (digit_at(k)) {
            i = k;
            while (digit_at(i)) ++i;
        }
    }
    return i - start;
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

// A JsonNumber from the source text of a valid JSON number.
JsonNumber make_number(std::string_view text) {
    JsonNumber n;
    n.text = std::string(text);
    std::string digits;  // integer and fraction digits, for the exact value
    std::int64_t exponent = 0;
    std::size_t i = 0;
    if (text[i] == '-') {
        n.negative = true;
        ++i;
    }
    for (; i < text.size() && is_digit(text[i]); ++i) digits += text[i];
    if (i < text.size() && text[i] == '.') {
        for (++i; i < text.size() && is_digit(text[i]); ++i) {
            digits += text[i];
            --exponent;  // digits holds the fraction too: scale back by one per digit
        }
    }
    if (i < text.size()) {  // 'e' or 'E'
        ++i;
        const bool minus = text[i] == '-';
        if (text[i] == '+' || text[i] == '-') ++i;
        // Saturate: 1e99999999999999999999 is as infinite as 1e400, and an exponent
        // bounded this way cannot overflow the arithmetic of exact_integer().
        std::int64_t e = 0;
        for (; i < text.size(); ++i)
            if (e < 1'000'000'000'000) e = e * 10 + (text[i] - '0');
        exponent += minus ? -e : e;
    }
    const std::int64_t order = exact_integer(std::move(digits), exponent, n);
    // from_chars, unlike strtod, ignores the locale: a game that set LC_NUMERIC to "de_DE"
    // still reads 0.85 right.
    const auto result = std::from_chars(text.data(), text.data() + text.size(), n.value);
    if (result.ec == std::errc::result_out_of_range) {
        n.value = order > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        if (n.negative) n.value = -n.value;
    }
    return n;
}

// A number that nlohmann refuses because no double holds it.
bool overflows_double(std::string_view number) {
    double value = 0;
    const auto result = std::from_chars(number.data(), number.data() + number.size(), value);
    return result.ec == std::errc::result_out_of_range;
}

// A copy of `text` in which every number beyond the range of a double is replaced by a
// 0 (-0 if negative) and spaces, to the same length: nlohmann then reads the rest, and
// every position stays right. The sign keeps a digit before the number from joining the
// 0, and the spaces keep a '.', 'e' or digit after it from extending the 0: the tokens
// are those of the text. Strings and comments are skipped as nlohmann's lexer skips them.
std::string without_overflowing_numbers(std::string_view text, bool comments) {
    std::string out(text);
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i)
                if (text[i] == '\\') ++i;
            ++i;
        } else if (comments && c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            while (i < text.size() && text[i] != '\n' && text[i] != '\r') ++i;
        } else if (comments && c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            const std::size_t end = text.find("*/", i + 2);
            i = end == std::string_view::npos ? text.size() : end + 2;
        } else if (const std::size_t length = number_length(text, i); length > 0) {
            if (overflows_double(text.substr(i, length))) {
                const std::string_view zero = text[i] == '-' ? "-0" : "0";
                out.replace(i, length, std::string(zero) + std::string(length - zero.size(), ' '));
            }
            i += length;
        } else {
            ++i;
        }
    }
    return out;
}

// A position in the text that counts lines and columns as it moves forward.
class Cursor {
  public:
    explicit Cursor(std::string_view text) : text_(text) {}

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    // The byte `k` ahead, or 0 past the end (callers compare it with ASCII only).
    char peek_at(std::size_t k) const { return pos_ + k < text_.size() ? text_[pos_ + k] : 0; }
    std::size_t offset() const { return pos_; }
    std::string_view rest() const { return text_.substr(pos_); }
    JsonPosition position() const { return {line_, column_}; }

    // Consumes `bytes` bytes. A column is one code point, so UTF-8 continuation bytes do
    // not move it.
    void advance(std::size_t bytes = 1) {
        for (std::size_t k = 0; k < bytes && pos_ < text_.size(); ++k) {
            const auto c = static_cast<unsigned char>(text_[pos_++]);
            if (c == '\n') {
                ++line_;
                column_ = 1;
            } else if ((c & 0xC0) != 0x80) {
                ++column_;
            }
        }
    }

    // Skips a UTF-8 byte order mark at the start, which takes no column.
    void skip_byte_order_mark() {
        if (pos_ == 0 && text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
    }

  private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;    // of text_[pos_]
    std::size_t column_ = 1;  // of text_[pos_]
};

// The next byte, for "got ..." in messages.
std::string describe(const Cursor& c) {
    if (c.at_end()) return "end of input";
    const auto ch = static_cast<unsigned char>(c.peek());
    if (ch == '\n' || ch == '\r') return "end of line";
    if (ch > 0x20 && ch < 0x7F) return std::string("'") + static_cast<char>(ch) + "'";
    char buf[24];
    std::snprintf(buf, sizeof buf, "byte 0x%02X", ch);
    return buf;
}

std::string describe_escape(char e) {
    const auto c = static_cast<unsigned char>(e);
    if (c > 0x20 && c < 0x7F) return std::string(1, e);
    char buf[16];
    std::snprintf(buf, sizeof buf, "<0x%02X>", c);
    return buf;
}

std::string u_escape(std::uint32_t cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
    return buf;
}

// The code unit of the "\uXXXX" escape whose 'u' is `k` bytes ahead of `c`, or nullopt if
// the four hex digits are not there.
std::optional<std::uint32_t> hex4_at(const Cursor& c, std::size_t k) {
    if (c.peek_at(k) != 'u') return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t d = 1; d <= 4; ++d) {
        const int h = hex_value(c.peek_at(k + d));
        if (h < 0) return std::nullopt;
        value = value * 16 + static_cast<std::uint32_t>(h);
    }
    return value;
}

// A problem found while skipping whitespace and comments.
struct Problem {
    JsonPosition position;
    std::string message;
};

// Moves `c` past whitespace and, when `comments`, comments. Stops at anything else, or at
// a broken comment, which it returns.
std::optional<Problem> skip_space(Cursor& c, bool comments) {
    while (!c.at_end()) {
        if (is_space(c.peek())) {
            c.advance();
            continue;
        }
        if (!comments || c.peek() != '/') return std::nullopt;
        const JsonPosition start = c.position();
        const char kind = c.peek_at(1);
        if (kind != '/' && kind != '*')
            return Problem{start, "a '/' outside a string must start a comment, // or /*"};
        c.advance(2);
        for (;;) {
            if (c.at_end()) {
                if (kind == '/') break;
                return Problem{start, "unterminated comment ('/*' needs a closing '*/')"};
            }
            const char ch = c.peek();
            if (ch == '\0') return Problem{c.position(), "unexpected byte 0x00 in a comment"};
            if (kind == '/' && (ch == '\n' || ch == '\r')) break;
            if (kind == '*' && ch == '*' && c.peek_at(1) == '/') {
                c.advance(2);
                break;
            }
            c.advance();
        }
    }
    return std::nullopt;
}

// Bytes of the valid token starting at the start of `text` (nlohmann accepted it).
std::size_t token_length(std::string_view text) {
    switch (text.front()) {
        case '"': {
            std::size_t i = 1;
            while (text[i] != '"') i += text[i] == '\\' ? 2 : 1;
            return i + 1;
        }
        case 't':
        case 'n':
            return 4;
        case 'f':
            return 5;
        case '{':
        case '}':
        case '[':
        case ']':
            return 1;
        default:  // '-' or a digit
            return number_length(text, 0);
    }
}

// What the grammar expects after the last event: where a diagnosis starts.
enum class Expect : std::uint8_t {
    document,        // a value, at the start
    object_start,    // after '{': a key or '}'
    array_start,     // after '[': a value or ']'
    after_key,       // ':' and a value
    after_member,    // ',' or '}'
    after_element,   // ',' or ']'
    after_document,  // nothing but whitespace
};

// An array or object being read.
struct Frame {
    bool is_object = false;
    JsonPosition open;  // of its '[' or '{'
    JsonValue::Array elements;
    JsonValue::Object members;
    // Key -> index in members: duplicates found in O(1), so a 1 MiB object of distinct
    // keys costs no quadratic time.
    std::unordered_map<std::string, std::size_t> keys;
    JsonMember pending;  // object: the member whose value is being read
};

// nlohmann's SAX handler: builds the DOM, refuses duplicate keys and excessive nesting,
// and diagnoses nlohmann's errors.
class DomBuilder {
  public:
    /// Builds from the events of nlohmann's reading of `text`, or of a copy of it whose
    /// overflowing numbers are `patched` (see without_overflowing_numbers()).
    DomBuilder(std::string_view text, const JsonReadOptions& options, bool patched)
        : text_(text),
          cursor_(text),
          max_depth_(std::min(options.max_depth, kMaxJsonDepth)),
          comments_(options.allow_comments),
          patched_(patched) {
        cursor_.skip_byte_order_mark();
    }

    // The SAX interface (nlohmann's is_sax). Each returns false to stop the parse.
    bool null() { return add(JsonValue{nullptr, token()}); }
    bool boolean(bool b) { return add(JsonValue{b, token()}); }
    bool number_integer(std::int64_t /*value*/) { return number(); }
    bool number_unsigned(std::uint64_t /*value*/) { return number(); }
    bool number_float(double /*value*/, const std::string& /*text*/) { return number(); }
    bool string(std::string& s) { return add(JsonValue{std::move(s), token()}); }
    bool binary(nlohmann::json::binary_t& /*value*/) { return false; }  // not in JSON text
    bool start_object(std::size_t /*size*/) { return open(true); }
    bool start_array(std::size_t /*size*/) { return open(false); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(std::string& k);
    bool parse_error(std::size_t byte, const std::string& /*token*/,
                     const nlohmann::json::exception& e);

    /// After nlohmann accepted the text: what only the cursor can see (a NUL byte, which
    /// nlohmann reads as the end, and what follows it) is refused here.
    bool finish();
    /// nlohmann stopped at a number beyond the range of a double.
    bool overflowed() const { return overflowed_; }
    /// The first problem found (nlohmann's own words if none was).
    JsonError take_error() {
        if (!failed_) undiagnosed();
        return std::move(error_);
    }
    JsonValue take_root() { return std::move(root_); }

  private:
    // Moves the cursor to the start of the token of the current event and past it;
    // returns where it starts.
    JsonPosition token();
    bool number();
    bool add(JsonValue value);
    bool open(bool is_object);
    bool close();

    // Key paths: through the first `frames` frames, each adding the key or index being read.
    std::string path_through(std::size_t frames) const;
    std::string container_path() const {
        return path_through(frames_.empty() ? 0 : frames_.size() - 1);
    }
    std::string value_path() const { return path_through(frames_.size()); }
    std::string last_value_path() const;

    bool fail(JsonPosition where, std::string path, std::string message,
              JsonErrorKind kind = JsonErrorKind::syntax);
    bool fail(const Problem& p) { return fail(p.position, container_path(), p.message); }
    // "got end of input ('{' at line 1, column 1 is not closed)".
    std::string got(const Cursor& c) const;
    bool leading_zero(const Cursor& c) const {
        return c.offset() == zero_end_ && !c.at_end() && is_digit(c.peek());
    }

    bool diagnose();
    bool diagnose_after_value(Cursor c, char close);
    bool diagnose_value(Cursor c, const std::string& path, bool in_array);
    bool diagnose_string(Cursor c, const std::string& path);
    bool diagnose_number(Cursor c, const std::string& path);
    bool diagnose_literal(Cursor c, const std::string& path);
    bool undiagnosed();

    std::string_view text_;
    Cursor cursor_;                 // at the end of the last token of an event
    std::size_t token_offset_ = 0;  // where that token starts
    std::size_t max_depth_;
    bool comments_;
    bool patched_;
    std::vector<Frame> frames_;
    JsonValue root_;
    Expect expect_ = Expect::document;
    std::size_t zero_end_ = std::string_view::npos;  // where a number "0" or "-0" ended
    bool overflowed_ = false;
    bool failed_ = false;
    JsonError error_;
    std::size_t nlohmann_byte_ = 0;  // where nlohmann saw its error, and what it said
    std::string nlohmann_message_;
};

JsonPosition DomBuilder::token() {
    for (;;) {
        static_cast<void>(skip_space(cursor_, comments_));  // checked by nlohmann already
        if (cursor_.at_end() || (cursor_.peek() != ':' && cursor_.peek() != ',')) break;
        cursor_.advance();
    }
    const JsonPosition start = cursor_.position();
    token_offset_ = cursor_.offset();
    if (!cursor_.at_end()) cursor_.advance(token_length(cursor_.rest()));
    return start;
}

bool DomBuilder::number() {
    const JsonPosition position = token();
    const std::string_view text = text_.substr(token_offset_, cursor_.offset() - token_offset_);
    if (text == "0" || text == "-0") zero_end_ = cursor_.offset();
    return add(JsonValue{make_number(text), position});
}

bool DomBuilder::add(JsonValue value) {
    if (frames_.empty()) {
        root_ = std::move(value);
        expect_ = Expect::after_document;
    } else if (Frame& top = frames_.back(); top.is_object) {
        top.pending.value = std::move(value);
        top.members.push_back(std::move(top.pending));
        top.pending = JsonMember{};
        expect_ = Expect::after_member;
    } else {
        top.elements.push_back(std::move(value));
        expect_ = Expect::after_element;
    }
    return true;
}

bool DomBuilder::open(bool is_object) {
    const JsonPosition position = token();
    if (frames_.size() >= max_depth_)
        return fail(position, value_path(),
                    "nesting deeper than " + std::to_string(max_depth_) + " levels",
                    JsonErrorKind::too_deep);
    Frame& frame = frames_.emplace_back();
    frame.is_object = is_object;
    frame.open = position;
    expect_ = is_object ? Expect::object_start : Expect::array_start;
    return true;
}

bool DomBuilder::close() {
    static_cast<void>(token());
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    JsonValue value;
    value.position = frame.open;
    if (frame.is_object)
        value.data = std::move(frame.members);
    else
        value.data = std::move(frame.elements);
    return add(std::move(value));
}

bool DomBuilder::key(std::string& k) {
    const JsonPosition position = token();
    Frame& top = frames_.back();
    if (const auto [it, inserted] = top.keys.try_emplace(k, top.members.size()); !inserted)
        return fail(position, json_path_key(container_path(), k),
                    "duplicate key " + json_quote(k) + " (first at " +
                        position_text(top.members[it->second].key_position) + ")",
                    JsonErrorKind::duplicate_key);
    top.pending.key = std::move(k);
    top.pending.key_position = position;
    expect_ = Expect::after_key;
    return true;
}

bool DomBuilder::parse_error(std::size_t byte, const std::string& /*token*/,
                             const nlohmann::json::exception& e) {
    constexpr int kNumberOverflow = 406;  // nlohmann's out_of_range.406
    if (e.id == kNumberOverflow && !patched_) {
        overflowed_ = true;
        return false;
    }
    nlohmann_byte_ = byte;
    nlohmann_message_ = e.what();
    return diagnose();
}

bool DomBuilder::finish() {
    Cursor c = cursor_;
    if (const auto problem = skip_space(c, comments_)) return fail(*problem);
    if (c.at_end()) return true;
    if (leading_zero(c))
        return fail(c.position(), "", "leading zeros are not allowed in JSON numbers");
    return fail(c.position(), "", "unexpected " + describe(c) + " after the JSON value");
}

std::string DomBuilder::path_through(std::size_t frames) const {
    std::string path;
    for (std::size_t i = 0; i < frames; ++i) {
        const Frame& f = frames_[i];
        path = f.is_object ? json_path_key(path, f.pending.key)
                           : json_path_index(path, f.elements.size());
    }
    return path;
}

std::string DomBuilder::last_value_path() const {
    if (frames_.empty()) return "";
    const Frame& top = frames_.back();
    if (top.is_object) return json_path_key(container_path(), top.members.back().key);
    return json_path_index(container_path(), top.elements.size() - 1);
}

bool DomBuilder::fail(JsonPosition where, std::string path, std::string message,
                      JsonErrorKind kind) {
    if (failed_) return false;  // the first problem is the one reported
    failed_ = true;
    error_.kind = kind;
    error_.position = where;
    error_.path = std::move(path);
    error_.message = std::move(message);
    return false;
}

std::string DomBuilder::got(const Cursor& c) const {
    std::string s = describe(c);
    if (c.at_end() && !frames_.empty()) {
        const Frame& top = frames_.back();
        s += std::string(" ('") + (top.is_object ? '{' : '[') + "' at " + position_text(top.open) +
             " is not closed)";
    }
    return s;
}

bool DomBuilder::diagnose() {
    Cursor c = cursor_;
    if (const auto problem = skip_space(c, comments_)) return fail(*problem);
    switch (expect_) {
        case Expect::document:
            if (c.at_end()) return fail(c.position(), "", "empty input, expected a JSON value");
            return diagnose_value(c, "", false);
        case Expect::object_start:
            if (!c.at_end() && c.peek() == '"') return diagnose_string(c, container_path());
            return fail(c.position(), container_path(),
                        "expected a string key or '}', got " + got(c));
        case Expect::array_start:
            return diagnose_value(c, value_path(), true);
        case Expect::after_key:
            if (c.at_end() || c.peek() != ':')
                return fail(c.position(), container_path(),
                            "expected ':' after object key " +
                                json_quote(frames_.back().pending.key) + ", got " + got(c));
            c.advance();
            if (const auto problem = skip_space(c, comments_)) return fail(*problem);
            return diagnose_value(c, value_path(), false);
        case Expect::after_member:
            return diagnose_after_value(c, '}');
        case Expect::after_element:
            return diagnose_after_value(c, ']');
        case Expect::after_document:
            if (c.at_end()) return undiagnosed();
            return finish();
    }
    return undiagnosed();
}

// After a member (`close` is '}') or an element (']'): a ',' and what follows it, or the
// closing bracket.
bool DomBuilder::diagnose_after_value(Cursor c, char close) {
    const bool in_object = close == '}';
    if (c.at_end() || c.peek() != ',') {
        if (leading_zero(c))
            return fail(c.position(), last_value_path(),
                        "leading zeros are not allowed in JSON numbers");
        return fail(c.position(), container_path(),
                    std::string("expected ',' or '") + close + "' after " +
                        (in_object ? "object member" : "array element") + ", got " + got(c));
    }
    c.advance();
    if (const auto problem = skip_space(c, comments_)) return fail(*problem);
    if (!c.at_end() && c.peek() == close)
        return fail(c.position(), container_path(),
                    std::string("trailing comma before '") + close + "' is not allowed in JSON");
    if (!in_object) return diagnose_value(c, value_path(), true);
    if (!c.at_end() && c.peek() == '"') return diagnose_string(c, container_path());
    return fail(c.position(), container_path(), "expected a string key after ',', got " + got(c));
}

bool DomBuilder::diagnose_value(Cursor c, const std::string& path, bool in_array) {
    if (c.at_end()) {
        // In an array the array is what is cut short; in an object, the member's value.
        if (in_array)
            return fail(c.position(), container_path(), "expected a value, got " + got(c));
        return fail(c.position(), path, "expected a value, got end of input");
    }
    const char ch = c.peek();
    if (ch == '"') return diagnose_string(c, path);
    if (ch == '-' || is_digit(ch)) return diagnose_number(c, path);
    if (ch == 't' || ch == 'f' || ch == 'n') return diagnose_literal(c, path);
    if (ch == '{' || ch == '[') return undiagnosed();
    return fail(c.position(), path,
                "expected a value (object, array, string, number, true, false or null), got " +
                    describe(c));
}

bool DomBuilder::diagnose_string(Cursor c, const std::string& path) {
    const JsonPosition open = c.position();
    c.advance();  // '"'
    for (;;) {
        if (c.at_end()) return fail(open, path, "unterminated string");
        const auto ch = static_cast<unsigned char>(c.peek());
        if (ch == '"') return undiagnosed();  // the string is fine
        if (ch == '\\') {
            const JsonPosition where = c.position();
            const char e = c.peek_at(1);
            if (c.offset() + 1 >= text_.size()) return fail(open, path, "unterminated string");
            if (e != 'u') {
                if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos)
                    return fail(where, path,
                                "invalid escape '\\" + describe_escape(e) +
                                    "' in string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                                    "\\uXXXX)");
                c.advance(2);
                continue;
            }
            const auto unit = hex4_at(c, 1);
            if (!unit) return fail(where, path, "invalid \\u escape: expected 4 hex digits");
            if (*unit >= 0xDC00 && *unit <= 0xDFFF)
                return fail(where, path,
                            "unpaired surrogate " + u_escape(*unit) +
                                " in string (a low surrogate must follow a high one)");
            if (*unit >= 0xD800 && *unit <= 0xDBFF) {
                // A high surrogate is only half a character: the low half must follow at once.
                const auto low = c.peek_at(6) == '\\' ? hex4_at(c, 7) : std::nullopt;
                if (!low || *low < 0xDC00 || *low > 0xDFFF)
                    return fail(where, path,
                                "unpaired surrogate " + u_escape(*unit) +
                                    " in string (a high surrogate must be followed by a "
                                    "\\uDC00-\\uDFFF low surrogate)");
                c.advance(6);
            }
            c.advance(6);
            continue;
        }
        if (ch == '\n' || ch == '\r')
            return fail(open, path,
                        "unterminated string (a line break cannot appear inside a string; "
                        "write \\n)");
        if (ch < 0x20) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "control character U+%04X must be escaped in a string",
                          ch);
            return fail(c.position(), path, buf);
        }
        const std::size_t length = utf8_sequence_length(text_, c.offset());
        if (length == 0) return fail(c.position(), path, "invalid UTF-8 in string");
        c.advance(length);
    }
}

bool DomBuilder::diagnose_number(Cursor c, const std::string& path) {
    const auto digit_next = [&c] { return !c.at_end() && is_digit(c.peek()); };
    if (c.peek() == '-') {
        c.advance();
        if (!digit_next())
            return fail(c.position(), path, "expected a digit after '-', got " + describe(c));
    }
    if (c.peek() == '0') {
        c.advance();
    } else {
        while (digit_next()) c.advance();
    }
    if (!c.at_end() && c.peek() == '.') {
        c.advance();
        if (!digit_next())
            return fail(c.position(), path,
                        "expected a digit after the decimal point, got " + describe(c));
        while (digit_next()) c.advance();
    }
    if (!c.at_end() && (c.peek() == 'e' || c.peek() == 'E')) {
        c.advance();
        if (!c.at_end() && (c.peek() == '+' || c.peek() == '-')) c.advance();
        if (!digit_next())
            return fail(c.position(), path, "expected a digit in the exponent, got " + describe(c));
    }
    return undiagnosed();
}

bool DomBuilder::diagnose_literal(Cursor c, const std::string& path) {
    const std::string_view word = c.peek() == 't' ? "true" : c.peek() == 'f' ? "false" : "null";
    if (!c.rest().starts_with(word))
        return fail(c.position(), path, "invalid literal, expected '" + std::string(word) + "'");
    return undiagnosed();
}

// nlohmann refused the text where the look above sees nothing wrong. Not expected (the
// fuzz target checks it never happens); if it does, nlohmann's own words, at its offset.
bool DomBuilder::undiagnosed() {
    Cursor c(text_);
    c.skip_byte_order_mark();
    const std::size_t at = nlohmann_byte_ > 0 ? nlohmann_byte_ - 1 : 0;  // the byte it stopped at
    if (at > c.offset()) c.advance(at - c.offset());
    std::string_view what = nlohmann_message_;
    if (const std::size_t colon = what.find(": "); colon != std::string_view::npos)
        what.remove_prefix(colon + 2);
    std::string message;
    append_json_escaped(message, what, InvalidUtf8::show_byte);
    return fail(c.position(), container_path(), message);
}

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
    // nlohmann's lexer takes a NUL byte for the end of the input, so it gets the text up to
    // the first one; the builder, which sees the whole text, reports the NUL.
    const std::string_view before_nul = text.substr(0, text.find('\0'));
    const auto parse = [&](std::string_view input, DomBuilder& builder) {
        return nlohmann::json::sax_parse(input.begin(), input.end(), &builder,
                                         nlohmann::json::input_format_t::json, true,
                                         options.allow_comments);
    };
    DomBuilder first(text, options, false);
    DomBuilder* builder = &first;
    bool ok = parse(before_nul, first);
    std::optional<DomBuilder> second;
    if (!ok && first.overflowed()) {
        // nlohmann refuses a number beyond a double; RFC 8259 lets a reader choose, and
        // this one keeps it as infinity (the callers refuse it with a better message).
        builder = &second.emplace(text, options, true);
        ok = parse(without_overflowing_numbers(before_nul, options.allow_comments), *builder);
    }
    if (ok) ok = builder->finish();
    if (!ok) {
        if (error != nullptr) *error = builder->take_error();
        return std::nullopt;
    }
    return builder->take_root();
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

}  // namespace memscope

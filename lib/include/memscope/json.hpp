// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// JSON in and out: the one reader of every JSON memscope reads (the configuration file,
/// the dashboard's request bodies) and the one writer of every JSON it writes (the API's
/// documents, the budget verdict).
///
/// The reader builds a DOM that remembers where each value starts, so that a caller can
/// say `memscope.json:4:17: budgets.Chunks: ...` about any value, not only about syntax:
///
///     memscope::JsonError error;
///     const auto root = memscope::read_json(text, &error, {.allow_comments = true});
///     if (!root) std::printf("%zu:%zu: %s\n", error.position.line,
///                            error.position.column, error.message.c_str());
///
/// The writer appends straight into a string, with no DOM in between:
///
///     std::string out;
///     memscope::JsonWriter w(out);
///     w.begin_object().key("current_bytes").value(std::size_t{1024}).end_object();
///     // out == R"({"current_bytes":1024})"

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace memscope {

// ---------------------------------------------------------------------------------------
// Reading

/// Where a value or an error is in the source: 1-based line and column. Columns count
/// Unicode code points (what an editor shows), a tab counting as one.
struct JsonPosition {
    std::size_t line = 1;    ///< 1 for the first line; '\n' starts a new line
    std::size_t column = 1;  ///< 1 for the first character of the line
};

/// The six JSON types, in the order of JsonValue's variant.
enum class JsonType : std::uint8_t { null, boolean, number, string, array, object };

/// "null", "a boolean", "a number", "a string", "an array", "an object": for messages such
/// as "expected an object, got an array".
[[nodiscard]] std::string_view json_type_name(JsonType type) noexcept;

/// A number as written, with its exact integer value when it has one. A double alone
/// would round 18446744073709551615 and could not tell 1.5 from 1.5000000000000001.
struct JsonNumber {
    std::string text;       ///< the source text, e.g. "1.5e3"
    double value = 0.0;     ///< nearest double; +-inf beyond the range of double
    bool negative = false;  ///< written with a leading '-' (so "-0" is negative and zero)
    bool integral = false;  ///< an integer in value: "1e3" and "2.0" are, "2.5" is not
    /// |value| exactly, when integral and at most UINT64_MAX.
    std::optional<std::uint64_t> magnitude;

    /// The exact value as an unsigned integer: nullopt unless integral, not below zero
    /// ("-0" is 0) and at most UINT64_MAX.
    [[nodiscard]] std::optional<std::uint64_t> as_uint64() const noexcept {
        if (negative && magnitude != std::uint64_t{0}) return std::nullopt;
        return magnitude;
    }
};

struct JsonMember;

/// One JSON value and where it starts in the source.
struct JsonValue {
    using Array = std::vector<JsonValue>;
    /// Members in source order (duplicate keys are refused by read_json()).
    using Object = std::vector<JsonMember>;

    /// Alternatives in JsonType order.
    std::variant<std::nullptr_t, bool, JsonNumber, std::string, Array, Object> data;
    JsonPosition position;  ///< of the value's first character

    /// The value's type.
    [[nodiscard]] JsonType type() const noexcept { return static_cast<JsonType>(data.index()); }
    /// The boolean, or null when the value is not one.
    [[nodiscard]] const bool* boolean() const noexcept { return std::get_if<bool>(&data); }
    /// The number, or null when the value is not one.
    [[nodiscard]] const JsonNumber* number() const noexcept {
        return std::get_if<JsonNumber>(&data);
    }
    /// The string (valid UTF-8), or null when the value is not one.
    [[nodiscard]] const std::string* string() const noexcept {
        return std::get_if<std::string>(&data);
    }
    /// The elements, or null when the value is not an array.
    [[nodiscard]] const Array* array() const noexcept { return std::get_if<Array>(&data); }
    /// The members, or null when the value is not an object.
    [[nodiscard]] const Object* object() const noexcept { return std::get_if<Object>(&data); }
    /// The value of member `key`, or null (also when this is not an object).
    [[nodiscard]] const JsonValue* find(std::string_view key) const noexcept;
};

/// One member of an object.
struct JsonMember {
    std::string key;            ///< decoded, valid UTF-8
    JsonPosition key_position;  ///< of the key's opening quote
    JsonValue value;            ///< the member's value
};

/// What kind of problem stopped read_json().
enum class JsonErrorKind : std::uint8_t {
    syntax,         ///< not JSON: a missing ',', a bad escape, trailing text, ...
    duplicate_key,  ///< an object names the same key twice
    too_deep,       ///< nesting beyond JsonReadOptions::max_depth
    too_large,      ///< input beyond JsonReadOptions::max_size_bytes
};

/// Why read_json() failed, and where.
struct JsonError {
    JsonErrorKind kind = JsonErrorKind::syntax;  ///< what went wrong
    JsonPosition position;  ///< where the problem is (an unterminated string: its quote)
    /// Keys and indices leading to the value being read, e.g. `budgets.Chunks` or
    /// `list[3]`; empty at the top level. Written with json_path_key()'s rules.
    std::string path;
    /// One line of UTF-8, e.g. "expected ',' or '}' after object member, got 'x'".
    std::string message;
};

/// Hard cap on JsonReadOptions::max_depth: destroying a JsonValue recurses once per level,
/// which must stay far from the bottom of even a small thread stack.
inline constexpr std::size_t kMaxJsonDepth = 512;

/// What read_json() accepts beyond strict JSON, and its limits. The limits protect the
/// game from a hostile or broken input.
struct JsonReadOptions {
    /// Deepest nesting of arrays and objects accepted (the top-level container is 1);
    /// capped at kMaxJsonDepth.
    std::size_t max_depth = 64;
    /// Longest input accepted, in bytes.
    std::size_t max_size_bytes = std::size_t{1} << 20;
    /// Accept `// to the end of the line` and `/* ... */` comments wherever whitespace may
    /// be: on for files people edit, off for what programs send.
    bool allow_comments = false;
};

/// Parses `text` as one JSON value (an optional UTF-8 byte order mark is skipped; nothing
/// but whitespace, and comments if allowed, may follow the value). Returns nullopt, and
/// the reason in `*error` if given, for anything that is not RFC 8259 JSON in valid UTF-8,
/// for duplicate keys and beyond the limits. A number beyond the range of a double is
/// accepted, as infinity. Never throws except std::bad_alloc.
[[nodiscard]] std::optional<JsonValue> read_json(std::string_view text, JsonError* error = nullptr,
                                                 const JsonReadOptions& options = {});

/// Appends `key` to a path the way messages show it: `budgets` + `Chunks` gives
/// `budgets.Chunks`; a key that is empty, long, or holds anything but letters, digits,
/// '_' and '-' is quoted: `budgets["Level 1.5"]`.
[[nodiscard]] std::string json_path_key(std::string_view path, std::string_view key);

/// Appends an array index: `list` + 3 gives `list[3]`.
[[nodiscard]] std::string json_path_index(std::string_view path, std::size_t index);

// ---------------------------------------------------------------------------------------
// Writing

/// A JSON key known at compile time: a string literal (the field names of the X-macro
/// lists are stringised identifiers). The constructor runs at compile time and refuses a
/// literal that would need escaping, so the writer can copy it as is.
class JsonKey {
  public:
    /// From a string literal only; refuses, at compile time, one that needs escaping.
    template <std::size_t N>
    consteval JsonKey(const char (&text)[N]) : text_(text, N - 1) {  // NOLINT: implicit by design
        for (char c : text_)
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
                static_cast<unsigned char>(c) >= 0x7F)
                throw "a JSON key literal must be printable ASCII needing no escape";
    }
    /// The key, without quotes.
    [[nodiscard]] constexpr std::string_view text() const { return text_; }

  private:
    std::string_view text_;
};

/// Writes one JSON document into a string, commas included; nesting is the caller's to
/// balance (see the example atop this header). Whatever the strings hold, the output is
/// valid JSON in valid UTF-8.
class JsonWriter {
  public:
    /// Appends to `out` (which is not cleared). With `indent_spaces` > 0, every member and
    /// element starts a line indented by that many spaces per level (for files people
    /// read); 0 writes one line (for responses).
    explicit JsonWriter(std::string& out, int indent_spaces = 0)
        : out_(out), indent_spaces_(indent_spaces > 0 ? indent_spaces : 0) {}

    /// `{`: members follow as key() then a value.
    JsonWriter& begin_object();
    /// `}`
    JsonWriter& end_object();
    /// `[`: values follow.
    JsonWriter& begin_array();
    /// `]`
    JsonWriter& end_array();

    /// The key of the next member of the enclosing object: a literal, checked at compile
    /// time and written as is (a snapshot has thousands of keys; escaping each would cost).
    JsonWriter& key(JsonKey name);
    /// A key computed at run time, escaped like a string value.
    JsonWriter& dynamic_key(std::string_view name);

    /// A string, escaped; invalid UTF-8 is replaced by U+FFFD so the output stays valid.
    JsonWriter& value(std::string_view text);
    /// A C string, escaped.
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    /// A std::string, escaped.
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    /// `true` or `false`.
    JsonWriter& value(bool flag);
    /// `null`
    JsonWriter& null();
    /// A finite double in its shortest round-trip form; NaN and infinities become null.
    JsonWriter& value(double number);
    /// A float in its shortest form as a float (0.85f is 0.85, not 0.8500000238418579).
    JsonWriter& value(float number);

    /// Any integer, written exactly (bytes are integers in every response).
    template <std::integral T>
    requires(!std::same_as<T, bool>) JsonWriter& value(T number) {
        separate();
        char buf[24];
        const auto end = std::to_chars(buf, buf + sizeof buf, number).ptr;
        out_.append(buf, end);
        return *this;
    }

    /// A value that is already JSON (e.g. what a VerdictProvider returned), inserted as is.
    JsonWriter& raw(std::string_view json);

  private:
    template <class Float>
    JsonWriter& floating(Float number);  // double or float, shortest form; non-finite: null
    JsonWriter& open(char bracket);      // `{` or `[`
    JsonWriter& close(char bracket);     // `}` or `]`
    void separate();    // the comma before a value or key when one is due, and the line break
    void break_line();  // before a member or element: a new line, unless after its key
    void new_line();    // '\n' and the indentation of depth_ (indenting writers only)

    std::string& out_;
    const int indent_spaces_;
    int depth_ = 0;            // open objects and arrays
    bool need_comma_ = false;  // a value was written at this level since its '{' or '['
    bool after_key_ = false;   // the next value follows its key on the same line
};

/// What append_json_escaped() writes for bytes that are not UTF-8.
enum class InvalidUtf8 : std::uint8_t {
    replace,    ///< U+FFFD, so the output is valid JSON (what JsonWriter does)
    show_byte,  ///< `\xFF`: not JSON, but shows a person which byte it was (messages)
};

/// `text` in double quotes with JSON escapes, for messages: control characters and
/// quotes cannot break the one-line message, and a byte that is not UTF-8 shows as `\xFF`.
/// Longer than `max_bytes`, it is cut (on a character boundary) and ends with "...".
[[nodiscard]] std::string json_quote(std::string_view text, std::size_t max_bytes = 64);

/// Appends `text` to `out` as the inside of a JSON string (no quotes): escapes quotes,
/// backslashes, control characters and DEL, and writes bytes that are not UTF-8 as
/// `invalid` says. The one string escaper of memscope.
void append_json_escaped(std::string& out, std::string_view text,
                         InvalidUtf8 invalid = InvalidUtf8::replace);

}  // namespace memscope

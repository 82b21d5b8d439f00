#pragma once
// A small, strict JSON reader (RFC 8259) for the configuration file, so that the core
// library needs no JSON dependency (nlohmann/json belongs to the optional server).
//
// It builds a DOM that remembers where every value came from, so that the config code can
// say "memscope.json:4:17: budgets.Chunks: ..." about any value, not only about syntax.
// Built to be fuzzed: input size and nesting depth are bounded, recursion is bounded by
// the depth limit, and numbers of any length are handled without overflow.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace memscope::detail {

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
    /// The string (UTF-8), or null when the value is not one.
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
    std::string key;            ///< decoded, UTF-8
    JsonPosition key_position;  ///< of the key's opening quote
    JsonValue value;
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
    JsonErrorKind kind = JsonErrorKind::syntax;
    JsonPosition position;  ///< where the problem is (an unterminated string: its quote)
    /// Keys and indices leading to the value being read, e.g. `budgets.Chunks` or
    /// `list[3]`; empty at the top level. Written with json_path_key()'s rules.
    std::string path;
    /// One line, e.g. "expected ',' or '}' after object member, got 'x'".
    std::string message;
};

/// Limits of read_json(). Both protect the game from a hostile or broken file.
struct JsonReadOptions {
    /// Deepest nesting of arrays and objects accepted (the top-level container is 1).
    /// Capped at kMaxJsonDepth because the reader recurses once per level.
    std::size_t max_depth = 64;
    /// Longest input accepted, in bytes.
    std::size_t max_size_bytes = std::size_t{1} << 20;
};

/// Hard cap on JsonReadOptions::max_depth: keeps the reader's recursion far from the
/// bottom of even a small thread stack.
inline constexpr std::size_t kMaxJsonDepth = 512;

/// Parses `text` as one JSON value (an optional UTF-8 byte order mark is skipped; nothing
/// but whitespace may follow the value). Returns nullopt, and the reason in `*error` if
/// given, for anything that is not strict RFC 8259 JSON in valid UTF-8 and for duplicate
/// keys. Never throws except std::bad_alloc.
[[nodiscard]] std::optional<JsonValue> read_json(std::string_view text, JsonError* error = nullptr,
                                                 const JsonReadOptions& options = {});

/// Appends `key` to a path the way messages show it: `budgets` + `Chunks` gives
/// `budgets.Chunks`; a key that is empty, long, or holds anything but letters, digits,
/// '_' and '-' is quoted: `budgets["Level 1.5"]`.
[[nodiscard]] std::string json_path_key(std::string_view path, std::string_view key);

/// Appends an array index: `list` + 3 gives `list[3]`.
[[nodiscard]] std::string json_path_index(std::string_view path, std::size_t index);

/// `text` in double quotes with JSON escapes, for messages: control characters and
/// quotes cannot break the one-line message. Longer than `max_bytes`, it is cut (on a
/// character boundary) and ends with "...".
[[nodiscard]] std::string json_quote(std::string_view text, std::size_t max_bytes = 64);

}  // namespace memscope::detail

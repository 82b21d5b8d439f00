#pragma once
// A small streaming JSON writer for the API responses.
//
// Why not nlohmann::json here: building its DOM for a 500-subsystem snapshot allocates a
// map node per key and costs more than the whole 1 ms budget of a scrape. This writer
// appends straight into one std::string. nlohmann/json still parses request bodies.
//
//     std::string out;
//     JsonWriter w(out);
//     w.begin_object().key("current_bytes").value(std::size_t{1024}).end_object();
//     // out == R"({"current_bytes":1024})"

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memscope::web {

/// A JSON key known at compile time: a string literal (the field names of the X-macro
/// lists are stringised identifiers). The constructor runs at compile time and refuses a
/// literal that would need escaping, so the writer can copy it as is.
class JsonKey {
  public:
    /// From a string literal only; refuses, at compile time, one that needs escaping.
    template <std::size_t N>
    consteval JsonKey(const char (&text)[N]) : text_(text, N - 1) {  // NOLINT: implicit by design
        for (char c : text_)
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
                throw "a JSON key literal must not need escaping";  // a compile error
    }
    [[nodiscard]] constexpr std::string_view text() const { return text_; }

  private:
    std::string_view text_;
};

/// Writes one JSON document into a string, commas included; nesting is the caller's to
/// balance (see the example above).
class JsonWriter {
  public:
    /// Appends to `out` (which is not cleared).
    explicit JsonWriter(std::string& out) : out_(out) {}

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
    /// A key computed at run time, escaped.
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
    void separate();  // the comma before a value or key, when one is due

    std::string& out_;
    bool need_comma_ = false;
};

/// Appends `text` to `out` as the inside of a JSON string (no quotes): escapes quotes,
/// backslashes and control characters, and replaces invalid UTF-8 with U+FFFD.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace memscope::web

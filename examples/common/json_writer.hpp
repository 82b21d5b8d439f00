#pragma once
/// \file
/// A small JSON text writer for the examples. The core library has no JSON writer (the
/// dashboard server uses nlohmann/json, which a headless build does not have), and the
/// verdict must be written by a headless build too.
///
///     JsonWriter w;
///     w.begin_object().key("pass").boolean(true).key("name").string("Chunks").end_object();
///     std::string text = w.take();   // {"pass": true, "name": "Chunks"}

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memscope_examples {

/// Appends JSON values to a string, with separators and indentation handled for the
/// caller. Strings are escaped as RFC 8259 requires; doubles that are not finite are
/// written as null (JSON has no NaN or infinity).
class JsonWriter {
  public:
    /// `indent` spaces per level; 0 writes everything on one line.
    explicit JsonWriter(int indent = 2);

    /// Opens an object or an array as the next value.
    JsonWriter& begin_object();
    JsonWriter& begin_array();
    /// Closes the innermost object or array.
    JsonWriter& end_object();
    JsonWriter& end_array();

    /// The key of the next member of the current object.
    JsonWriter& key(std::string_view name);

    /// Values.
    JsonWriter& string(std::string_view text);
    JsonWriter& integer(std::int64_t number);
    JsonWriter& unsigned_integer(std::uint64_t number);
    JsonWriter& number(double number);
    JsonWriter& boolean(bool flag);
    JsonWriter& null();

    /// The text written so far.
    [[nodiscard]] const std::string& text() const { return out_; }
    /// Moves the text out; the writer is empty afterwards.
    [[nodiscard]] std::string take();

  private:
    void before_value();
    void newline();

    std::string out_;
    int indent_;
    std::vector<bool> has_members_;  // one per open container
    bool after_key_ = false;
};

/// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_quote(std::string_view text);

}  // namespace memscope_examples

// SPDX-License-Identifier: MIT
// JsonWriter: commas, line breaks, numbers; and the one JSON string escaper.

#include "json_reader.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace memscope {
namespace {

// Printable ASCII other than '"', '\\' and DEL: copied as is.
constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (int c = 0x20; c < 0x7F; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return plain;
}();

}  // namespace

void append_json_escaped(std::string& out, std::string_view text, InvalidUtf8 invalid) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (kPlain[c]) {
            // Copy the whole run of plain ASCII at once: the common case.
            std::size_t j = i + 1;
            while (j < text.size() && kPlain[static_cast<unsigned char>(text[j])]) ++j;
            out.append(text.data() + i, j - i);
            i = j;
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x80) {  // the other control characters, and DEL
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xf];
                } else if (const std::size_t n = detail::utf8_sequence_length(text, i); n > 0) {
                    out.append(text.data() + i, n);
                    i += n;
                    continue;
                } else if (invalid == InvalidUtf8::replace) {
                    out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
                } else {
                    static constexpr char kUpperHex[] = "0123456789ABCDEF";
                    out += "\\x";
                    out += kUpperHex[c >> 4];
                    out += kUpperHex[c & 0xf];
                }
        }
        ++i;
    }
}

std::string json_quote(std::string_view text, std::size_t max_bytes) {
    // Cut at the first character boundary at or after max_bytes, never inside a character.
    std::size_t cut = 0;
    while (cut < text.size() && cut < max_bytes)
        cut += std::max<std::size_t>(detail::utf8_sequence_length(text, cut), 1);
    std::string out = "\"";
    append_json_escaped(out, text.substr(0, cut), InvalidUtf8::show_byte);
    if (cut < text.size()) out += "...";
    out += '"';
    return out;
}

void JsonWriter::new_line() {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(depth_) * static_cast<std::size_t>(indent_spaces_), ' ');
}

void JsonWriter::break_line() {
    if (after_key_) {
        after_key_ = false;  // the value goes on its key's line
        return;
    }
    if (depth_ > 0) new_line();  // a top-level value starts where the caller is
}

void JsonWriter::separate() {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
    if (indent_spaces_ != 0) break_line();
}

JsonWriter& JsonWriter::open(char bracket) {
    separate();
    out_ += bracket;
    ++depth_;
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
    --depth_;
    // need_comma_ is set exactly when the container got an element: an empty one stays "{}".
    if (indent_spaces_ != 0 && need_comma_) new_line();
    out_ += bracket;
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::begin_object() {
    return open('{');
}

JsonWriter& JsonWriter::end_object() {
    return close('}');
}

JsonWriter& JsonWriter::begin_array() {
    return open('[');
}

JsonWriter& JsonWriter::end_array() {
    return close(']');
}

JsonWriter& JsonWriter::key(JsonKey name) {
    separate();
    out_ += '"';
    out_ += name.text();
    out_ += "\":";
    if (indent_spaces_ != 0) {
        out_ += ' ';
        after_key_ = true;
    }
    need_comma_ = false;  // the value follows the colon directly
    return *this;
}

JsonWriter& JsonWriter::dynamic_key(std::string_view name) {
    separate();
    out_ += '"';
    append_json_escaped(out_, name);
    out_ += "\":";
    if (indent_spaces_ != 0) {
        out_ += ' ';
        after_key_ = true;
    }
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
    separate();
    out_ += '"';
    append_json_escaped(out_, text);
    out_ += '"';
    return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::null() {
    separate();
    out_ += "null";
    return *this;
}

JsonWriter& JsonWriter::value(double number) {
    return floating(number);
}

JsonWriter& JsonWriter::value(float number) {
    return floating(number);
}

template <class Float>
JsonWriter& JsonWriter::floating(Float number) {
    if (!std::isfinite(number)) return null();
    separate();
    char buf[32];  // the shortest form that reads back as the same Float
    const auto end = std::to_chars(buf, buf + sizeof buf, number).ptr;
    out_.append(buf, end);
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    separate();
    out_.append(json);
    return *this;
}

}  // namespace memscope

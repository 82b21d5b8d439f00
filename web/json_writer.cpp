// JsonWriter: commas, escaping, numbers.

#include "json_writer.hpp"

#include <array>
#include <cmath>

namespace memscope::web {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s) {
    const auto b0 = static_cast<unsigned char>(s[0]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b0 >= 0xc2 && b0 <= 0xdf)
        n = 2, cp = b0 & 0x1fu;
    else if (b0 >= 0xe0 && b0 <= 0xef)
        n = 3, cp = b0 & 0x0fu;
    else if (b0 >= 0xf0 && b0 <= 0xf4)
        n = 4, cp = b0 & 0x07u;
    else
        return 0;
    if (s.size() < n) return 0;
    for (std::size_t i = 1; i < n; ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if ((b & 0xc0u) != 0x80u) return 0;
        cp = (cp << 6) | (b & 0x3fu);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
    if (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
    return n;
}

}  // namespace

// Printable ASCII other than '"' and '\\': copied as is.
constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (int c = 0x20; c < 0x80; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return plain;
}();

void append_json_escaped(std::string& out, std::string_view text) {
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
                if (c < 0x20) {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xf];
                } else if (const std::size_t n = utf8_sequence_length(text.substr(i)); n > 0) {
                    out.append(text.data() + i, n);
                    i += n;
                    continue;
                } else {
                    out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
                }
        }
        ++i;
    }
}

void JsonWriter::separate() {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
    separate();
    out_ += '{';
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_ += '}';
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    separate();
    out_ += '[';
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_ += ']';
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::key(JsonKey name) {
    separate();
    out_ += '"';
    out_ += name.text();
    out_ += "\":";
    need_comma_ = false;  // the value follows the colon directly
    return *this;
}

JsonWriter& JsonWriter::dynamic_key(std::string_view name) {
    separate();
    out_ += '"';
    append_json_escaped(out_, name);
    out_ += "\":";
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
    if (!std::isfinite(number)) return null();
    separate();
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof buf, number).ptr;
    out_.append(buf, end);
    return *this;
}

JsonWriter& JsonWriter::value(float number) {
    if (!std::isfinite(number)) return null();
    separate();
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof buf, number).ptr;
    out_.append(buf, end);
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    separate();
    out_.append(json);
    return *this;
}

}  // namespace memscope::web

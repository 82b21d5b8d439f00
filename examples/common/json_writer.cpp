// JsonWriter: the examples' JSON output.

#include "json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace memscope_examples {

std::string json_quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (const char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
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
                // Other control characters have no short form. Bytes >= 0x80 pass through:
                // the messages are UTF-8 already, and JSON text is UTF-8.
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

JsonWriter::JsonWriter(int indent) : indent_(indent) {}

void JsonWriter::newline() {
    if (indent_ <= 0) return;
    out_ += '\n';
    out_.append(has_members_.size() * static_cast<std::size_t>(indent_), ' ');
}

void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (has_members_.empty()) return;  // the top-level value
    if (has_members_.back()) out_ += ',';
    has_members_.back() = true;
    newline();
}

JsonWriter& JsonWriter::begin_object() {
    before_value();
    out_ += '{';
    has_members_.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    before_value();
    out_ += '[';
    has_members_.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    const bool had = has_members_.back();
    has_members_.pop_back();
    if (had) newline();
    out_ += '}';
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    const bool had = has_members_.back();
    has_members_.pop_back();
    if (had) newline();
    out_ += ']';
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    before_value();
    out_ += json_quote(name);
    out_ += indent_ > 0 ? ": " : ":";
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
    before_value();
    out_ += json_quote(text);
    return *this;
}

JsonWriter& JsonWriter::integer(std::int64_t number) {
    before_value();
    out_ += std::to_string(number);
    return *this;
}

JsonWriter& JsonWriter::unsigned_integer(std::uint64_t number) {
    before_value();
    out_ += std::to_string(number);
    return *this;
}

JsonWriter& JsonWriter::number(double number) {
    before_value();
    if (!std::isfinite(number)) {
        out_ += "null";
        return *this;
    }
    // Shortest text that reads back as the same double is not needed here: seconds and
    // ratios to the microsecond are plenty, and %.6g would switch to exponents.
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", number);
    std::string text = buf;
    // Drop trailing zeros ("12.500000" -> "12.5"), keeping one digit after the point.
    const auto dot = text.find('.');
    if (dot != std::string::npos) {
        std::size_t end = text.size();
        while (end > dot + 2 && text[end - 1] == '0') --end;
        text.resize(end);
    }
    out_ += text;
    return *this;
}

JsonWriter& JsonWriter::boolean(bool flag) {
    before_value();
    out_ += flag ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::null() {
    before_value();
    out_ += "null";
    return *this;
}

std::string JsonWriter::take() {
    std::string out = std::move(out_);
    out_.clear();
    has_members_.clear();
    after_key_ = false;
    return out;
}

}  // namespace memscope_examples

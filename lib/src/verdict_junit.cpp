// SPDX-License-Identifier: MIT
// The verdict as a JUnit XML report: the subset of the format that Jenkins and GitLab read
// (tests/junit.xsd), in XML 1.0 whatever bytes the names hold.

#include <cstdio>
#include <string>
#include <string_view>

#include "memscope/verdict.hpp"

namespace memscope {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// XML 1.0's Char production: what a document may hold at all, even escaped.
bool is_xml_char(char32_t c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

// The length of the UTF-8 character at text[i] and its code point in `c`; 0 when the bytes
// there are not UTF-8 (a stray or cut continuation, an overlong form, a surrogate).
std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& c) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t least = 0;
    if (lead < 0x80) {
        c = lead;
        return 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, c = lead & 0x1Fu, least = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, c = lead & 0x0Fu, least = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, c = lead & 0x07u, least = 0x10000;
    } else {
        return 0;
    }
    for (std::size_t k = 1; k < length; ++k) {
        if (i + k >= text.size()) return 0;
        const auto byte = static_cast<unsigned char>(text[i + k]);
        if ((byte & 0xC0u) != 0x80u) return 0;
        c = (c << 6) | (byte & 0x3Fu);
    }
    if (c < least || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return length;
}

// Appends `text` escaped for XML content or, with `attribute`, for a quoted attribute value
// (where tabs and line breaks are escaped too, or a parser would normalise them to spaces).
// Each byte that is not UTF-8, and each character XML 1.0 forbids, becomes U+FFFD.
void append_xml(std::string& out, std::string_view text, bool attribute) {
    for (std::size_t i = 0; i < text.size();) {
        char32_t c = 0;
        const std::size_t n = decode_utf8(text, i, c);
        if (n == 0 || !is_xml_char(c)) {
            out += kReplacement;
            i += n == 0 ? 1 : n;
            continue;
        }
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            case '\r':
                out += "&#13;";
                break;
            case '\t':
                out += attribute ? "&#9;" : "\t";
                break;
            case '\n':
                out += attribute ? "&#10;" : "\n";
                break;
            default:
                out.append(text.substr(i, n));
        }
        i += n;
    }
}

std::string attr(std::string_view name, std::string_view value) {
    std::string s = " ";
    s += name;
    s += "=\"";
    append_xml(s, value, true);
    s += '"';
    return s;
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s > 0.0 ? s : 0.0);
    return buf;
}

// One <testcase>; `failure` empty: it passed. `error`: it could not be checked.
void append_case(std::string& out, std::string_view classname, std::string_view name,
                 std::string_view failure, bool error) {
    out += "    <testcase" + attr("name", name) + attr("classname", classname) + " time=\"0\"";
    if (failure.empty()) {
        out += "/>\n";
        return;
    }
    const char* tag = error ? "error" : "failure";
    out += ">\n      <";
    out += tag;
    out += attr("message", failure) + attr("type", error ? "baseline" : "memscope") + ">";
    append_xml(out, failure, false);
    out += "</";
    out += tag;
    out += ">\n    </testcase>\n";
}

}  // namespace

std::string Verdict::junit_xml() const {
    std::size_t tests = subsystems.size() + 1 + rules.size(), failed = 0, errors = 0;
    for (const VerdictLine& line : subsystems) failed += line.failure.empty() ? 0 : 1;
    failed += total.failure.empty() ? 0 : 1;
    for (const VerdictRule& rule : rules)
        (rule.error ? errors : failed) += rule.failure.empty() ? 0 : 1;

    const std::string counts = attr("tests", std::to_string(tests)) +
                               attr("failures", std::to_string(failed)) +
                               attr("errors", std::to_string(errors));
    const std::string time = attr("time", seconds(elapsed_seconds));
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<testsuites" + attr("name", "memscope") + counts + time + ">\n";
    out += "  <testsuite" + attr("name", "memscope") + counts + " skipped=\"0\"" + time + ">\n";
    out += "    <properties>\n      <property" + attr("name", "program") + attr("value", program) +
           "/>\n    </properties>\n";
    for (const VerdictLine& line : subsystems)
        append_case(out, "memscope.budget", line.name, line.failure, false);
    append_case(out, "memscope.budget", total.name, total.failure, false);
    for (const VerdictRule& rule : rules)
        append_case(out, "memscope.rule", rule.name, rule.failure, rule.error);
    if (!notes.empty()) {
        out += "    <system-out>";
        for (const std::string& note : notes) {
            append_xml(out, note, false);
            out += '\n';
        }
        out += "</system-out>\n";
    }
    out += "  </testsuite>\n</testsuites>\n";
    return out;
}

}  // namespace memscope

// SPDX-License-Identifier: MIT
// The JSON writer (memscope/json.hpp) and the one string escaper: whatever the names and
// strings hold, the output is valid JSON in valid UTF-8, read back by read_json().

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <memscope/json.hpp>

#include "json_reader.hpp"

namespace {

using memscope::JsonValue;
using memscope::JsonWriter;

// `text` read back strictly: it must be JSON.
JsonValue read_back(const std::string& text) {
    CAPTURE(text);
    memscope::JsonError e;
    auto v = memscope::read_json(text, &e);
    REQUIRE_MESSAGE(v.has_value(), e.message);
    return std::move(*v);
}

std::string escaped(std::string_view text,
                    memscope::InvalidUtf8 invalid = memscope::InvalidUtf8::replace) {
    std::string out;
    memscope::append_json_escaped(out, text, invalid);
    return out;
}

}  // namespace

TEST_CASE("the writer escapes everything into valid JSON") {
    std::string out;
    JsonWriter w(out);
    const std::string nasty = "q\"b\\n\nt\tc\x01 \x7f ok \xc3\xa9 bad \xff\xfe \xed\xa0\x80 end";
    w.begin_object();
    w.key("s").value(nasty);
    w.dynamic_key("k\"ey").value(std::int64_t{-5});
    w.key("u").value(std::numeric_limits<std::uint64_t>::max());
    w.key("d").value(0.1);
    w.key("f").value(0.85f);
    w.key("nan").value(std::nan(""));
    w.key("inf").value(std::numeric_limits<double>::infinity());
    w.key("b").value(true);
    w.key("a")
        .begin_array()
        .value(1)
        .begin_object()
        .end_object()
        .begin_array()
        .end_array()
        .end_array();
    w.end_object();
    const JsonValue j = read_back(out);
    const std::string& s = *j.find("s")->string();
    CHECK(s.find("q\"b\\n\nt\tc\x01") == 0);
    CHECK(s.find("\xc3\xa9") != std::string::npos);
    CHECK(s.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
    CHECK(j.find("k\"ey")->number()->text == "-5");
    CHECK(j.find("u")->number()->as_uint64() == std::numeric_limits<std::uint64_t>::max());
    CHECK(j.find("d")->number()->value == 0.1);
    CHECK(out.find("\"f\":0.85,") != std::string::npos);
    CHECK(j.find("nan")->type() == memscope::JsonType::null);
    CHECK(j.find("inf")->type() == memscope::JsonType::null);
    CHECK(out.find("\"a\":[1,{},[]]") != std::string::npos);
}

TEST_CASE("names with invalid UTF-8 become valid JSON, with U+FFFD in place of each bad byte") {
    for (const std::string name : {"\xff", "Chunks\xc3", "\xed\xa0\x80 surrogate",
                                   "\xf4\x90\x80\x80 beyond", "\xc0\xaf overlong", "ok \xe2\x82"}) {
        CAPTURE(name);
        std::string out;
        JsonWriter w(out);
        w.begin_object().dynamic_key(name).value(name).end_object();
        const JsonValue j = read_back(out);
        const auto& member = (*j.object())[0];
        CHECK(member.key == *member.value.string());
        CHECK(member.key.find("\xef\xbf\xbd") != std::string::npos);
    }
    CHECK(escaped("a\xff"
                  "b") ==
          "a\xef\xbf\xbd"
          "b");
    CHECK(escaped("\xe2\x82\xac \xf0\x9f\x98\x80") == "\xe2\x82\xac \xf0\x9f\x98\x80");  // kept
}

TEST_CASE("the escaper: short forms, \\u00XX for other controls and DEL") {
    CHECK(escaped("\"\\/") == "\\\"\\\\/");
    CHECK(escaped("\n\r\t") == "\\n\\r\\t");
    CHECK(escaped(std::string("\0\x01\x1f\x7f", 4)) == "\\u0000\\u0001\\u001f\\u007f");
    CHECK(escaped("\b\f") == "\\u0008\\u000c");
    CHECK(escaped("plain ascii, kept") == "plain ascii, kept");
    CHECK(escaped("\xff\xc3", memscope::InvalidUtf8::show_byte) == "\\xFF\\xC3");
}

TEST_CASE("messages quote bounded, escaped excerpts") {
    using memscope::json_quote;
    CHECK(json_quote("a\"b\n\x01") == "\"a\\\"b\\n\\u0001\"");
    CHECK(json_quote(std::string(100, 'x'), 8) == "\"xxxxxxxx...\"");
    CHECK(json_quote("ééééé", 3) == "\"éé...\"");  // never cuts a character in half
    CHECK(json_quote("\xFF") == "\"\\xFF\"");
    CHECK(json_quote("") == "\"\"");
}

TEST_CASE("an indenting writer puts each member on its own line") {
    std::string out;
    JsonWriter w(out, 2);
    w.begin_object();
    w.key("version").value(1);
    w.key("empty").begin_array().end_array();
    w.key("none").begin_object().end_object();
    w.key("list").begin_array().value("a").begin_object().key("k").value(false).end_object();
    w.end_array();
    w.end_object();
    CHECK(out ==
          "{\n"
          "  \"version\": 1,\n"
          "  \"empty\": [],\n"
          "  \"none\": {},\n"
          "  \"list\": [\n"
          "    \"a\",\n"
          "    {\n"
          "      \"k\": false\n"
          "    }\n"
          "  ]\n"
          "}");
    static_cast<void>(read_back(out));
}

TEST_CASE("raw JSON and top-level scalars") {
    std::string out;
    JsonWriter(out).value("top");
    CHECK(out == "\"top\"");
    out.clear();
    JsonWriter w(out);
    w.begin_array().raw(R"({"pass":true})").value(std::uint8_t{7}).value(-0.5f).end_array();
    CHECK(out == R"([{"pass":true},7,-0.5])");
}

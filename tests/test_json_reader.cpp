// SPDX-License-Identifier: MIT
// The JSON reader (memscope/json.hpp): every value with its position, strict JSON and
// optional comments, duplicate keys, limits, and an exact, positioned sentence for every
// kind of bad input.

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include <memscope/json.hpp>

namespace {

using memscope::JsonError;
using memscope::JsonErrorKind;
using memscope::JsonReadOptions;
using memscope::JsonType;
using memscope::JsonValue;
using memscope::read_json;

constexpr JsonReadOptions kComments{.allow_comments = true};

JsonValue parse_ok(std::string_view text, const JsonReadOptions& o = {}) {
    CAPTURE(text);
    JsonError e;
    auto v = read_json(text, &e, o);
    REQUIRE_MESSAGE(v.has_value(), e.message);
    return std::move(*v);
}

JsonError parse_error(std::string_view text, const JsonReadOptions& o = {}) {
    CAPTURE(text);
    JsonError e;
    CHECK_FALSE(read_json(text, &e, o).has_value());
    return e;
}

std::string parse_string(std::string_view json) {
    return *parse_ok(json).string();
}

// "line:column path: message", the whole of an error in one comparable string.
std::string where_what(std::string_view text, const JsonReadOptions& o = {}) {
    const JsonError e = parse_error(text, o);
    return std::to_string(e.position.line) + ":" + std::to_string(e.position.column) + " " +
           (e.path.empty() ? "" : e.path + ": ") + e.message;
}

}  // namespace

TEST_CASE("every type, positions, key order") {
    const JsonValue v = parse_ok("{\n  \"b\": [null, true, false, -1.5, \"s\"],\n  \"a\": {}\n}");
    REQUIRE(v.type() == JsonType::object);
    const auto& members = *v.object();
    REQUIRE(members.size() == 2);
    CHECK(members[0].key == "b");  // source order, not sorted
    CHECK(members[1].key == "a");
    CHECK(members[0].key_position.line == 2);
    CHECK(members[0].key_position.column == 3);
    const auto& array = *members[0].value.array();
    REQUIRE(array.size() == 5);
    CHECK(array[0].type() == JsonType::null);
    CHECK(*array[1].boolean() == true);
    CHECK(*array[2].boolean() == false);
    CHECK(array[3].number()->value == -1.5);
    CHECK(array[3].position.line == 2);
    CHECK(array[3].position.column == 28);
    CHECK(*array[4].string() == "s");
    CHECK(v.find("a")->object()->empty());
    CHECK(v.find("c") == nullptr);
    CHECK(parse_ok("[]").array()->empty());
    CHECK(parse_ok(" \t\r\n 7 \r\n").number()->value == 7);
    CHECK(parse_ok("\xEF\xBB\xBF{}").object() != nullptr);  // a UTF-8 byte order mark
}

TEST_CASE("every value knows where it starts") {
    const JsonValue v = parse_ok("\xEF\xBB\xBF[1, \"é\\\"x\", {\"k\": [true]},\n\tnull, 0, -2e3]");
    const auto& a = *v.array();
    const auto at = [&](std::size_t i) {
        return std::to_string(a[i].position.line) + ":" + std::to_string(a[i].position.column);
    };
    CHECK(v.position.column == 1);  // the byte order mark takes no column
    CHECK(at(0) == "1:2");
    CHECK(at(1) == "1:5");
    CHECK(at(2) == "1:13");  // "é" is one column, its escape two
    const auto& k = (*a[2].object())[0];
    CHECK(k.key_position.column == 14);
    CHECK(k.value.position.column == 19);
    CHECK((*k.value.array())[0].position.column == 20);
    CHECK(at(3) == "2:2");  // a tab is one column
    CHECK(at(4) == "2:8");
    CHECK(at(5) == "2:11");
    CHECK(a[5].number()->text == "-2e3");
}

TEST_CASE("escapes and surrogate pairs decode to UTF-8") {
    CHECK(parse_string(R"("a\"b\\c\/d\be\ff\ng\rh\ti")") == "a\"b\\c/d\be\ff\ng\rh\ti");
    CHECK(parse_string(R"("\u0041\u00e9\u20AC")") == "A\xC3\xA9\xE2\x82\xAC");
    CHECK(parse_string(R"("\ud83d\ude00")") == "\xF0\x9F\x98\x80");  // U+1F600
    CHECK(parse_string(R"("\uDBFF\uDFFF")") == "\xF4\x8F\xBF\xBF");  // U+10FFFF
    CHECK(parse_string(R"("\u0000")") == std::string(1, '\0'));
    CHECK(parse_string("\"é😀\"") == "é😀");
    CHECK(parse_error(R"("\ud83d")").message ==
          "unpaired surrogate \\uD83D in string (a high surrogate must be followed by a "
          "\\uDC00-\\uDFFF low surrogate)");
    CHECK(parse_error(R"("\ud83dx")").position.column == 2);
    CHECK(parse_error(R"("\ud83d\u0041")").message.starts_with("unpaired surrogate \\uD83D"));
    CHECK(parse_error(R"("\ude00")").message ==
          "unpaired surrogate \\uDE00 in string (a low surrogate must follow a high one)");
    CHECK(parse_error(R"("\u12G4")").message == "invalid \\u escape: expected 4 hex digits");
    CHECK(parse_error(R"("\u12)").message == "invalid \\u escape: expected 4 hex digits");
    CHECK(parse_error(R"("\x")").message.starts_with("invalid escape '\\x' in string"));
    CHECK(parse_error(R"("\)").message == "unterminated string");
    CHECK(parse_error("\"a\tb\"").message ==
          "control character U+0009 must be escaped in a string");
    CHECK(parse_error("\"a\tb\"").position.column == 3);
    CHECK(read_json("\"\x7F\"").has_value());  // DEL is not a control character in RFC 8259
}

TEST_CASE("invalid UTF-8 is refused in strings and keys, and named outside them") {
    // Stray continuation, overlong, encoded surrogate, beyond U+10FFFF, cut short, 0xFF.
    for (const char* bad : {"\"\x80\"", "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"",
                            "\"\xE2\x82\"", "\"\xFF\""}) {
        CAPTURE(bad);
        CHECK(parse_error(bad).message == "invalid UTF-8 in string");
        CHECK(parse_error(bad).position.column == 2);
    }
    CHECK(where_what("{\"ok\": 1, \"k\xC3(\": 2}") == "1:13 invalid UTF-8 in string");
    CHECK(where_what("[\"é\", \"\xE9\"]") == "1:8 [1]: invalid UTF-8 in string");
    CHECK(where_what("{} \xC3\xA9") == "1:4 unexpected byte 0xC3 after the JSON value");
    CHECK(where_what("[\xFF]") ==
          "1:2 [0]: expected a value (object, array, string, number, true, false or null), got "
          "byte 0xFF");
    // Comments are not strings: what they hold is not read.
    CHECK(parse_ok("// caf\xE9\n[/* \xFF */ 1]", kComments).array()->size() == 1);
}

TEST_CASE("numbers keep their text and their exact integer") {
    const auto n = [](std::string_view text) { return *parse_ok(text).number(); };
    CHECK(n("18446744073709551615").magnitude == std::numeric_limits<std::uint64_t>::max());
    CHECK(n("18446744073709551615").text == "18446744073709551615");
    CHECK_FALSE(n("18446744073709551616").magnitude.has_value());
    CHECK(n("18446744073709551616").integral);
    CHECK(n("9007199254740993").magnitude == 9007199254740993u);  // not representable as double
    CHECK(n("-0").negative);
    CHECK(std::signbit(n("-0").value));
    CHECK(n("-0").as_uint64() == 0u);
    CHECK_FALSE(n("-1").as_uint64().has_value());
    CHECK(n("-1").magnitude == 1u);
    CHECK(n("1e3").magnitude == 1000u);
    CHECK(n("1E+3").magnitude == 1000u);
    CHECK(n("2.50e1").magnitude == 25u);
    CHECK(n("100e-2").magnitude == 1u);
    CHECK(n("0.0").magnitude == 0u);
    CHECK(n("0e999999999999999999999").magnitude == 0u);
    CHECK_FALSE(n("1.5").integral);
    CHECK(n("1.5").value == 1.5);
    CHECK_FALSE(n("1e-1").integral);
    CHECK(n("1e-400").value == 0.0);
    CHECK_FALSE(n("1e-400").integral);
    CHECK(n("0.1").value == 0.1);
    CHECK(n("123456789012345678901234567890").value == 123456789012345678901234567890.0);

    CHECK(parse_error("01").message == "leading zeros are not allowed in JSON numbers");
    CHECK(parse_error("01").position.column == 2);
    CHECK(where_what("[-00]") == "1:4 [0]: leading zeros are not allowed in JSON numbers");
    CHECK(parse_error("-").message == "expected a digit after '-', got end of input");
    CHECK(parse_error("1.").message ==
          "expected a digit after the decimal point, got end of input");
    CHECK(parse_error("1.e5").position.column == 3);
    CHECK(parse_error("1e").message == "expected a digit in the exponent, got end of input");
    CHECK(parse_error("1e+").message == "expected a digit in the exponent, got end of input");
    CHECK(parse_error("+1").message.ends_with("got '+'"));
    CHECK(parse_error(".5").message.ends_with("got '.'"));
    CHECK(parse_error("0x10").message == "unexpected 'x' after the JSON value");
    CHECK(parse_error("Infinity").message.ends_with("got 'I'"));
    CHECK(parse_error("-Infinity").message == "expected a digit after '-', got 'I'");
}

TEST_CASE("numbers beyond a double are infinite, wherever they are") {
    const auto n = [](std::string_view text) { return *parse_ok(text).number(); };
    CHECK(n("1e400").integral);
    CHECK_FALSE(n("1e400").magnitude.has_value());
    CHECK(std::isinf(n("1e400").value));
    CHECK(n("-1e400").value == -std::numeric_limits<double>::infinity());
    CHECK(std::isinf(n("1e99999999999999999999999999").value));
    CHECK(std::isinf(n(std::string(400, '9')).value));

    const JsonValue v = parse_ok("{\"s\": \"1e400\", \"a\": [1e400, 2, -1e999],\n \"b\": 1E400}");
    CHECK(*v.find("s")->string() == "1e400");  // a string stays a string
    const auto& a = *v.find("a")->array();
    CHECK(std::isinf(a[0].number()->value));
    CHECK(a[1].number()->magnitude == 2u);
    CHECK(a[2].number()->text == "-1e999");
    CHECK(a[2].position.column == 32);
    CHECK(v.find("b")->position.line == 2);
    CHECK(v.find("b")->position.column == 7);
    // Beside a syntax error, the syntax error is reported, where it is.
    CHECK(where_what("[1e400, 2,]") == "1:11 trailing comma before ']' is not allowed in JSON");
    CHECK(where_what("[1e400 1]") == "1:8 expected ',' or ']' after array element, got '1'");
    CHECK(where_what("[2-1e999]") == "1:3 expected ',' or ']' after array element, got '-'");
    CHECK(where_what("[1e999.5]") == "1:7 expected ',' or ']' after array element, got '.'");
    CHECK(where_what("[1E999e5]") == "1:7 expected ',' or ']' after array element, got 'e'");
    CHECK(parse_ok("/* 1e400 */ [1e400] // 1e400", kComments).array()->size() == 1);
}

TEST_CASE("duplicate keys, trailing text, literals, misplaced punctuation") {
    const JsonError dup = parse_error("{\"a\": {\"x\": 1, \"y\": 2, \"x\": 3}}");
    CHECK(dup.kind == JsonErrorKind::duplicate_key);
    CHECK(dup.path == "a.x");
    CHECK(dup.position.column == 24);
    CHECK(dup.message == "duplicate key \"x\" (first at line 1, column 8)");
    CHECK(parse_ok("{\"a\": {\"x\": 1}, \"b\": {\"x\": 1}}").object()->size() == 2);
    CHECK(where_what("[{\"k\": 1}, {\"k\": 1, \"\\u006b\": 2}]") ==
          "1:21 [1].k: duplicate key \"k\" (first at line 1, column 13)");

    CHECK(parse_error("{} {}").message == "unexpected '{' after the JSON value");
    CHECK(parse_error("[1] ]").position.column == 5);
    CHECK(parse_error("1 2").message == "unexpected '2' after the JSON value");
    CHECK(parse_error("nul").message == "invalid literal, expected 'null'");
    CHECK(parse_error("truex").message == "unexpected 'x' after the JSON value");
    CHECK(parse_error("[1,]").message == "trailing comma before ']' is not allowed in JSON");
    CHECK(parse_error("[,1]").message.ends_with("got ','"));
    CHECK(parse_error("[1 2]").message == "expected ',' or ']' after array element, got '2'");
    CHECK(parse_error("[1").message ==
          "expected ',' or ']' after array element, got end of input ('[' at line 1, column 1 is "
          "not closed)");
    CHECK(parse_error("{\"a\" 1}").message == "expected ':' after object key \"a\", got '1'");
    CHECK(parse_error("{1: 2}").message == "expected a string key or '}', got '1'");
    CHECK(parse_error("{\"a\": 1,}").message == "trailing comma before '}' is not allowed in JSON");
    CHECK(parse_error("{\"a\": 1, 2}").message == "expected a string key after ',', got '2'");
    CHECK(parse_error("\x01").message.ends_with("got byte 0x01"));
    CHECK(parse_error("").message == "empty input, expected a JSON value");
    CHECK(where_what(" \n ") == "2:2 empty input, expected a JSON value");
    const JsonError nested = parse_error("{\"a\": [0, {\"b c\": [tru]}]}");
    CHECK(nested.path == "a[1][\"b c\"][0]");
    CHECK(nested.message == "invalid literal, expected 'true'");
    CHECK(nested.position.column == 20);
}

TEST_CASE("NUL bytes are refused wherever they are") {
    using namespace std::string_view_literals;
    CHECK(where_what("{}\0"sv) == "1:3 unexpected byte 0x00 after the JSON value");
    CHECK(where_what("12\0 3"sv) == "1:3 unexpected byte 0x00 after the JSON value");
    CHECK(where_what("[\"a\0\"]"sv) ==
          "1:4 [0]: control character U+0000 must be escaped in a string");
    CHECK(where_what("{\"a\": \0}"sv) ==
          "1:7 a: expected a value (object, array, string, number, true, false or null), got "
          "byte 0x00");
    CHECK(where_what("tr\0ue"sv) == "1:1 invalid literal, expected 'true'");
    CHECK(where_what("[1] // x\0y"sv, kComments) == "1:9 unexpected byte 0x00 in a comment");
    CHECK(where_what("[1, /* \0 */ 2]"sv, kComments) == "1:8 unexpected byte 0x00 in a comment");
}

TEST_CASE("comments: where whitespace may be, only when allowed") {
    const std::string text =
        "// head\n{ /* a */ \"k\" /* b */ : // c\n [1, /* d */ 2 /**/, 3] /* e\n f */ } // tail";
    const JsonValue v = parse_ok(text, kComments);
    const auto& k = (*v.object())[0];
    CHECK(k.key_position.line == 2);
    CHECK(k.key_position.column == 11);
    const auto& a = *k.value.array();
    REQUIRE(a.size() == 3);
    CHECK(k.value.position.line == 3);
    CHECK(k.value.position.column == 2);
    CHECK(a[1].position.column == 14);
    CHECK(a[2].position.column == 22);
    CHECK(parse_ok("1 //", kComments).number()->value == 1);
    CHECK(parse_ok("\"// not /* a comment\"", kComments).string()->size() == 19);

    CHECK(where_what(text) ==
          "1:1 expected a value (object, array, string, number, true, false "
          "or null), got '/'");
    CHECK(where_what("{\"a\": 1 /* x */}") ==
          "1:9 expected ',' or '}' after object member, got '/'");
    CHECK(where_what("[1, /* x ]", kComments) ==
          "1:5 unterminated comment ('/*' needs a closing '*/')");
    CHECK(where_what("[1, /* x */", kComments) ==
          "1:12 expected a value, got end of input ('[' at line 1, column 1 is not closed)");
    CHECK(where_what("[1 / 2]", kComments) ==
          "1:4 a '/' outside a string must start a comment, // or /*");
    CHECK(where_what("/*/ []", kComments) ==
          "1:1 unterminated comment ('/*' needs a closing '*/')");
    CHECK(where_what("/**/ /", kComments) ==
          "1:6 a '/' outside a string must start a comment, // or /*");
}

TEST_CASE("depth and size limits") {
    CHECK(read_json(std::string(64, '[') + std::string(64, ']')).has_value());
    const JsonError deep = parse_error(std::string(65, '[') + std::string(65, ']'));
    CHECK(deep.kind == JsonErrorKind::too_deep);
    CHECK(deep.message == "nesting deeper than 64 levels");
    CHECK(deep.position.column == 65);
    // A million open brackets: refused by the depth limit, not by a stack overflow.
    JsonReadOptions roomy;
    roomy.max_size_bytes = 4u << 20;
    CHECK(parse_error(std::string(1'000'000, '['), roomy).kind == JsonErrorKind::too_deep);
    roomy.max_depth = std::size_t{1} << 40;  // capped at kMaxJsonDepth
    CHECK(parse_error(std::string(1'000'000, '['), roomy).message ==
          "nesting deeper than " + std::to_string(memscope::kMaxJsonDepth) + " levels");
    std::string nested_objects;
    for (int i = 0; i < 65; ++i) nested_objects += "{\"k\":";
    const JsonError objects = parse_error(nested_objects);
    CHECK(objects.kind == JsonErrorKind::too_deep);
    std::string path = "k";
    for (int i = 1; i < 64; ++i) path += ".k";
    CHECK(objects.path == path);  // the 64 keys leading to the 65th object
    CHECK(objects.position.column == 321);
    std::string mixed;
    for (int i = 0; i < 32; ++i) mixed += "[{\"k\":";
    std::string closing;
    for (int i = 0; i < 32; ++i) closing += "}]";
    CHECK(read_json(mixed + "1" + closing).has_value());  // 64 levels, arrays and objects
    CHECK(parse_error("[" + mixed + "1]" + closing).kind == JsonErrorKind::too_deep);

    JsonReadOptions small;
    small.max_size_bytes = 10;
    CHECK(read_json("[1,2,3,4]", nullptr, small).has_value());
    const JsonError large = parse_error("[1,2,3,4,5]", small);
    CHECK(large.kind == JsonErrorKind::too_large);
    CHECK(large.message == "input is 11 bytes, more than the 10-byte limit");
    CHECK_FALSE(read_json("[", nullptr).has_value());  // no error wanted: still refused
}

TEST_CASE("key paths in messages") {
    using memscope::json_path_index;
    using memscope::json_path_key;
    CHECK(json_path_key("", "budgets") == "budgets");
    CHECK(json_path_key("budgets", "Chunks") == "budgets.Chunks");
    CHECK(json_path_key("budgets", "my-sub_2") == "budgets.my-sub_2");
    CHECK(json_path_key("budgets", "a.b") == "budgets[\"a.b\"]");
    CHECK(json_path_key("budgets", "") == "budgets[\"\"]");
    CHECK(json_path_key("", "\xFF") == "[\"\\xFF\"]");
    CHECK(json_path_index("list", 3) == "list[3]");
    CHECK(json_path_index(json_path_index("", 0), 1) == "[0][1]");
}

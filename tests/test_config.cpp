// SPDX-License-Identifier: MIT
// The config file: a valid file applies budgets, total and threshold in one step; every
// bad file is refused whole with a message naming file, position, key and problem, and
// leaves the budgets exactly as they were. The JSON reader itself: test_json_reader.cpp.

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <memscope/budget.hpp>
#include <memscope/config_file.hpp>
#include <memscope/log.hpp>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using memscope::apply_config_text;
using memscope::ConfigResult;
using memscope::LogLevel;
using memscope::MemoryBudget;
using memscope_test::kMiB;
using memscope_test::LogCapture;
using memscope_test::ScopedEnv;
using memscope_test::TempDir;

constexpr std::size_t kGiB = std::size_t{1} << 30;

// A budget in a known, non-default state, with a clock that never moves so that its
// time-over-budget figures are deterministic too.
struct Fixture {
    static memscope::BudgetOptions options() {
        memscope::BudgetOptions o;
        o.clock = [] { return std::chrono::steady_clock::time_point{} + std::chrono::hours(1); };
        o.log_events = false;
        return o;
    }
    MemoryBudget budget{options()};
    Fixture() {
        budget.configure_default_budgets();
        budget.set_warning_threshold(0.9f);
        budget.report("Chunks", 900 * kMiB, 12);
        budget.report("Audio", 10 * kMiB, 3);
        budget.report("Scripts", 5 * kMiB, 1);  // unbudgeted
    }
};

// Everything a reader of the budget can see, as text: equal text, equal state.
std::string state_of(const MemoryBudget& b) {
    std::string s;
    char buf[512];
    for (const auto& row : b.snapshot()) {
        std::snprintf(buf, sizeof buf,
                      "%s cur=%zu peak=%zu budget=%zu count=%zu status=%d usage=%.17g "
                      "window=%zu over_thr=%.17g over_budget=%.17g warnings=%llu\n",
                      row.name.c_str(), row.memory.current_bytes, row.memory.peak_bytes,
                      row.memory.budget_bytes, row.memory.allocation_count,
                      static_cast<int>(row.status), row.usage, row.window_peak_bytes,
                      row.seconds_over_threshold, row.seconds_over_budget,
                      static_cast<unsigned long long>(row.warnings));
        s += buf;
    }
    const auto t = b.totals();
    std::snprintf(buf, sizeof buf,
                  "totals cur=%zu peak=%zu budget=%zu usage=%.17g status=%d count=%zu\n"
                  "total_budget=%zu threshold=%.9g events=%llu\n",
                  t.current_bytes, t.peak_bytes, t.budget_bytes, t.usage,
                  static_cast<int>(t.status), t.subsystem_count, b.total_budget_bytes(),
                  static_cast<double>(b.warning_threshold()),
                  static_cast<unsigned long long>(b.last_event_sequence()));
    s += buf;
    return s;
}

// A directory of its own under the system's temporary directory, removed at the end.

// Changes the working directory for one test.
struct WorkingDir {
    fs::path saved = fs::current_path();
    explicit WorkingDir(const fs::path& p) { fs::current_path(p); }
    ~WorkingDir() { fs::current_path(saved); }
    WorkingDir(const WorkingDir&) = delete;
    WorkingDir& operator=(const WorkingDir&) = delete;
};

// Refuses `text` and checks the exact message, that it was logged at error level, and
// that nothing changed.
void check_refused(const std::string& text, const std::string& expected) {
    CAPTURE(text);
    Fixture f;
    const std::string before = state_of(f.budget);
    LogCapture log;
    const ConfigResult r = apply_config_text(f.budget, text, "memscope.json");
    CHECK_FALSE(r.loaded);
    CHECK_FALSE(static_cast<bool>(r));
    CHECK(r.path == "memscope.json");
    CHECK(r.error == expected);
    CHECK(r.error.find('\n') == std::string::npos);
    REQUIRE(log.lines().size() == 1);
    CHECK(log.lines()[0].first == LogLevel::error);
    CHECK(log.lines()[0].second == r.error);
    CHECK(state_of(f.budget) == before);
}

const char* const kValid = R"({
  "warning_threshold": 0.8,
  "total_budget": "6 GiB",
  "budgets": {
    "Chunks": "1.5 GB",
    "Meshes": 268435456,
    "Audio": 0,
    "Weather": "300MB"
  }
})";

}  // namespace

// ---------------------------------------------------------------------------------------
// A good file

TEST_CASE("a valid file applies budgets, total budget and threshold together") {
    Fixture f;
    LogCapture log;
    const ConfigResult r = apply_config_text(f.budget, kValid, "memscope.json");
    REQUIRE_MESSAGE(r.loaded, r.error);
    CHECK(r);
    CHECK(r.error.empty());
    CHECK(r.path == "memscope.json");
    CHECK(f.budget.warning_threshold() == 0.8f);
    CHECK(f.budget.total_budget_bytes() == 6 * kGiB);
    CHECK(f.budget.subsystem("Chunks")->budget_bytes == 3 * kGiB / 2);
    CHECK(f.budget.subsystem("Meshes")->budget_bytes == 256 * kMiB);
    CHECK(f.budget.subsystem("Audio")->budget_bytes == 0);  // 0: unbudgeted
    CHECK(f.budget.status("Audio").status == memscope::MemoryStatus::unbudgeted);
    CHECK(f.budget.subsystem("Weather")->budget_bytes == 300 * kMiB);
    // Keys the file does not name keep their values; reported figures are untouched.
    CHECK(f.budget.subsystem("Textures")->budget_bytes == 512 * kMiB);
    CHECK(f.budget.subsystem("Chunks")->current_bytes == 900 * kMiB);
    CHECK(f.budget.subsystem("Chunks")->allocation_count == 12);
    REQUIRE(log.lines().size() == 1);
    CHECK(log.lines()[0].first == LogLevel::info);
    CHECK(log.lines()[0].second ==
          "memscope.json: applied warning threshold 0.8, total budget 6.00 GB, 4 subsystem "
          "budgets (Chunks 1.50 GB, Meshes 256.0 MB, Audio unbudgeted, Weather 300.0 MB)");
}

TEST_CASE("a file may set only some keys, or none") {
    Fixture f;
    CHECK(apply_config_text(f.budget, R"({"total_budget": 1024})", "a.json"));
    CHECK(f.budget.total_budget_bytes() == 1024);
    CHECK(f.budget.warning_threshold() == 0.9f);
    CHECK(f.budget.subsystem("Chunks")->budget_bytes == kGiB);

    const std::string before = state_of(f.budget);
    LogCapture log;
    CHECK(apply_config_text(f.budget, " { } \n", "b.json"));
    CHECK(state_of(f.budget) == before);
    REQUIRE(log.lines().size() == 1);
    CHECK(log.lines()[0].second == "b.json: applied nothing (the file sets no key)");
}

TEST_CASE("the specification's defaults as a file") {
    MemoryBudget b;
    const char* text = R"({
  "warning_threshold": 0.85,
  "total_budget": "4 GiB",
  "budgets": {
    "Chunks": "1 GiB", "Meshes": "512 MiB", "Textures": "512 MiB",
    "Entities": "256 MiB", "Audio": "128 MiB", "Physics": "256 MiB"
  }
})";
    REQUIRE(apply_config_text(b, text, "defaults.json"));
    MemoryBudget expected;
    expected.configure_default_budgets();
    CHECK(state_of(b) == state_of(expected));
}

TEST_CASE("a threshold of exactly 1 and the edge sizes are accepted") {
    Fixture f;
    REQUIRE(apply_config_text(f.budget,
                              R"({"warning_threshold": 1, "budgets": {"A": 18446744073709551615,
                                  "B": 1e3, "C": 2.0, "D": -0, "E": "0 B"}})",
                              "x.json"));
    CHECK(f.budget.warning_threshold() == 1.0f);
    CHECK(f.budget.subsystem("A")->budget_bytes == std::numeric_limits<std::size_t>::max());
    CHECK(f.budget.subsystem("B")->budget_bytes == 1000);
    CHECK(f.budget.subsystem("C")->budget_bytes == 2);
    CHECK(f.budget.subsystem("D")->budget_bytes == 0);
    CHECK(f.budget.subsystem("E")->budget_bytes == 0);
}

TEST_CASE("subsystem names may hold any printable UTF-8 up to 128 bytes") {
    Fixture f;
    const std::string name128(128, 'n');
    const std::string text =
        R"({"budgets": {"Level 1.5 / Caves": 1, "Énergie \u00e9 \ud83d\ude00": 2, ")" + name128 +
        R"(": 3}})";
    REQUIRE(apply_config_text(f.budget, text, "x.json"));
    CHECK(f.budget.subsystem("Level 1.5 / Caves")->budget_bytes == 1);
    CHECK(f.budget.subsystem("Énergie é \xF0\x9F\x98\x80")->budget_bytes == 2);
    CHECK(f.budget.subsystem(name128)->budget_bytes == 3);
}

TEST_CASE("comments are allowed, and positions after them stay exact") {
    Fixture f;
    const char* text = R"(// memscope budgets for the test level
{
  /* the share of a budget that warns */ "warning_threshold": 0.75,
  "budgets": {
    "Chunks": "2 GiB",  // streaming, see the level design notes
    /* "Meshes": "1 GiB", */
    "Audio": 1024
  }
}
// end)";
    REQUIRE(apply_config_text(f.budget, text, "memscope.json"));
    CHECK(f.budget.warning_threshold() == 0.75f);
    CHECK(f.budget.subsystem("Chunks")->budget_bytes == 2 * kGiB);
    CHECK(f.budget.subsystem("Meshes")->budget_bytes == 512 * kMiB);  // commented out: kept
    CHECK(f.budget.subsystem("Audio")->budget_bytes == 1024);

    check_refused("// budgets\n{\"budgets\": {/* é */ \"Chunks\": \"12 XB\"}}",
                  "memscope.json:2:32: budgets.Chunks: size \"12 XB\": unknown unit \"XB\"");
    check_refused("{\n  /* a\n     b */ \"total_budget\": true\n}",
                  "memscope.json:3:27: total_budget: expected a size (an integer of bytes, or a "
                  "string such as \"512 MiB\"), got a boolean");
    check_refused("{} / not a comment",
                  "memscope.json:1:4: syntax error: a '/' outside a string must start a comment, "
                  "// or /*");
}

// ---------------------------------------------------------------------------------------
// Every bad file: refused whole, message exact, budgets untouched

TEST_CASE("syntax errors give line and column") {
    check_refused(R"({
  "warning_threshold": 0.9,
  "budgets": {
    "Chunks": "1 GiB"
    "Meshes": "512 MiB"
  }
})",
                  "memscope.json:5:5: budgets: syntax error: expected ',' or '}' after object "
                  "member, got '\"'");
    check_refused("{\n  \"total_budget\": 1024\n  \n",
                  "memscope.json:4:1: syntax error: expected ',' or '}' after object member, "
                  "got end of input ('{' at line 1, column 1 is not closed)");
    check_refused("{\"budgets\": {\"Chunks\": 1,}}",
                  "memscope.json:1:26: budgets: syntax error: trailing comma before '}' is not "
                  "allowed in JSON");
    check_refused("{\n  /* budgets\n}",
                  "memscope.json:2:3: syntax error: unterminated comment ('/*' needs a closing "
                  "'*/')");
    check_refused("{'budgets': {}}",
                  "memscope.json:1:2: syntax error: expected a string key or '}', got '''");
    check_refused("{\"total_budget\": 1024} x",
                  "memscope.json:1:24: syntax error: unexpected 'x' after the JSON value");
    check_refused("{\"total_budget\": 1024}{}",
                  "memscope.json:1:23: syntax error: unexpected '{' after the JSON value");
    check_refused("{\"budgets\": {\"Chunks\": \"1 GiB\"}, \"warning_threshold\": .9}",
                  "memscope.json:1:55: warning_threshold: syntax error: expected a value (object, "
                  "array, string, number, true, false or null), got '.'");
    check_refused("{\"warning_threshold\": 0.9.1}",
                  "memscope.json:1:26: syntax error: expected ',' or '}' after object member, "
                  "got '.'");
    check_refused("{\"budgets\": {\"Chunks\": \"1 GiB\n\"}}",
                  "memscope.json:1:24: budgets.Chunks: syntax error: unterminated string (a line "
                  "break cannot appear inside a string; write \\n)");
    check_refused("{\"budgets\": {\"Chunks\": True}}",
                  "memscope.json:1:24: budgets.Chunks: syntax error: expected a value (object, "
                  "array, string, number, true, false or null), got 'T'");
    check_refused("{\"budgets\": {\"Chunks\": NaN}}",
                  "memscope.json:1:24: budgets.Chunks: syntax error: expected a value (object, "
                  "array, string, number, true, false or null), got 'N'");
    check_refused("{\"budgets\": {\"Ch\\qunks\": 1}}",
                  "memscope.json:1:17: budgets: syntax error: invalid escape '\\q' in string "
                  "(valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    // Columns count characters, not bytes: "é" is one column.
    check_refused("{\"budgets\": {\"é\": 1 2}}",
                  "memscope.json:1:21: budgets: syntax error: expected ',' or '}' after object "
                  "member, got '2'");
    check_refused("{\"budgets\": {\"\xC3\": 1}}",
                  "memscope.json:1:15: budgets: syntax error: invalid UTF-8 in string");
}

TEST_CASE("a truncated or empty file is refused") {
    check_refused("", "memscope.json:1:1: syntax error: empty input, expected a JSON value");
    check_refused("  \n\t\n",
                  "memscope.json:3:1: syntax error: empty input, expected a JSON value");
    const std::string full = kValid;
    check_refused(full.substr(0, full.size() - 1),
                  "memscope.json:10:1: syntax error: expected ',' or '}' after object member, "
                  "got end of input ('{' at line 1, column 1 is not closed)");
    check_refused(full.substr(0, full.find("\"1.5 GB\"") + 4),
                  "memscope.json:5:15: budgets.Chunks: syntax error: unterminated string");
    check_refused(full.substr(0, full.find("268435456") + 3) + " ",
                  "memscope.json:6:19: budgets: syntax error: expected ',' or '}' after object "
                  "member, got end of input ('{' at line 4, column 14 is not closed)");
    check_refused("{\"budgets\":",
                  "memscope.json:1:12: budgets: syntax error: expected a value, got end of input");
}

TEST_CASE("unknown and duplicate keys are refused") {
    check_refused("{\n  \"budget\": {}\n}",
                  "memscope.json:2:3: unknown key \"budget\" (expected warning_threshold, "
                  "total_budget, budgets or frame_budgets)");
    check_refused("{\"warning_threshold\": 0.8, \"Warning_Threshold\": 0.8}",
                  "memscope.json:1:28: unknown key \"Warning_Threshold\" (expected "
                  "warning_threshold, total_budget, budgets or frame_budgets)");
    check_refused("{\n  \"total_budget\": 1,\n  \"total_budget\": 2\n}",
                  "memscope.json:3:3: total_budget: duplicate key \"total_budget\" (first at "
                  "line 2, column 3)");
    check_refused("{\"budgets\": {\n  \"Chunks\": 1,\n  \"Meshes\": 2,\n  \"Chunks\": 3\n}}",
                  "memscope.json:4:3: budgets.Chunks: duplicate key \"Chunks\" (first at line 2, "
                  "column 3)");
    // The same name written two ways is still the same key.
    check_refused(
        "{\"budgets\": {\"A\": 1, \"\\u0041\": 2}}",
        "memscope.json:1:22: budgets.A: duplicate key \"A\" (first at line 1, column 14)");
}

TEST_CASE("bad sizes are refused: negative, overflowing, fractional, unknown unit") {
    check_refused("{\"budgets\": {\"Chunks\": -5}}",
                  "memscope.json:1:24: budgets.Chunks: size -5: negative size");
    check_refused("{\"budgets\": {\"Chunks\": -0.5}}",
                  "memscope.json:1:24: budgets.Chunks: size -0.5: negative size");
    check_refused("{\"budgets\": {\"Chunks\": \"-5 MB\"}}",
                  "memscope.json:1:24: budgets.Chunks: size \"-5 MB\": negative size");
    check_refused("{\"total_budget\": 18446744073709551616}",
                  "memscope.json:1:18: total_budget: size 18446744073709551616: size overflows "
                  "64 bits");
    check_refused("{\"total_budget\": 1e400}",
                  "memscope.json:1:18: total_budget: size 1e400: size overflows 64 bits");
    check_refused("{\"total_budget\": 2e19}",
                  "memscope.json:1:18: total_budget: size 2e19: size overflows 64 bits");
    check_refused(
        "{\"total_budget\": \"16777216 TiB\"}",
        "memscope.json:1:18: total_budget: size \"16777216 TiB\": size overflows 64 bits");
    check_refused("{\"budgets\": {\"Chunks\": 1.5}}",
                  "memscope.json:1:24: budgets.Chunks: size 1.5: not a whole number of bytes "
                  "(write an integer, or a string with a unit such as \"1.5 KiB\")");
    check_refused("{\"budgets\": {\"Chunks\": 15e-1}}",
                  "memscope.json:1:24: budgets.Chunks: size 15e-1: not a whole number of bytes "
                  "(write an integer, or a string with a unit such as \"1.5 KiB\")");
    check_refused("{\"budgets\": {\"Chunks\": \"1.5\"}}",
                  "memscope.json:1:24: budgets.Chunks: size \"1.5\": a size in bytes must be a "
                  "whole number (use a larger unit, e.g. \"1.5 KiB\")");
    check_refused(
        "{\n  \"budgets\": {\n    \"Meshes\": \"512 MiB\",\n    \"Chunks\": \"12 XB\"\n  }\n}",
        "memscope.json:4:15: budgets.Chunks: size \"12 XB\": unknown unit \"XB\"");
    check_refused("{\"budgets\": {\"Chunks\": \"\"}}",
                  "memscope.json:1:24: budgets.Chunks: size \"\": empty size");
    check_refused(
        "{\"budgets\": {\"Chunks\": \"1 GiB of RAM\"}}",
        "memscope.json:1:24: budgets.Chunks: size \"1 GiB of RAM\": trailing text \" of RAM\"");
}

TEST_CASE("a threshold outside (0, 1] or not a number is refused") {
    check_refused("{\"warning_threshold\": 0}",
                  "memscope.json:1:23: warning_threshold: must be in (0, 1], got 0");
    check_refused("{\"warning_threshold\": -0.0}",
                  "memscope.json:1:23: warning_threshold: must be in (0, 1], got -0.0");
    check_refused("{\n  \"warning_threshold\": 1.5\n}",
                  "memscope.json:2:24: warning_threshold: must be in (0, 1], got 1.5");
    check_refused("{\"warning_threshold\": 1.0000001}",
                  "memscope.json:1:23: warning_threshold: must be in (0, 1], got 1.0000001");
    check_refused("{\"warning_threshold\": -0.5}",
                  "memscope.json:1:23: warning_threshold: must be in (0, 1], got -0.5");
    check_refused("{\"warning_threshold\": 1e400}",
                  "memscope.json:1:23: warning_threshold: must be in (0, 1], got 1e400");
    check_refused("{\"warning_threshold\": \"0.8\"}",
                  "memscope.json:1:23: warning_threshold: expected a number in (0, 1], got a "
                  "string \"0.8\" (write it without quotes)");
    check_refused("{\"warning_threshold\": true}",
                  "memscope.json:1:23: warning_threshold: expected a number in (0, 1], got a "
                  "boolean");
    check_refused("{\"warning_threshold\": null}",
                  "memscope.json:1:23: warning_threshold: expected a number in (0, 1], got null");
}

TEST_CASE("wrong types are refused") {
    check_refused("[1, 2]",
                  "memscope.json:1:1: expected a JSON object at the top level, got an array");
    check_refused("\n  \"budgets\"",
                  "memscope.json:2:3: expected a JSON object at the top level, got a string");
    check_refused("42", "memscope.json:1:1: expected a JSON object at the top level, got a number");
    check_refused("null", "memscope.json:1:1: expected a JSON object at the top level, got null");
    check_refused("{\"budgets\": [\"Chunks\", 1024]}",
                  "memscope.json:1:13: budgets: expected an object mapping subsystem names to "
                  "sizes, got an array");
    check_refused("{\"budgets\": \"1 GiB\"}",
                  "memscope.json:1:13: budgets: expected an object mapping subsystem names to "
                  "sizes, got a string");
    check_refused("{\"budgets\": {\"Chunks\": true}}",
                  "memscope.json:1:24: budgets.Chunks: expected a size (an integer of bytes, or "
                  "a string such as \"512 MiB\"), got a boolean");
    check_refused("{\"budgets\": {\"Chunks\": null}}",
                  "memscope.json:1:24: budgets.Chunks: expected a size (an integer of bytes, or "
                  "a string such as \"512 MiB\"), got null");
    check_refused("{\"total_budget\": {\"bytes\": 1}}",
                  "memscope.json:1:18: total_budget: expected a size (an integer of bytes, or a "
                  "string such as \"512 MiB\"), got an object");
}

TEST_CASE("bad subsystem names are refused") {
    check_refused("{\"budgets\": {\"\": 1024}}",
                  "memscope.json:1:14: budgets[\"\"]: subsystem name is empty");
    const std::string long_name(129, 'x');
    check_refused("{\"budgets\": {\"" + long_name + "\": 1024}}",
                  "memscope.json:1:14: budgets[\"" + std::string(40, 'x') +
                      "...\"]: subsystem name is 129 bytes long, more than 128");
    check_refused("{\"budgets\": {\"Tab\\there\": 1024}}",
                  "memscope.json:1:14: budgets[\"Tab\\there\"]: subsystem name contains a control "
                  "character");
}

TEST_CASE("a file whose good keys come before a bad one changes nothing at all") {
    // The threshold, the total and two budgets are valid; the last budget is not. None of
    // them may be applied, and "New" must not even appear as a subsystem.
    check_refused(R"({
  "warning_threshold": 0.5,
  "total_budget": "1 GiB",
  "budgets": {"Chunks": "1 MiB", "New": 5, "Audio": "1 XB"}
})",
                  "memscope.json:4:53: budgets.Audio: size \"1 XB\": unknown unit \"XB\"");
    check_refused(R"({"warning_threshold": 0.5, "budgets": {"Chunks": 1}, "budgets": {}})",
                  "memscope.json:1:54: budgets: duplicate key \"budgets\" (first at line 1, "
                  "column 28)");
}

TEST_CASE("limits: nesting depth and file size") {
    std::string deep = "{\"budgets\": {\"Chunks\": ";
    for (int i = 0; i < 100; ++i) deep += '[';
    std::string expected = "memscope.json:1:86: budgets.Chunks";
    for (int i = 0; i < 62; ++i) expected += "[0]";  // the 63rd array is level 65
    check_refused(deep, expected + ": nesting deeper than 64 levels");
    std::string big = "{\"budgets\": {}}";
    big += std::string((1 << 20), ' ');
    check_refused(big,
                  "memscope.json:1:1: input is 1048591 bytes, more than the 1048576-byte "
                  "limit");
}

// ---------------------------------------------------------------------------------------
// Files and the default lookup

TEST_CASE("load_config reads a file, and refuses a missing one or a directory") {
    TempDir dir;
    Fixture f;
    const fs::path good = dir.write("memscope.json", kValid);
    const ConfigResult r = memscope::load_config(f.budget, good.string());
    REQUIRE_MESSAGE(r.loaded, r.error);
    CHECK(r.path == good.string());
    CHECK(f.budget.total_budget_bytes() == 6 * kGiB);

    const std::string before = state_of(f.budget);
    LogCapture log;
    const std::string missing = (dir.path() / "nope.json").string();
    const ConfigResult m = memscope::load_config(f.budget, missing);
    CHECK_FALSE(m.loaded);
    CHECK(m.path == missing);
    CHECK(m.error == missing + ": cannot read: No such file or directory");
    CHECK(state_of(f.budget) == before);

    const ConfigResult d = memscope::load_config(f.budget, dir.path().string());
    CHECK_FALSE(d.loaded);
    CHECK(d.error == dir.path().string() + ": cannot read: Is a directory");
    CHECK(state_of(f.budget) == before);

    const fs::path bad = dir.write("bad.json", "{\n  \"budgets\": {\"Chunks\": 1.5}\n}\n");
    const ConfigResult b = memscope::load_config(f.budget, bad.string());
    CHECK(b.error == bad.string() +
                         ":2:25: budgets.Chunks: size 1.5: not a whole number of bytes (write an "
                         "integer, or a string with a unit such as \"1.5 KiB\")");
    CHECK(state_of(f.budget) == before);

    const fs::path huge = dir.write("huge.json", "{}" + std::string(3 << 20, ' '));
    const ConfigResult h = memscope::load_config(f.budget, huge.string());
    CHECK(h.error == huge.string() + ": cannot read: the file is larger than 1048576 bytes");
    CHECK(state_of(f.budget) == before);

    CHECK(log.lines().size() == 4);
    for (const auto& [level, text] : log.lines()) CHECK(level == LogLevel::error);
}

TEST_CASE("load_default_config follows MEMSCOPE_CONFIG") {
    TempDir dir;
    Fixture f;
    const fs::path file = dir.write("game-budgets.json", kValid);
    {
        ScopedEnv env("MEMSCOPE_CONFIG", file.c_str());
        const ConfigResult r = memscope::load_default_config(f.budget);
        REQUIRE_MESSAGE(r.loaded, r.error);
        CHECK(r.path == file.string());
        CHECK(f.budget.warning_threshold() == 0.8f);
    }
    const std::string before = state_of(f.budget);
    {
        const std::string nowhere = (dir.path() / "missing.json").string();
        ScopedEnv env("MEMSCOPE_CONFIG", nowhere.c_str());
        LogCapture log;
        const ConfigResult r = memscope::load_default_config(f.budget);
        CHECK_FALSE(r.loaded);
        CHECK(r.path == nowhere);
        CHECK(r.error == nowhere +
                             ": cannot read: No such file or directory (named by "
                             "MEMSCOPE_CONFIG)");
        REQUIRE(log.lines().size() == 1);
        CHECK(log.lines()[0].first == LogLevel::error);
        CHECK(state_of(f.budget) == before);
    }
}

TEST_CASE("load_default_config falls back to ./memscope.json, and finding nothing is no error") {
    TempDir dir;
    Fixture f;
    const std::string before = state_of(f.budget);
    ScopedEnv env("MEMSCOPE_CONFIG", nullptr);
    WorkingDir cwd(dir.path());
    {
        LogCapture log;
        const ConfigResult r = memscope::load_default_config(f.budget);
        CHECK_FALSE(r.loaded);
        CHECK(r.error.empty());
        CHECK(r.path.empty());
        CHECK(state_of(f.budget) == before);
        for (const auto& [level, text] : log.lines()) CHECK(level == LogLevel::debug);
    }
    {
        ScopedEnv empty("MEMSCOPE_CONFIG", "");  // empty counts as unset
        CHECK_FALSE(memscope::load_default_config(f.budget).loaded);
        CHECK(state_of(f.budget) == before);
    }
    dir.write("memscope.json", R"({"total_budget": "2 GiB"})");
    const ConfigResult r = memscope::load_default_config(f.budget);
    REQUIRE_MESSAGE(r.loaded, r.error);
    CHECK(r.path == "memscope.json");
    CHECK(f.budget.total_budget_bytes() == 2 * kGiB);

    dir.write("memscope.json", R"({"total_budget": "2 GiB",})");
    const std::string after_good = state_of(f.budget);
    const ConfigResult bad = memscope::load_default_config(f.budget);
    CHECK_FALSE(bad.loaded);
    CHECK(bad.error ==
          "memscope.json:1:26: syntax error: trailing comma before '}' is not allowed in JSON");
    CHECK(state_of(f.budget) == after_good);
}

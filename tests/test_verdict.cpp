// SPDX-License-Identifier: MIT
// The budget verdict: its document is valid JSON in valid UTF-8 whatever
// the subsystem names hold, and it says what the budget saw.

#include <doctest/doctest.h>

#include <string>

#include <memscope/budget.hpp>
#include <memscope/json.hpp>

#include <memscope/verdict.hpp>

namespace {

memscope::BudgetOptions quiet() {
    memscope::BudgetOptions o;
    o.log_events = false;
    return o;
}

memscope::JsonValue read_back(const std::string& text) {
    CAPTURE(text);
    memscope::JsonError e;
    auto v = memscope::read_json(text, &e);
    REQUIRE_MESSAGE(v.has_value(), e.message);
    return std::move(*v);
}

}  // namespace

TEST_CASE("a subsystem name with invalid UTF-8 gives a valid verdict document") {
    memscope::MemoryBudget budget(quiet());
    const std::string bad = "Chunks\xff\xc3";  // a byte that is never UTF-8, one cut short
    budget.set_budget(bad, 100);
    budget.report(bad, 200, 1);  // over budget: the name is in a failure and an event too
    memscope::VerdictRecorder recorder(budget, {.program = "test\xed\xa0\x80"});
    const memscope::Verdict v = recorder.evaluate();
    CHECK_FALSE(v.pass);

    const memscope::JsonValue doc = read_back(v.json);
    const std::string replaced = "Chunks\xef\xbf\xbd\xef\xbf\xbd";  // U+FFFD for each
    const auto& rows = *doc.find("subsystems")->array();
    REQUIRE(rows.size() == 1);
    CHECK(*rows[0].find("name")->string() == replaced);
    CHECK(*doc.find("program")->string() == "test\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    const auto& failures = *doc.find("failures")->array();
    REQUIRE_FALSE(failures.empty());
    CHECK(failures[0].string()->starts_with(replaced + " exceeded its budget"));
    const auto& events = *doc.find("events")->array();
    REQUIRE_FALSE(events.empty());
    CHECK(*events[0].find("subsystem")->string() == replaced);
}

TEST_CASE("the verdict document is indented and its figures are rounded to the millionth") {
    memscope::MemoryBudget budget(quiet());
    budget.set_budget("Audio", 3);
    budget.report("Audio", 1, 1);
    memscope::VerdictRecorder recorder(budget);
    recorder.set_progress(3, 1.0 / 3.0);
    const memscope::Verdict v = recorder.evaluate();
    CHECK(v.pass);
    CHECK(v.json.starts_with("{\n  \"version\": 1,\n  \"program\": \"game\",\n"));
    CHECK(v.json.ends_with("}\n"));
    CHECK(v.json.find("\"simulated_seconds\": 0.333333,") != std::string::npos);
    CHECK(v.json.find("\"peak_usage\": 0.333333,") != std::string::npos);
    const memscope::JsonValue doc = read_back(v.json);
    CHECK(doc.find("frames")->number()->as_uint64() == 3u);
}

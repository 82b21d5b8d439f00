// SPDX-License-Identifier: MIT
// The budget verdict: its document is valid JSON in valid UTF-8 and its JUnit report valid
// XML (checked against tests/junit.xsd by xmllint) whatever the subsystem names hold; it
// says what the budget saw, and the baseline ratchet fails a rise and reports a fall.

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <memscope/allocator.hpp>
#include <memscope/budget.hpp>
#include <memscope/json.hpp>
#include <memscope/scope.hpp>
#include <memscope/verdict.hpp>

#include "test_support.hpp"

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

// A verdict of a budget whose subsystems peaked at `peaks` (no budgets: it passes).
std::string verdict_of(const std::vector<std::pair<std::string, std::size_t>>& peaks) {
    memscope::MemoryBudget budget(quiet());
    for (const auto& [name, bytes] : peaks) budget.report(name, bytes, 1);
    return memscope::VerdictRecorder(budget).evaluate().json;
}

// The verdict of a run whose Meshes peaked at `peak`, against a baseline where it was 1000.
memscope::Verdict against_baseline(std::size_t peak, memscope::VerdictOptions options = {}) {
    options.baseline_json = verdict_of({{"Meshes", 1000}, {"Audio", 500}});
    memscope::MemoryBudget budget(quiet());
    budget.report("Meshes", peak, 1);
    budget.report("Audio", 500, 1);
    return memscope::VerdictRecorder(budget, options).evaluate();
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
    for (const std::string& line : lines)
        if (line.find(part) != std::string::npos) return true;
    return false;
}

// Runs xmllint on `xml`: well-formed and valid against tests/junit.xsd. Without xmllint the
// check is skipped with a message, or fails when MEMSCOPE_REQUIRE_E2E=1.
void check_junit_schema(const std::string& xml) {
    if (std::system("command -v xmllint >/dev/null 2>&1") != 0) {
        const char* require = std::getenv("MEMSCOPE_REQUIRE_E2E");
        if (require != nullptr && std::string(require) == "1")
            FAIL("xmllint is missing and MEMSCOPE_REQUIRE_E2E=1: install libxml2-utils");
        MESSAGE("skipped the schema check: xmllint is missing (install libxml2-utils)");
        return;
    }
    const memscope_test::TempDir dir("memscope_junit");
    const std::string file = dir.write("junit.xml", xml).string();
    const std::string command =
        "xmllint --noout --schema '" MEMSCOPE_SOURCE_DIR "/tests/junit.xsd' '" + file + "' 2>&1";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char buf[256];
    while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
    const int status = ::pclose(pipe);
    CAPTURE(xml);
    CHECK_MESSAGE(status == 0, output);
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

TEST_CASE("a frame budget is a rule: any frame over it fails the verdict") {
    if (!memscope::tracking_enabled()) return;
    memscope::MemoryBudget budget(quiet());
    budget.set_frame_budget("VerdictChurn", {.max_allocations = 10});
    budget.set_frame_budget(memscope::kTotalName, {.max_bytes = std::size_t{1} << 40});
    budget.end_frame(1);
    for (std::uint64_t frame = 2; frame <= 4; ++frame) {
        {
            const memscope::Scope scope("VerdictChurn");
            for (int i = 0; i < 20; ++i) ::operator delete(::operator new(32));
        }
        budget.end_frame(frame);
    }
    memscope::VerdictRecorder recorder(budget);
    const memscope::Verdict v = recorder.evaluate();
    CHECK_FALSE(v.pass);
    CHECK(v.exit_code() == 1);
    REQUIRE(v.rules.size() == 2);
    CHECK(v.rules[0].name == "frame budget: (total)");
    CHECK(v.rules[0].failure.empty());
    CHECK(v.rules[1].name == "frame budget: VerdictChurn");
    CHECK(v.rules[1].failure ==
          "VerdictChurn broke its frame budget of 10 allocations in 3 frames (last: frame 4)");
    const memscope::JsonValue doc = read_back(v.json);
    const auto& frames = *doc.find("frame_budgets")->array();
    REQUIRE(frames.size() == 2);
    CHECK(*frames[1].find("name")->string() == "VerdictChurn");
    CHECK(frames[1].find("frames_over")->number()->value == 3.0);
    CHECK(v.junit_xml().find("frame budget: VerdictChurn") != std::string::npos);
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

TEST_CASE("the JUnit report validates, with a test case per subsystem, the total and rules") {
    memscope::MemoryBudget budget(quiet());
    budget.set_budget("Chunks", 100);
    budget.report("Chunks", 200, 1);
    budget.report("Audio", 10, 1);
    memscope::VerdictOptions options;
    options.fail_on_leak = true;
    const memscope::Verdict v = memscope::VerdictRecorder(budget, options).evaluate();
    const std::string xml = v.junit_xml();
    check_junit_schema(xml);
    // Audio, Chunks, the total, and the leak rule; Chunks fails.
    CHECK(xml.find("<testsuites name=\"memscope\" tests=\"4\" failures=\"1\" errors=\"0\"") !=
          std::string::npos);
    CHECK(xml.find("<testcase name=\"Chunks\" classname=\"memscope.budget\" time=\"0\">\n"
                   "      <failure message=\"Chunks exceeded its budget") != std::string::npos);
    CHECK(xml.find("<testcase name=\"Audio\" classname=\"memscope.budget\" time=\"0\"/>") !=
          std::string::npos);
    CHECK(xml.find("name=\"no leak suspicion\" classname=\"memscope.rule\"") != std::string::npos);
}

TEST_CASE("the JUnit report escapes markup and replaces what XML 1.0 forbids") {
    memscope::MemoryBudget budget(quiet());
    const std::string name = "A&B <\"q\"> 'x'\x01\t\xff\xed\xa0\x80\xc3";
    budget.set_budget(name, 1);
    budget.report(name, 2, 1);
    const memscope::Verdict v = memscope::VerdictRecorder(budget, {.program = "p\x1f&"}).evaluate();
    const std::string xml = v.junit_xml();
    check_junit_schema(xml);
    const std::string ffdd = "\xef\xbf\xbd";
    CHECK(xml.find("name=\"A&amp;B &lt;&quot;q&quot;&gt; &apos;x&apos;" + ffdd + "&#9;" + ffdd +
                   ffdd + ffdd + ffdd + ffdd + "\"") != std::string::npos);
    CHECK(xml.find("value=\"p" + ffdd + "&amp;\"") != std::string::npos);
    CHECK(xml.find('\x01') == std::string::npos);
}

TEST_CASE("baseline: a peak within the tolerance passes, a rise beyond it fails") {
    const memscope::Verdict within = against_baseline(1049);  // +4.9%, tolerance 5%
    CHECK(within.pass);
    CHECK(within.exit_code() == 0);
    REQUIRE(within.baseline.size() == 2);
    CHECK(within.baseline[1].status == memscope::BaselineStatus::within);

    const memscope::Verdict rose = against_baseline(1200);
    CHECK_FALSE(rose.pass);
    CHECK(rose.exit_code() == 1);
    CHECK(contains(rose.failures, "Meshes peak rose 20% over the baseline"));
    CHECK(rose.baseline[1].status == memscope::BaselineStatus::rose);
    CHECK(rose.junit_xml().find("<failure message=\"Meshes peak rose") != std::string::npos);
    check_junit_schema(rose.junit_xml());
    const memscope::JsonValue doc = read_back(rose.json);
    const auto& rows = *doc.find("baseline")->find("subsystems")->array();
    CHECK(*rows[1].find("status")->string() == "rose");
    CHECK(rows[1].find("baseline_peak_bytes")->number()->as_uint64() == 1000u);
}

TEST_CASE("baseline: a tolerance in bytes widens the allowance") {
    memscope::VerdictOptions options;
    options.baseline_tolerance = 0.0;
    options.baseline_tolerance_bytes = 300;
    CHECK(against_baseline(1300, options).pass);
    CHECK_FALSE(against_baseline(1301, options).pass);
}

TEST_CASE("baseline: a fall is a note that says how far to lower it, not a failure") {
    const memscope::Verdict fell = against_baseline(880);
    CHECK(fell.pass);
    CHECK(fell.baseline[1].status == memscope::BaselineStatus::fell);
    CHECK(contains(fell.notes, "Meshes peak fell 12% below the baseline"));
    CHECK(contains(fell.notes, "lower the baseline to 880 B"));
    CHECK(fell.junit_xml().find("<system-out>Meshes peak fell") != std::string::npos);
}

TEST_CASE("baseline: a subsystem absent from it is new, one absent from the run is noted") {
    memscope::VerdictOptions options;
    options.baseline_json = verdict_of({{"Meshes", 1000}, {"Gone", 5}});
    memscope::MemoryBudget budget(quiet());
    budget.report("Meshes", 1000, 1);
    budget.report("Fresh", 4096, 1);
    const memscope::Verdict v = memscope::VerdictRecorder(budget, options).evaluate();
    CHECK(v.pass);
    CHECK(v.baseline[0].status == memscope::BaselineStatus::added);
    CHECK(contains(v.notes, "Fresh is new: not in the baseline"));
    CHECK(contains(v.notes, "Gone is in the baseline"));
}

TEST_CASE("baseline: a missing or invalid one is a clear failure with exit code 2") {
    memscope::MemoryBudget budget(quiet());
    budget.report("Meshes", 1, 1);
    const memscope_test::TempDir dir("memscope_baseline");
    memscope::VerdictOptions options;
    options.baseline_path = (dir.path() / "absent.json").string();
    const memscope::Verdict missing = memscope::VerdictRecorder(budget, options).evaluate();
    CHECK_FALSE(missing.pass);
    CHECK(missing.exit_code() == 2);
    CHECK(missing.baseline_error ==
          "baseline '" + options.baseline_path + "' cannot be read: No such file or directory");
    CHECK(missing.junit_xml().find("<error message=\"baseline &apos;") != std::string::npos);
    check_junit_schema(missing.junit_xml());
    CHECK(read_back(missing.json).find("baseline")->find("error")->string() != nullptr);

    options.baseline_path = dir.write("log.txt", "not json").string();
    const memscope::Verdict garbage = memscope::VerdictRecorder(budget, options).evaluate();
    CHECK(garbage.exit_code() == 2);
    CHECK(garbage.baseline_error.find("is not JSON: 1:1:") != std::string::npos);

    options.baseline_path = dir.write("other.json", R"({"subsystems": [{"name": 3}]})").string();
    const memscope::Verdict wrong = memscope::VerdictRecorder(budget, options).evaluate();
    CHECK(wrong.baseline_error.ends_with(
        "subsystems[0] needs a \"name\" string and a \"peak_bytes\" count"));
}

TEST_CASE("without a baseline the document has no baseline section") {
    const memscope::JsonValue doc = read_back(verdict_of({{"Meshes", 1}}));
    CHECK(doc.find("baseline") == nullptr);
}

// SPDX-License-Identifier: MIT
// The converters of tools/: CSV columns and rows, the Chrome trace's structure, malformed
// and cut lines, and a real recording converted.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memscope/budget.hpp>
#include <memscope/json.hpp>
#include <memscope/recording.hpp>
#include <memscope/sampler.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "recording_convert.hpp"
#include "test_support.hpp"

namespace {

using memscope::JsonValue;
using memscope::tools::RecordingFile;

const std::string kHeader =
    R"({"type":"header","format":"memscope-recording","version":1,"memscope_version":"1",)"
    R"("start_unix_ms":1700000000000,"unix_ms":1700000000000,"pid":4242,"program":"game",)"
    R"("interval_ms":1000,"part":0})"
    "\n";

std::string sample(long long unix_ms, const std::string& subsystems) {
    return R"({"type":"sample","sequence":1,"unix_ms":)" + std::to_string(unix_ms) +
           R"(,"seconds":0,"reported_bytes":300,"allocator":{"total_allocated_bytes":5000},)"
           R"("process":{"resident_bytes":9000,"committed_bytes":7000},"subsystems":)" +
           subsystems + "}\n";
}

const std::string kRecording =
    kHeader +
    R"({"type":"budgets","unix_ms":1700000000000,"budgets":{"Chunks":1000}})"
    "\n" +
    sample(1700000000000, R"({"Chunks":100,"Audio":200})") +
    sample(1700000001000, R"({"Chunks":150,"Audio":250,"Mesh, LOD \"0\"":7})") +
    R"({"type":"mark","unix_ms":1700000001500,"name":"boss","frame":90})"
    "\n" +
    R"({"type":"event","sequence":1,"unix_ms":1700000001600,"kind":"warning","level":"warning",)"
    R"("subsystem":"Chunks","current_bytes":900,"budget_bytes":1000,"message":"at 90%"})"
    "\n";

std::vector<std::string> rows_of(const std::string& csv) {
    std::vector<std::string> rows;
    std::istringstream in(csv);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        rows.push_back(line);
    }
    return rows;
}

JsonValue parse(const std::string& text) {
    memscope::JsonError error;
    memscope::JsonReadOptions options;
    options.max_size_bytes = std::size_t{64} << 20;
    auto v = memscope::read_json(text, &error, options);
    INFO(error.message);
    REQUIRE(v.has_value());
    return *v;
}

// Every event of the trace has what chrome://tracing and Perfetto's importer require.
void check_trace_events(const JsonValue& trace) {
    const JsonValue* events = trace.find("traceEvents");
    REQUIRE(events != nullptr);
    REQUIRE(events->array() != nullptr);
    for (const JsonValue& e : *events->array()) {
        REQUIRE(e.object() != nullptr);
        REQUIRE(e.find("name") != nullptr);
        CHECK(e.find("name")->string() != nullptr);
        REQUIRE(e.find("ph") != nullptr);
        const std::string ph = *e.find("ph")->string();
        CHECK(std::set<std::string>{"C", "i", "M"}.count(ph) == 1);
        CHECK(e.find("ts")->number() != nullptr);
        CHECK(e.find("pid")->number() != nullptr);
        CHECK(e.find("tid")->number() != nullptr);
        REQUIRE(e.find("args") != nullptr);
        REQUIRE(e.find("args")->object() != nullptr);
        if (ph == "C") {
            REQUIRE_FALSE(e.find("args")->object()->empty());
            for (const auto& member : *e.find("args")->object())
                CHECK(member.value.number() != nullptr);
        }
        if (ph == "i") CHECK(e.find("s") != nullptr);
    }
}

}  // namespace

TEST_CASE("csv: time, totals, then one column per subsystem in first-seen order") {
    const auto result = memscope::tools::recording_to_csv({{"a.ndjson", kRecording}});
    CHECK(result.errors.empty());
    CHECK(result.warnings.empty());
    CHECK(result.samples == 2);
    const auto rows = rows_of(result.output);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0] ==
          "unix_ms,seconds,tracked_bytes,reported_bytes,resident_bytes,committed_bytes,"
          R"(Chunks,Audio,"Mesh, LOD ""0""")");
    CHECK(rows[1] == "1700000000000,0.000,5000,300,9000,7000,100,200,");
    CHECK(rows[2] == "1700000001000,1.000,5000,300,9000,7000,150,250,7");
}

TEST_CASE("csv: rotated files given in order are one recording") {
    const std::string older = kHeader + sample(1700000000000, R"({"Audio":1})");
    const std::string newer = kHeader + sample(1700000002000, R"({"Chunks":2})");
    const auto result =
        memscope::tools::recording_to_csv({{"r.ndjson.1", older}, {"r.ndjson", newer}});
    const auto rows = rows_of(result.output);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].ends_with(",Audio,Chunks"));
    CHECK(rows[1].ends_with(",1,"));
    CHECK(rows[2].ends_with(",2.000,5000,300,9000,7000,,2"));
}

TEST_CASE("a malformed line is an error naming file:line, skipped; a cut last line warns") {
    const std::string text = kHeader + "{not json\n" + sample(1700000000000, "{}") +
                             R"({"type":"sample","unix_ms":"soon"})"
                             "\n" +
                             R"({"type":"sample","unix_ms":17)";
    const auto result = memscope::tools::recording_to_csv({{"bad.ndjson", text}});
    REQUIRE(result.errors.size() == 2);
    CHECK(result.errors[0].starts_with("bad.ndjson:2:"));
    CHECK(result.errors[1].starts_with("bad.ndjson:4: a sample line needs an integer unix_ms"));
    REQUIRE(result.warnings.size() == 1);
    CHECK(result.warnings[0].starts_with("bad.ndjson:5: the last line is cut short"));
    CHECK(result.samples == 1);
}

TEST_CASE("a file of another format is an error") {
    const auto result = memscope::tools::recording_to_csv(
        {{"x.ndjson", R"({"type":"header","format":"other","version":1})"
                      "\n"}});
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].find("not a memscope recording") != std::string::npos);
}

TEST_CASE("chrome trace: valid JSON, counters per subsystem and totals, instants, metadata") {
    const auto result = memscope::tools::recording_to_chrome_trace({{"a.ndjson", kRecording}});
    CHECK(result.errors.empty());
    const JsonValue trace = parse(result.output);
    check_trace_events(trace);
    std::multiset<std::string> counters;
    std::vector<const JsonValue*> instants;
    const JsonValue* process_name = nullptr;
    for (const JsonValue& e : *trace.find("traceEvents")->array()) {
        const std::string ph = *e.find("ph")->string();
        if (ph == "C") counters.insert(*e.find("name")->string());
        if (ph == "i") instants.push_back(&e);
        if (ph == "M" && *e.find("name")->string() == "process_name") process_name = &e;
    }
    CHECK(counters.count("Chunks") == 2);
    CHECK(counters.count("Audio") == 2);
    CHECK(counters.count("Mesh, LOD \"0\"") == 1);
    CHECK(counters.count("tracked bytes") == 2);
    CHECK(counters.count("reported bytes") == 2);
    CHECK(counters.count("resident bytes") == 2);
    REQUIRE(process_name != nullptr);
    CHECK(process_name->find("pid")->number()->as_uint64() == 4242u);
    CHECK(*process_name->find("args")->find("name")->string() == "game (memscope recording)");
    REQUIRE(instants.size() == 2);
    CHECK(*instants[0]->find("name")->string() == "mark: boss");
    CHECK(instants[0]->find("ts")->number()->as_uint64() == 1700000001500000u);  // microseconds
    CHECK(instants[0]->find("args")->find("frame")->number()->as_uint64() == 90u);
    CHECK(*instants[1]->find("name")->string() == "warning: Chunks");
    CHECK(*instants[1]->find("args")->find("message")->string() == "at 90%");
}

TEST_CASE("a real recording converts to both formats without a complaint") {
    memscope_test::TempDir dir;
    const auto path = dir.path() / "real.ndjson";
    memscope::MemoryBudget budget;
    budget.set_budget("Chunks", 1000);
    memscope::Sampler sampler(budget);
    memscope::RecordingOptions options;
    options.path = path.string();
    memscope::Recorder recorder(budget, sampler, options);
    REQUIRE(recorder.start());
    for (std::size_t bytes : {100, 500, 950}) {
        budget.report("Chunks", bytes, 1);
        sampler.sample_now();
    }
    recorder.mark("done", 3);
    recorder.stop();
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();

    const auto csv = memscope::tools::recording_to_csv({{"real.ndjson", text.str()}});
    CHECK(csv.errors.empty());
    CHECK(csv.warnings.empty());
    const auto rows = rows_of(csv.output);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].ends_with(",Chunks"));
    CHECK(rows[3].ends_with(",950"));

    const auto trace = memscope::tools::recording_to_chrome_trace({{"real.ndjson", text.str()}});
    CHECK(trace.errors.empty());
    check_trace_events(parse(trace.output));
}

// SPDX-License-Identifier: MIT
// Recorder: the lines of a recording, rotation at the size bound, the flush bound, write
// errors, and the MEMSCOPE_RECORD* variables.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memscope/budget.hpp>
#include <memscope/json.hpp>
#include <memscope/options.hpp>
#include <memscope/recording.hpp>
#include <memscope/sampler.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "test_support.hpp"

namespace {

using memscope::JsonValue;

std::vector<std::string> lines_of(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

JsonValue parsed(const std::string& line) {
    memscope::JsonError error;
    auto value = memscope::read_json(line, &error);
    INFO(line);
    INFO(error.message);
    REQUIRE(value.has_value());
    return *value;
}

std::string type_of(const std::string& line) {
    const JsonValue v = parsed(line);
    const JsonValue* type = v.find("type");
    return type != nullptr && type->string() != nullptr ? *type->string() : std::string();
}

std::size_t count_type(const std::vector<std::string>& lines, const std::string& type) {
    std::size_t n = 0;
    for (const std::string& line : lines) n += type_of(line) == type;
    return n;
}

// A budget with two subsystems and a sampler without a thread: tests sample by hand.
struct Session {
    memscope::MemoryBudget budget{[] {
        memscope::BudgetOptions o;
        o.log_events = false;
        return o;
    }()};
    memscope::Sampler sampler{budget, [] {
                                  memscope::SamplerOptions o;
                                  o.detect_leaks = false;
                                  return o;
                              }()};
    Session() {
        budget.set_budget("Chunks", 1000);
        budget.report("Chunks", 100, 1);
        budget.report("Audio", 50, 1);
    }
};

memscope::RecordingOptions options_for(const std::filesystem::path& path) {
    memscope::RecordingOptions o;
    o.path = path.string();
    return o;
}

}  // namespace

TEST_CASE("a recording holds a header, the budgets, every sample, event and mark") {
    memscope_test::TempDir dir;
    const auto path = dir.path() / "session.ndjson";
    Session s;
    memscope::Recorder recorder(s.budget, s.sampler, options_for(path));
    REQUIRE(recorder.start());
    CHECK(recorder.recording());
    s.sampler.sample_now();
    s.budget.report("Chunks", 900, 2);  // past 85% of 1000: a warning event
    s.sampler.sample_now();
    recorder.mark("level2-loaded", 42);
    recorder.flush_now();

    const auto lines = lines_of(path);
    REQUIRE(lines.size() == 6);
    const JsonValue header = parsed(lines[0]);
    CHECK(*header.find("type")->string() == "header");
    CHECK(*header.find("format")->string() == memscope::kRecordingFormat);
    CHECK(header.find("version")->number()->as_uint64() == 1u);
    CHECK(header.find("pid")->number()->as_uint64() == static_cast<std::uint64_t>(::getpid()));
    CHECK(header.find("program")->string() != nullptr);
    CHECK(header.find("start_unix_ms")->number()->as_uint64() > 0u);
    CHECK(header.find("part")->number()->as_uint64() == 0u);

    const JsonValue budgets = parsed(lines[1]);
    CHECK(*budgets.find("type")->string() == "budgets");
    CHECK(budgets.find("budgets")->find("Chunks")->number()->as_uint64() == 1000u);
    REQUIRE(budgets.find("sources") != nullptr);
    CHECK(*budgets.find("sources")->find("Chunks")->string() == "reported");

    CHECK(count_type(lines, "sample") == 2);
    CHECK(count_type(lines, "event") == 1);
    CHECK(count_type(lines, "mark") == 1);
    const JsonValue second = parsed(lines[3]);
    CHECK(second.find("subsystems")->find("Chunks")->number()->as_uint64() == 900u);
    CHECK(second.find("subsystems")->find("Audio")->number()->as_uint64() == 50u);
    CHECK(second.find("allocator")->find("total_allocated_bytes") != nullptr);
    CHECK(second.find("process")->find("resident_bytes") != nullptr);
    const JsonValue event = parsed(lines[4]);
    CHECK(*event.find("kind")->string() == "warning");
    CHECK(*event.find("subsystem")->string() == "Chunks");
    const JsonValue mark = parsed(lines[5]);
    CHECK(*mark.find("name")->string() == "level2-loaded");
    CHECK(mark.find("frame")->number()->as_uint64() == 42u);

    // Nothing new: nothing written. A budget change: one budgets line.
    recorder.flush_now();
    CHECK(lines_of(path).size() == 6);
    s.budget.set_budget("Audio", 4096);
    recorder.flush_now();
    REQUIRE(lines_of(path).size() == 7);
    CHECK(type_of(lines_of(path).back()) == "budgets");
    CHECK(recorder.stats().lines == 7);
}

TEST_CASE("rotation at the size bound: each file starts with its header, keep files kept") {
    memscope_test::TempDir dir;
    const auto path = dir.path() / "r.ndjson";
    Session s;
    auto options = options_for(path);
    options.max_bytes = 4096;
    options.keep = 2;
    memscope::Recorder recorder(s.budget, s.sampler, options);
    REQUIRE(recorder.start());
    for (int i = 0; i < 60; ++i) {  // ~400 bytes a sample: several files
        s.sampler.sample_now();
        if (i % 5 == 0) recorder.flush_now();
    }
    recorder.stop();
    CHECK(recorder.stats().rotations >= 3);

    std::uint64_t previous_part = 0;
    for (const char* name : {"r.ndjson.2", "r.ndjson.1", "r.ndjson"}) {
        const auto file = dir.path() / name;
        CAPTURE(name);
        REQUIRE(std::filesystem::exists(file));
        CHECK(std::filesystem::file_size(file) <= 4096);
        const auto lines = lines_of(file);
        REQUIRE(lines.size() > 2);
        const JsonValue header = parsed(lines[0]);
        CHECK(*header.find("type")->string() == "header");
        const std::uint64_t part = *header.find("part")->number()->as_uint64();
        if (previous_part != 0) CHECK(part == previous_part + 1);
        previous_part = part;
        CHECK(type_of(lines[1]) == "budgets");
        CHECK(type_of(lines[2]) == "sample");
    }
    CHECK_FALSE(std::filesystem::exists(dir.path() / "r.ndjson.3"));
}

TEST_CASE("a new recording keeps the file of the previous run as path.1") {
    memscope_test::TempDir dir;
    const auto path = dir.path() / "run.ndjson";
    dir.write("run.ndjson", "previous run\n");
    Session s;
    memscope::Recorder recorder(s.budget, s.sampler, options_for(path));
    REQUIRE(recorder.start());
    recorder.stop();
    CHECK(lines_of(dir.path() / "run.ndjson.1") == std::vector<std::string>{"previous run"});
    CHECK(type_of(lines_of(path).at(0)) == "header");
}

TEST_CASE("what is recorded reaches the file within the flush interval, without flush_now") {
    memscope_test::TempDir dir;
    const auto path = dir.path() / "live.ndjson";
    Session s;
    memscope::Recorder recorder(s.budget, s.sampler, options_for(path));
    CHECK(recorder.options().flush_interval == std::chrono::seconds(1));
    REQUIRE(recorder.start());
    const auto writes_before = recorder.stats().writes;
    const auto sampled = std::chrono::steady_clock::now();
    s.sampler.sample_now();
    recorder.mark("spike");
    REQUIRE(memscope_test::wait_until(
        [&] {
            const auto lines = lines_of(path);
            return count_type(lines, "sample") == 1 && count_type(lines, "mark") == 1;
        },
        std::chrono::seconds(5), std::chrono::milliseconds(20)));
    // One interval, plus room for a slow machine.
    CHECK(std::chrono::steady_clock::now() - sampled < std::chrono::milliseconds(1500));
    CHECK(recorder.stats().writes == writes_before + 1);
}

TEST_CASE("the flush interval is at most one second") {
    Session s;
    memscope::RecordingOptions o;
    o.path = "unused";
    o.flush_interval = std::chrono::minutes(1);
    memscope::Recorder recorder(s.budget, s.sampler, o);
    CHECK(recorder.options().flush_interval == std::chrono::seconds(1));
}

TEST_CASE("a path that cannot be opened: start() says why once, the game goes on") {
    memscope_test::TempDir dir;
    memscope_test::LogCapture log;
    Session s;
    const auto path = dir.path() / "missing-dir" / "x.ndjson";
    memscope::Recorder recorder(s.budget, s.sampler, options_for(path));
    CHECK_FALSE(recorder.start());
    CHECK_FALSE(recorder.recording());
    CHECK(recorder.error().find(path.string()) != std::string::npos);
    CHECK(recorder.error().find("No such file or directory") != std::string::npos);
    CHECK(log.count("recording to", memscope::LogLevel::error) == 1);
    recorder.mark("ignored");
    recorder.flush_now();
    s.sampler.sample_now();
    recorder.stop();
    CHECK(log.count("recording to") == 1);
}

TEST_CASE("a write error (a full disk) ends the recording with one message") {
    memscope_test::LogCapture log;
    Session s;
    memscope::RecordingOptions o;
    o.path = "/dev/full";  // every write fails with ENOSPC; a device is never rotated
    memscope::Recorder recorder(s.budget, s.sampler, o);
    CHECK_FALSE(recorder.start());
    CHECK(recorder.error().find("No space left on device") != std::string::npos);
    CHECK(log.count("recording to /dev/full stopped", memscope::LogLevel::error) == 1);
    CHECK(std::filesystem::exists("/dev/full"));
}

TEST_CASE("MEMSCOPE_RECORD, MEMSCOPE_RECORD_MAX_BYTES, MEMSCOPE_RECORD_KEEP") {
    memscope_test::LogCapture log;
    {
        memscope_test::ScopedEnv record("MEMSCOPE_RECORD", "play.ndjson");
        memscope_test::ScopedEnv max("MEMSCOPE_RECORD_MAX_BYTES", "16 MiB");
        memscope_test::ScopedEnv keep("MEMSCOPE_RECORD_KEEP", "5");
        const auto env = memscope::read_environment();
        CHECK(env.record == "play.ndjson");
        CHECK(env.record_max_bytes == std::size_t{16} << 20);
        CHECK(env.record_keep == 5u);
        CHECK(log.warnings().empty());
    }
    {
        memscope_test::ScopedEnv max("MEMSCOPE_RECORD_MAX_BYTES", "100");
        memscope_test::ScopedEnv keep("MEMSCOPE_RECORD_KEEP", "-1");
        const auto env = memscope::read_environment();
        CHECK_FALSE(env.record_max_bytes);
        CHECK_FALSE(env.record_keep);
        CHECK(log.count("MEMSCOPE_RECORD_MAX_BYTES=\"100\" is not valid") == 1);
        CHECK(log.count("MEMSCOPE_RECORD_KEEP=\"-1\" is not valid") == 1);
    }
}

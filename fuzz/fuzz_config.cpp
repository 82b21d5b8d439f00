// SPDX-License-Identifier: MIT
// Fuzz target: the configuration file, apply_config_text() on a MemoryBudget, and under it
// the JSON reader (lib/src/json_reader.cpp), with comments as the config file reads it and
// strict as request bodies are read.
//
// Input: the bytes are the file's text, as is.
//
// Checks, beyond "no crash, no sanitizer report, no leak":
//   - a refused text leaves the budget exactly as it was (every field of every row, the
//     totals, the threshold, the event list), and its error is one line of UTF-8 that
//     starts with the file name, logged as is;
//   - an accepted text set exactly the budgets, total and threshold it names;
//   - everything logged is one line of UTF-8 (a name cannot forge a log line);
//   - nlohmann/json, called directly, is the oracle for the reader: what the reader accepts
//     nlohmann accepts, with the same strings and numbers and every value where its
//     position says; what it refuses that nlohmann accepts is a duplicate key, nesting
//     beyond 64 or a NUL byte; every refusal is one line of UTF-8 in the reader's words.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "json_checks.hpp"
#include "memscope/budget.hpp"
#include "memscope/config_file.hpp"
#include "memscope/format.hpp"
#include "memscope/json.hpp"
#include "memscope/log.hpp"
#include "memscope/units.hpp"

namespace {

using memscope::JsonReadOptions;
using memscope::JsonValue;
using memscope::MemoryBudget;
using memscope::fuzz::is_one_line;
using memscope::fuzz::is_valid_utf8;
using memscope::fuzz::printable;

constexpr std::string_view kSource = "fuzz.json";
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr JsonReadOptions kConfigJson{.allow_comments = true};  // as config_file.cpp reads

// Every message logged during one input.
std::vector<std::string>& logged() {
    static std::vector<std::string> lines;
    return lines;
}

// A budget in a known state that is not the default, with a clock that never moves so
// that its time-over-budget figures cannot change between two readings.
struct Fixture {
    static memscope::BudgetOptions options() {
        memscope::BudgetOptions o;
        o.clock = [] { return std::chrono::steady_clock::time_point{} + std::chrono::hours(1); };
        return o;
    }
    MemoryBudget budget{options()};
    Fixture() {
        budget.configure_default_budgets();
        budget.set_warning_threshold(0.9f);
        budget.report("Chunks", 900 * kMiB, 12);  // warning: the events list is not empty
        budget.report("Audio", 10 * kMiB, 3);
        budget.report("Scripts", 5 * kMiB, 1);  // unbudgeted
    }
};

// Everything a reader of the budget can see.
struct State {
    std::vector<memscope::SubsystemSnapshot> rows;
    memscope::BudgetTotals totals;
    float threshold = 0;
    std::uint64_t last_event = 0;
    std::size_t event_count = 0;
};

State capture(const MemoryBudget& b) {
    return State{b.snapshot(), b.totals(), b.warning_threshold(), b.last_event_sequence(),
                 b.events(0).size()};
}

// The first difference between two states, or empty. Fields come from the same X-macro
// lists as the structs, so a field added later is compared too.
std::string difference(const State& a, const State& b) {
    if (a.rows.size() != b.rows.size()) return "subsystem count";
    for (std::size_t i = 0; i < a.rows.size(); ++i) {
        const auto& x = a.rows[i];
        const auto& y = b.rows[i];
        if (x.name != y.name) return "subsystem name " + x.name;
        if (x.status != y.status) return x.name + ".status";
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (x.memory.field != y.memory.field) return x.name + "." #field;
        MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (x.field != y.field) return x.name + "." #field;
        MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    }
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (a.totals.field != b.totals.field) return "totals." #field;
    MEMSCOPE_BUDGET_TOTALS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    if (a.totals.status != b.totals.status) return "totals.status";
    if (a.threshold != b.threshold) return "warning threshold";
    if (a.last_event != b.last_event || a.event_count != b.event_count) return "events";
    return {};
}

// The bytes a size value of an accepted file stands for.
std::size_t size_of(const JsonValue& v) {
    if (const auto* n = v.number()) return static_cast<std::size_t>(n->as_uint64().value_or(0));
    return static_cast<std::size_t>(memscope::parse_size(*v.string()).value_or(0));
}

// An accepted file: each key it names took effect.
void check_applied(const MemoryBudget& b, std::string_view text) {
    const auto root = memscope::read_json(text, nullptr, kConfigJson);
    MEMSCOPE_FUZZ_CHECK(root && root->object(), "accepted, but not a JSON object");
    if (const JsonValue* t = root->find("warning_threshold")) {
        // set_warning_threshold() clamps what a float cannot tell from 0 to 1e-6.
        const float want = std::clamp(static_cast<float>(t->number()->value), 1e-6f, 1.0f);
        MEMSCOPE_FUZZ_CHECK(b.warning_threshold() == want, "warning_threshold not applied");
    }
    if (const JsonValue* t = root->find("total_budget"))
        MEMSCOPE_FUZZ_CHECK(b.total_budget_bytes() == size_of(*t), "total_budget not applied");
    if (const JsonValue* budgets = root->find("budgets")) {
        for (const auto& m : *budgets->object()) {
            const auto row = b.subsystem(m.key);
            MEMSCOPE_FUZZ_CHECK(row && row->budget_bytes == size_of(m.value),
                                "budget of \"" + printable(m.key) + "\" not applied");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool sink_set = [] {
        memscope::set_log_sink(
            [](memscope::LogLevel, std::string_view message) { logged().emplace_back(message); });
        return true;
    }();
    static_cast<void>(sink_set);
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    Fixture fixture;
    const State before = capture(fixture.budget);
    logged().clear();
    const memscope::ConfigResult result =
        memscope::apply_config_text(fixture.budget, text, kSource);

    for (const std::string& line : logged())
        MEMSCOPE_FUZZ_CHECK(is_one_line(line) && is_valid_utf8(line),
                            "logged more than one line of UTF-8: " + printable(line));
    MEMSCOPE_FUZZ_CHECK(result.loaded == result.error.empty(), "loaded and error disagree");
    MEMSCOPE_FUZZ_CHECK(result.path == kSource, "path is not the source name");
    if (result.loaded) {
        check_applied(fixture.budget, text);
    } else {
        const std::string changed = difference(before, capture(fixture.budget));
        MEMSCOPE_FUZZ_CHECK(changed.empty(), "a refused text changed " + changed);
        MEMSCOPE_FUZZ_CHECK(
            result.error.starts_with(std::string(kSource) + ":"),
            "the error does not start with the file name: " + printable(result.error));
        MEMSCOPE_FUZZ_CHECK(!logged().empty() && logged().back() == result.error,
                            "the error was not logged");
    }
    memscope::fuzz::check_reader(text, kConfigJson);
    memscope::fuzz::check_reader(text, JsonReadOptions{});
    return 0;
}

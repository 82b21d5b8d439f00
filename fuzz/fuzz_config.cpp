// Fuzz target: the configuration file, apply_config_text() on a MemoryBudget, and under it
// the strict JSON reader (lib/src/json_reader.*).
//
// Input: the bytes are the file's text, as is.
//
// Checks, beyond "no crash, no sanitizer report, no leak":
//   - a refused text leaves the budget exactly as it was (every field of every row, the
//     totals, the threshold, the event list), and its error is one line of UTF-8 that
//     starts with the file name, logged as is;
//   - an accepted text set exactly the budgets, total and threshold it names;
//   - everything logged is one line of UTF-8 (a name cannot forge a log line);
//   - where nlohmann/json is built (the server is on), it is the oracle for the reader:
//     what the reader accepts nlohmann accepts, with the same strings and numbers; what it
//     refuses that nlohmann accepts is a duplicate key or nesting beyond 64.

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
#include "json_reader.hpp"
#include "memscope/budget.hpp"
#include "memscope/config_file.hpp"
#include "memscope/units.hpp"
#include "memscope/log.hpp"

#if MEMSCOPE_FUZZ_HAVE_NLOHMANN
#include <nlohmann/json.hpp>
#endif

namespace {

using memscope::MemoryBudget;
using memscope::detail::JsonValue;
using memscope::fuzz::is_one_line;
using memscope::fuzz::is_valid_utf8;
using memscope::fuzz::printable;

constexpr std::string_view kSource = "fuzz.json";
constexpr std::size_t kMiB = std::size_t{1} << 20;

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
    const auto root = memscope::detail::read_json(text);
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

void check_error_position(const memscope::detail::JsonError& e, std::string_view text) {
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    MEMSCOPE_FUZZ_CHECK(e.position.line >= 1 && e.position.line <= lines && e.position.column >= 1,
                        "error position out of the text: line " + std::to_string(e.position.line));
    MEMSCOPE_FUZZ_CHECK(!e.message.empty() && is_one_line(e.message) && is_valid_utf8(e.message),
                        "bad reader message: " + printable(e.message));
    MEMSCOPE_FUZZ_CHECK(is_valid_utf8(e.path), "bad reader path: " + printable(e.path));
}

#if MEMSCOPE_FUZZ_HAVE_NLOHMANN
using nlohmann::json;

// The reader's DOM as JSON text: numbers as written, strings re-escaped.
void serialize(const JsonValue& v, std::string& out) {
    const auto string = [&out](const std::string& s) {
        out += '"';
        for (char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned char>(c));
                out += buf;
            } else {
                out += c;
            }
        }
        out += '"';
    };
    if (v.type() == memscope::detail::JsonType::null) {
        out += "null";
    } else if (const bool* b = v.boolean()) {
        out += *b ? "true" : "false";
    } else if (const auto* n = v.number()) {
        out += n->text;
    } else if (const std::string* s = v.string()) {
        string(*s);
    } else if (const auto* a = v.array()) {
        out += '[';
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (i > 0) out += ',';
            serialize((*a)[i], out);
        }
        out += ']';
    } else {
        out += '{';
        bool first = true;
        for (const auto& m : *v.object()) {
            if (!first) out += ',';
            first = false;
            string(m.key);
            out += ':';
            serialize(m.value, out);
        }
        out += '}';
    }
}

// The reader's numbers against nlohmann's reading of the same text.
void compare_numbers(const JsonValue& v, const json& j) {
    if (const auto* n = v.number()) {
        const std::string what = "number " + printable(n->text) + ": ";
        if (n->magnitude) {
            const double exact = static_cast<double>(*n->magnitude);
            MEMSCOPE_FUZZ_CHECK(n->integral && n->value == (n->negative ? -exact : exact),
                                what + "value and magnitude disagree");
        }
        if (j.is_number_unsigned()) {
            MEMSCOPE_FUZZ_CHECK(n->as_uint64() == j.get<std::uint64_t>(), what + "not exact");
        } else if (j.is_number_integer()) {
            const auto i = j.get<std::int64_t>();
            const std::uint64_t magnitude =
                i < 0 ? ~static_cast<std::uint64_t>(i) + 1 : static_cast<std::uint64_t>(i);
            // nlohmann reads "-0" as the integer 0; the reader keeps its sign.
            MEMSCOPE_FUZZ_CHECK(
                n->magnitude == magnitude && (i < 0 ? n->negative : magnitude == 0 || !n->negative),
                what + "not exact");
        } else {
            const double d = j.get<double>();
            if (std::isnormal(d) || std::isinf(d))
                MEMSCOPE_FUZZ_CHECK(n->value == d, what + "reads " + std::to_string(n->value) +
                                                       ", nlohmann " + std::to_string(d));
        }
    } else if (const auto* a = v.array()) {
        for (std::size_t i = 0; i < a->size(); ++i) compare_numbers((*a)[i], j[i]);
    } else if (const auto* o = v.object()) {
        for (const auto& m : *o) compare_numbers(m.value, j.at(m.key));
    }
}

// Deepest nesting of arrays and objects in a text nlohmann accepted.
std::size_t nesting(std::string_view text) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

void check_reader_against_nlohmann(std::string_view text) {
    memscope::detail::JsonError error;
    const auto dom = memscope::detail::read_json(text, &error);
    // nlohmann's lexer takes a NUL byte for the end of the input, and so accepts
    // "{}\0junk"; a NUL can never be in JSON text, so the reader must refuse it.
    if (text.find('\0') != std::string_view::npos) {
        MEMSCOPE_FUZZ_CHECK(!dom, "the reader accepts a NUL byte");
        check_error_position(error, text);
        return;
    }
    const bool accepted = json::accept(text.begin(), text.end());
    if (dom) {
        if (!accepted && memscope::fuzz::has_infinite_number(*dom)) return;
        MEMSCOPE_FUZZ_CHECK(accepted, "the reader accepts what nlohmann refuses");
        std::string ours;
        serialize(*dom, ours);
        json mine, theirs;
        try {
            mine = json::parse(ours);
        } catch (const json::exception& e) {
            memscope::fuzz::fail(__FILE__, __LINE__, "parse(serialized DOM)",
                                 std::string("the reader's DOM is not JSON again: ") + e.what());
        }
        theirs = json::parse(text.begin(), text.end());
        MEMSCOPE_FUZZ_CHECK(mine == theirs, "the reader's DOM differs from nlohmann's");
        compare_numbers(*dom, theirs);
        return;
    }
    check_error_position(error, text);
    if (!accepted) return;
    using Kind = memscope::detail::JsonErrorKind;
    MEMSCOPE_FUZZ_CHECK(error.kind == Kind::duplicate_key || error.kind == Kind::too_deep,
                        "the reader refuses JSON nlohmann accepts: " + printable(error.message));
    if (error.kind == Kind::too_deep)
        MEMSCOPE_FUZZ_CHECK(nesting(text) > memscope::detail::JsonReadOptions{}.max_depth,
                            "too_deep at depth " + std::to_string(nesting(text)));
}
#else
void check_reader_against_nlohmann(std::string_view text) {
    memscope::detail::JsonError error;
    if (!memscope::detail::read_json(text, &error)) check_error_position(error, text);
}
#endif

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
    check_reader_against_nlohmann(text);
    return 0;
}

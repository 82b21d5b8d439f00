// SPDX-License-Identifier: MIT
// The budget verdict: pass/fail of a run against its memory budgets and a baseline run,
// and its JSON report.

#include "memscope/verdict.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>

#include "memscope/budget.hpp"
#include "memscope/format.hpp"
#include "memscope/internal.hpp"
#include "memscope/json.hpp"

namespace memscope {
namespace {

// A verdict document holds a line per subsystem and the budget's recent events: far below
// this, which only keeps a wrong file (a log, a core dump) from being read whole.
constexpr std::size_t kMaxBaselineBytes = std::size_t{64} << 20;

// Seconds, milliseconds and ratios to the millionth: the precision the figures have, and
// a file a person can read ("16.666667", not "16.666666666666668").
double micro(double x) {
    return std::isfinite(x) ? std::round(x * 1e6) / 1e6 : x;
}

// "2026-11-21T07:25:48.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[96];  // room for any int the compiler imagines in each field
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

double ratio(std::size_t part, std::size_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

std::string percent(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", fraction * 100.0);
    return buf;
}

void write_line(JsonWriter& w, const VerdictLine& line) {
    w.begin_object();
    w.key("name").value(line.name);
    w.key("current_bytes").value(line.current_bytes);
    w.key("current").value(format_memory(line.current_bytes));
    w.key("peak_bytes").value(line.peak_bytes);
    w.key("peak").value(format_memory(line.peak_bytes));
    w.key("budget_bytes").value(line.budget_bytes);
    w.key("budget").value(line.budget_bytes > 0 ? format_memory(line.budget_bytes)
                                                : std::string("N/A"));
    w.key("peak_usage").value(micro(line.peak_usage));
    w.key("seconds_over_threshold").value(micro(line.seconds_over_threshold));
    w.key("seconds_over_budget").value(micro(line.seconds_over_budget));
    w.key("warning_events").value(line.warning_events);
    w.key("over_budget_events").value(line.over_budget_events);
    w.key("leak_suspect_events").value(line.leak_suspect_events);
    w.key("exceeded").value(line.exceeded);
    w.end_object();
}

void write_frame_times(JsonWriter& w, const FrameTimes::Summary& s) {
    w.begin_object();
    w.key("frames").value(s.frames);
    w.key("mean_ms").value(micro(s.mean_ms));
    w.key("p50_ms").value(micro(s.p50_ms));
    w.key("p99_ms").value(micro(s.p99_ms));
    w.key("worst_ms").value(micro(s.worst_ms));
    w.key("worst_frame").value(s.worst_frame);
    w.key("budget_ms").value(micro(FrameTimes::kFrameBudgetMs));
    w.key("over_budget_frames").value(s.over_budget_frames);
    // Per bucket, not cumulative: two readings subtract into the frames between them.
    w.key("histogram").begin_array();
    for (const FrameTimes::Bucket& b : s.histogram) {
        w.begin_object();
        w.key("le_ms").value(micro(b.le_ms));  // null: the last, unbounded bucket
        w.key("count").value(b.count);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

void write_event(JsonWriter& w, const BudgetEvent& e) {
    w.begin_object();
    w.key("sequence").value(e.sequence);
    w.key("time").value(iso8601_utc(e.time));
    w.key("kind").value(to_string(e.kind));
    w.key("level").value(to_string(e.level));
    w.key("subsystem").value(e.subsystem);
    w.key("current_bytes").value(e.current_bytes);
    w.key("budget_bytes").value(e.budget_bytes);
    if (e.kind == EventKind::leak_suspect || e.kind == EventKind::forecast)
        w.key("slope_bytes_per_second").value(micro(e.slope_bytes_per_second));
    if (e.kind == EventKind::forecast) w.key("forecast_seconds").value(micro(e.forecast_seconds));
    if (e.kind == EventKind::frame_over_budget) w.key("frame").value(e.frame);
    w.key("message").value(e.message);
    w.end_object();
}

// Present only when a baseline was given, so that a document without one keeps its keys.
void write_baseline(JsonWriter& w, const Verdict& v, const VerdictOptions& o) {
    w.key("baseline").begin_object();
    w.key("source").value(o.baseline_json.empty() ? o.baseline_path : std::string("(text)"));
    w.key("tolerance").value(micro(o.baseline_tolerance));
    w.key("tolerance_bytes").value(o.baseline_tolerance_bytes);
    w.key("error");
    if (v.baseline_error.empty())
        w.null();
    else
        w.value(v.baseline_error);
    w.key("notes").begin_array();
    for (const std::string& n : v.notes) w.value(n);
    w.end_array();
    w.key("subsystems").begin_array();
    for (const BaselineLine& b : v.baseline) {
        w.begin_object();
        w.key("name").value(b.name);
        w.key("baseline_peak_bytes").value(b.baseline_peak_bytes);
        w.key("peak_bytes").value(b.peak_bytes);
        w.key("tolerance_bytes").value(b.tolerance_bytes);
        w.key("status").value(to_string(b.status));
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

// Reads the subsystem peaks of an earlier verdict document into `peaks`. Returns why the
// document cannot serve as a baseline, or nothing.
std::string read_baseline(std::string_view text, const std::string& source,
                          std::map<std::string, std::size_t, std::less<>>& peaks) {
    JsonError e;
    const auto doc = read_json(text, &e, {.max_depth = 16, .max_size_bytes = kMaxBaselineBytes});
    if (!doc)
        return source + " is not JSON: " + std::to_string(e.position.line) + ":" +
               std::to_string(e.position.column) + ": " + e.message;
    const JsonValue* rows = doc->find("subsystems");
    if (rows == nullptr || rows->array() == nullptr)
        return source + " is not a verdict document: it has no \"subsystems\" array";
    for (std::size_t i = 0; i < rows->array()->size(); ++i) {
        const JsonValue& row = (*rows->array())[i];
        const JsonValue* name = row.find("name");
        const JsonValue* peak = row.find("peak_bytes");
        const auto bytes = peak && peak->number() ? peak->number()->as_uint64() : std::nullopt;
        if (name == nullptr || name->string() == nullptr || !bytes)
            return source + ": subsystems[" + std::to_string(i) +
                   "] needs a \"name\" string and a \"peak_bytes\" count";
        peaks[*name->string()] = static_cast<std::size_t>(*bytes);
    }
    return {};
}

// "20%" of the change from `base` to `peak`, or "" when the baseline peak was zero.
std::string change_text(std::size_t base, std::size_t peak) {
    if (base == 0) return "";
    const double d = static_cast<double>(peak > base ? peak - base : base - peak);
    return percent(d / static_cast<double>(base)) + " ";
}

}  // namespace

VerdictRecorder::VerdictRecorder(const MemoryBudget& budget, VerdictOptions options)
    : budget_(budget), options_(std::move(options)) {
    has_baseline_ = !options_.baseline_json.empty() || !options_.baseline_path.empty();
    if (!options_.baseline_json.empty()) {
        baseline_error_ = read_baseline(options_.baseline_json, "the baseline", baseline_peaks_);
    } else if (!options_.baseline_path.empty()) {
        const std::string source = "baseline '" + options_.baseline_path + "'";
        std::string text;
        const detail::FileRead r =
            detail::read_small_file(options_.baseline_path, kMaxBaselineBytes, text);
        if (r.too_large)
            baseline_error_ = source + " is larger than " + format_memory(kMaxBaselineBytes);
        else if (!r.ok)
            baseline_error_ = source + " cannot be read: " + std::strerror(r.error_code);
        else
            baseline_error_ = read_baseline(text, source, baseline_peaks_);
    }
}

void VerdictRecorder::poll() {
    std::lock_guard lock(mutex_);
    poll_locked();
}

void VerdictRecorder::poll_locked() {
    const auto fresh = budget_.events(last_sequence_);
    for (const BudgetEvent& e : fresh) {
        // A gap in the sequence numbers: the budget's list overflowed between two polls.
        if (e.sequence > last_sequence_ + 1) missed_events_ += e.sequence - last_sequence_ - 1;
        last_sequence_ = e.sequence;
        Counts& c = counts_[e.subsystem];
        switch (e.kind) {
            case EventKind::warning:
                ++c.warning;
                break;
            case EventKind::over_budget:
                ++c.over_budget;
                break;
            case EventKind::leak_suspect:
                ++c.leak_suspect;
                break;
            case EventKind::recovered:
            case EventKind::forecast:           // a prediction: the crossing, if it comes, counts
            case EventKind::frame_over_budget:  // rate-limited: frame_stats() counts them all
                break;
        }
    }
}

void VerdictRecorder::set_progress(std::uint64_t frames, double simulated_seconds) {
    std::lock_guard lock(mutex_);
    frames_ = frames;
    simulated_seconds_ = simulated_seconds;
}

void VerdictRecorder::record_frame(std::uint64_t frame, std::chrono::nanoseconds work,
                                   std::chrono::nanoseconds cpu_wait) {
    std::lock_guard lock(mutex_);
    frame_times_.add(frame, work);
    frame_times_without_cpu_wait_.add(
        frame, work > cpu_wait ? work - cpu_wait : std::chrono::nanoseconds(0));
}

FrameTimes::Summary VerdictRecorder::frame_times() const {
    std::lock_guard lock(mutex_);
    return frame_times_.summary();
}

FrameTimes::Summary VerdictRecorder::frame_times_without_cpu_wait() const {
    std::lock_guard lock(mutex_);
    return frame_times_without_cpu_wait_.summary();
}

Verdict VerdictRecorder::evaluate() {
    std::lock_guard lock(mutex_);
    poll_locked();

    Verdict v;
    v.program = options_.program;
    v.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count();
    collect_lines(v);
    judge_budgets(v);
    judge_frames(v);
    judge_baseline(v);
    v.pass = v.failures.empty();
    write_document(v);
    return v;
}

void VerdictRecorder::collect_lines(Verdict& v) const {
    auto counted = [&](VerdictLine& line) {
        if (const auto it = counts_.find(line.name); it != counts_.end()) {
            line.warning_events = it->second.warning;
            line.over_budget_events = it->second.over_budget;
            line.leak_suspect_events = it->second.leak_suspect;
        }
        line.peak_usage = ratio(line.peak_bytes, line.budget_bytes);
        line.exceeded = (line.budget_bytes > 0 && line.peak_bytes > line.budget_bytes) ||
                        line.over_budget_events > 0 || line.seconds_over_budget > 0.0;
    };
    for (const SubsystemSnapshot& row : budget_.snapshot()) {
        VerdictLine line;
        line.name = row.name;
        line.current_bytes = row.memory.current_bytes;
        line.peak_bytes = row.memory.peak_bytes;
        line.budget_bytes = row.memory.budget_bytes;
        line.seconds_over_threshold = row.seconds_over_threshold;
        line.seconds_over_budget = row.seconds_over_budget;
        counted(line);
        v.subsystems.push_back(std::move(line));
    }
    const BudgetTotals totals = budget_.totals();
    v.total.name = std::string(kTotalName);
    v.total.current_bytes = totals.current_bytes;
    v.total.peak_bytes = totals.peak_bytes;
    v.total.budget_bytes = totals.budget_bytes;
    v.total.seconds_over_threshold = totals.seconds_over_threshold;
    v.total.seconds_over_budget = totals.seconds_over_budget;
    counted(v.total);
}

void VerdictRecorder::judge_budgets(Verdict& v) const {
    std::string leaks;  // the leak rule's failure, when fail_on_leak
    auto judge = [&](VerdictLine& line, const std::string& who) {
        if (line.exceeded) {
            line.failure = who + " exceeded its budget: peak " + format_memory(line.peak_bytes) +
                           " of " + format_memory(line.budget_bytes) + " (" +
                           percent(line.peak_usage) + ")";
            if (line.seconds_over_budget > 0.0)
                line.failure += ", " + format_seconds(line.seconds_over_budget) + " over budget";
            v.failures.push_back(line.failure);
        }
        if (options_.fail_on_leak && line.leak_suspect_events > 0) {
            std::string s = who + " is a leak suspect (" +
                            std::to_string(line.leak_suspect_events) + " event" +
                            (line.leak_suspect_events == 1 ? ")" : "s)");
            leaks += (leaks.empty() ? "" : "; ") + s;
            v.failures.push_back(std::move(s));
        }
    };
    for (VerdictLine& line : v.subsystems) judge(line, line.name);
    judge(v.total, "the total");
    if (options_.fail_on_leak) v.rules.push_back({"no leak suspicion", std::move(leaks), false});
}

// A frame budget is a hard figure, like a budget: one rule each, failed by any frame over.
void VerdictRecorder::judge_frames(Verdict& v) const {
    const FrameStats stats = budget_.frame_stats();
    for (const FrameBudgetStatus& b : stats.budgets) {
        VerdictRule rule{"frame budget: " + b.name, {}, false};
        if (b.frames_over > 0) {
            std::string limit;
            if (b.budget.max_allocations != 0)
                limit = std::to_string(b.budget.max_allocations) + " allocations";
            if (b.budget.max_bytes != 0)
                limit += (limit.empty() ? "" : " or ") +
                         format_memory(static_cast<std::size_t>(b.budget.max_bytes));
            rule.failure = (b.name == kTotalName ? std::string("the total") : b.name) +
                           " broke its frame budget of " + limit + " in " +
                           std::to_string(b.frames_over) +
                           (b.frames_over == 1 ? " frame" : " frames") + " (last: frame " +
                           std::to_string(b.last_frame_over) + ")";
            v.failures.push_back(rule.failure);
        }
        v.rules.push_back(std::move(rule));
    }
}

void VerdictRecorder::judge_baseline(Verdict& v) const {
    if (!has_baseline_) return;
    if (!baseline_error_.empty()) {
        v.baseline_error = baseline_error_;
        v.failures.push_back(baseline_error_);
        v.rules.push_back({"baseline", baseline_error_, true});
        return;
    }
    const double fraction = std::isfinite(options_.baseline_tolerance)
                                ? std::max(0.0, options_.baseline_tolerance)
                                : 0.0;
    for (const VerdictLine& line : v.subsystems) {
        BaselineLine b;
        b.name = line.name;
        b.peak_bytes = line.peak_bytes;
        VerdictRule rule;
        rule.name = "baseline: " + line.name;
        const auto it = baseline_peaks_.find(line.name);
        if (it == baseline_peaks_.end()) {
            b.status = BaselineStatus::added;
            v.notes.push_back(line.name + " is new: not in the baseline (peak " +
                              format_memory(line.peak_bytes) + ")");
        } else {
            const std::size_t base = it->second;
            b.baseline_peak_bytes = base;
            b.tolerance_bytes = std::max(
                options_.baseline_tolerance_bytes,
                static_cast<std::size_t>(std::llround(fraction * static_cast<double>(base))));
            const std::string figures =
                format_memory(line.peak_bytes) + " against " + format_memory(base);
            if (line.peak_bytes > base && line.peak_bytes - base > b.tolerance_bytes) {
                b.status = BaselineStatus::rose;
                rule.failure = line.name + " peak rose " + change_text(base, line.peak_bytes) +
                               "over the baseline: " + figures + " (tolerance " +
                               format_memory(b.tolerance_bytes) + ")";
                v.failures.push_back(rule.failure);
            } else if (line.peak_bytes < base && base - line.peak_bytes > b.tolerance_bytes) {
                b.status = BaselineStatus::fell;
                v.notes.push_back(line.name + " peak fell " + change_text(base, line.peak_bytes) +
                                  "below the baseline: " + figures + "; lower the baseline to " +
                                  format_memory(line.peak_bytes));
            }
        }
        v.baseline.push_back(std::move(b));
        v.rules.push_back(std::move(rule));
    }
    for (const auto& entry : baseline_peaks_) {
        const std::string& name = entry.first;
        const bool present = std::any_of(v.subsystems.begin(), v.subsystems.end(),
                                         [&](const VerdictLine& l) { return l.name == name; });
        if (!present)
            v.notes.push_back(name + " is in the baseline (peak " + format_memory(entry.second) +
                              ") but not in this run");
    }
}

void VerdictRecorder::write_document(Verdict& v) const {
    const float threshold = budget_.warning_threshold();
    std::string json;
    JsonWriter w(json, 2);
    w.begin_object();
    w.key("version").value(1);
    w.key("program").value(options_.program);
    w.key("generated_at").value(iso8601_utc(std::chrono::system_clock::now()));
    w.key("frames").value(frames_);
    w.key("simulated_seconds").value(micro(simulated_seconds_));
    w.key("frame_time");
    write_frame_times(w, frame_times_.summary());
    w.key("frame_time_without_cpu_wait");
    write_frame_times(w, frame_times_without_cpu_wait_.summary());
    w.key("warning_threshold").value(std::round(static_cast<double>(threshold) * 1e4) / 1e4);
    w.key("fail_on_leak").value(options_.fail_on_leak);
    w.key("pass").value(v.pass);
    w.key("failures").begin_array();
    for (const std::string& f : v.failures) w.value(f);
    w.end_array();
    if (has_baseline_) write_baseline(w, v, options_);
    const FrameStats frame_stats = budget_.frame_stats();
    w.key("frame_budgets").begin_array();
    for (const FrameBudgetStatus& b : frame_stats.budgets) {
        w.begin_object();
        w.key("name").value(b.name);
        w.key("max_allocations").value(b.budget.max_allocations);
        w.key("max_bytes").value(b.budget.max_bytes);
        w.key("frames_over").value(b.frames_over);
        w.key("last_frame_over").value(b.last_frame_over);
        w.end_object();
    }
    w.end_array();
    w.key("subsystems").begin_array();
    for (const VerdictLine& line : v.subsystems) write_line(w, line);
    w.end_array();
    w.key("total");
    write_line(w, v.total);
    w.key("leak_suspects").begin_array();
    for (const VerdictLine& line : v.subsystems)
        if (line.leak_suspect_events > 0) w.value(line.name);
    w.end_array();
    // The most recent events the budget kept; the counts above include older ones.
    w.key("events_missed").value(missed_events_);
    w.key("events").begin_array();
    for (const BudgetEvent& e : budget_.events()) write_event(w, e);
    w.end_array();
    w.end_object();
    v.json = std::move(json);
    v.json += '\n';
}

const char* to_string(BaselineStatus status) noexcept {
    switch (status) {
        case BaselineStatus::within:
            return "within";
        case BaselineStatus::rose:
            return "rose";
        case BaselineStatus::fell:
            return "fell";
        case BaselineStatus::added:
            return "new";
    }
    return "within";
}

}  // namespace memscope

// SPDX-License-Identifier: MIT
// The budget verdict: pass/fail of a run against its memory budgets, and its JSON report.

#include "verdict.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "memscope/budget.hpp"
#include "memscope/format.hpp"
#include "memscope/json.hpp"

namespace memscope_examples {
namespace {

using memscope::JsonWriter;

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

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

void write_line(JsonWriter& w, const BudgetLine& line) {
    w.begin_object();
    w.key("name").value(line.name);
    w.key("current_bytes").value(line.current_bytes);
    w.key("current").value(memscope::format_memory(line.current_bytes));
    w.key("peak_bytes").value(line.peak_bytes);
    w.key("peak").value(memscope::format_memory(line.peak_bytes));
    w.key("budget_bytes").value(line.budget_bytes);
    w.key("budget").value(line.budget_bytes > 0 ? memscope::format_memory(line.budget_bytes)
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

}  // namespace

VerdictRecorder::VerdictRecorder(const memscope::MemoryBudget& budget, VerdictOptions options)
    : budget_(budget), options_(std::move(options)) {}

void VerdictRecorder::poll() {
    std::lock_guard lock(mutex_);
    poll_locked();
}

void VerdictRecorder::poll_locked() {
    const auto fresh = budget_.events(last_sequence_);
    for (const memscope::BudgetEvent& e : fresh) {
        // A gap in the sequence numbers: the budget's list overflowed between two polls.
        if (e.sequence > last_sequence_ + 1) missed_events_ += e.sequence - last_sequence_ - 1;
        last_sequence_ = e.sequence;
        Counts& c = counts_[e.subsystem];
        switch (e.kind) {
            case memscope::EventKind::warning:
                ++c.warning;
                break;
            case memscope::EventKind::over_budget:
                ++c.over_budget;
                break;
            case memscope::EventKind::leak_suspect:
                ++c.leak_suspect;
                break;
            case memscope::EventKind::recovered:
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
    auto counted = [&](BudgetLine& line) {
        if (const auto it = counts_.find(line.name); it != counts_.end()) {
            line.warning_events = it->second.warning;
            line.over_budget_events = it->second.over_budget;
            line.leak_suspect_events = it->second.leak_suspect;
        }
        line.peak_usage = ratio(line.peak_bytes, line.budget_bytes);
        line.exceeded = (line.budget_bytes > 0 && line.peak_bytes > line.budget_bytes) ||
                        line.over_budget_events > 0 || line.seconds_over_budget > 0.0;
    };
    for (const memscope::SubsystemSnapshot& row : budget_.snapshot()) {
        BudgetLine line;
        line.name = row.name;
        line.current_bytes = row.memory.current_bytes;
        line.peak_bytes = row.memory.peak_bytes;
        line.budget_bytes = row.memory.budget_bytes;
        line.seconds_over_threshold = row.seconds_over_threshold;
        line.seconds_over_budget = row.seconds_over_budget;
        counted(line);
        v.subsystems.push_back(std::move(line));
    }
    const memscope::BudgetTotals totals = budget_.totals();
    v.total.name = std::string(memscope::kTotalName);
    v.total.current_bytes = totals.current_bytes;
    v.total.peak_bytes = totals.peak_bytes;
    v.total.budget_bytes = totals.budget_bytes;
    v.total.seconds_over_threshold = totals.seconds_over_threshold;
    v.total.seconds_over_budget = totals.seconds_over_budget;
    counted(v.total);

    auto judge = [&](const BudgetLine& line, const std::string& who) {
        if (line.exceeded) {
            std::string s = who + " exceeded its budget: peak " +
                            memscope::format_memory(line.peak_bytes) + " of " +
                            memscope::format_memory(line.budget_bytes) + " (" +
                            percent(line.peak_usage) + ")";
            if (line.seconds_over_budget > 0.0)
                s += ", " + seconds_text(line.seconds_over_budget) + " over budget";
            v.failures.push_back(std::move(s));
        }
        if (options_.fail_on_leak && line.leak_suspect_events > 0)
            v.failures.push_back(who + " is a leak suspect (" +
                                 std::to_string(line.leak_suspect_events) + " event" +
                                 (line.leak_suspect_events == 1 ? ")" : "s)"));
    };
    for (const BudgetLine& line : v.subsystems) judge(line, line.name);
    judge(v.total, "the total");
    v.pass = v.failures.empty();

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
    w.key("subsystems").begin_array();
    for (const BudgetLine& line : v.subsystems) write_line(w, line);
    w.end_array();
    w.key("total");
    write_line(w, v.total);
    w.key("leak_suspects").begin_array();
    for (const BudgetLine& line : v.subsystems)
        if (line.leak_suspect_events > 0) w.value(line.name);
    w.end_array();
    // The most recent events the budget kept; the counts above include older ones.
    w.key("events_missed").value(missed_events_);
    w.key("events").begin_array();
    for (const memscope::BudgetEvent& e : budget_.events()) {
        w.begin_object();
        w.key("sequence").value(e.sequence);
        w.key("time").value(iso8601_utc(e.time));
        w.key("kind").value(memscope::to_string(e.kind));
        w.key("level").value(memscope::to_string(e.level));
        w.key("subsystem").value(e.subsystem);
        w.key("current_bytes").value(e.current_bytes);
        w.key("budget_bytes").value(e.budget_bytes);
        if (e.kind == memscope::EventKind::leak_suspect)
            w.key("slope_bytes_per_second").value(micro(e.slope_bytes_per_second));
        w.key("message").value(e.message);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    v.json = std::move(json);
    v.json += '\n';
    return v;
}

}  // namespace memscope_examples

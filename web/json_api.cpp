// SPDX-License-Identifier: MIT
// The /api/v1 documents. Every struct is written by expanding its X-macro list twice: once
// for the integer figures, once for the "formatted" strings of the byte figures.

#include "json_api.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <type_traits>

#include "memscope/build_config.hpp"
#include "memscope/format.hpp"
#include "memscope/sampler.hpp"

namespace memscope::web {
namespace {

// The "formatted" string of a byte figure. The X-macro expansions call it for every
// field and skip the ones that are not bytes at run time, so it must compile for all.
template <class T>
std::string formatted(T bytes) {
    if constexpr (std::is_floating_point_v<T>)
        return {};
    else if constexpr (std::is_signed_v<T>)
        return format_signed_memory(bytes);
    else
        return format_memory(static_cast<std::size_t>(bytes));
}

std::int64_t unix_ms_of(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::int64_t estimate_error_bytes(const SubsystemSnapshot& row) {
    if (row.source != SubsystemSource::both) return 0;
    return static_cast<std::int64_t>(row.reported_bytes) -
           static_cast<std::int64_t>(row.memory.current_bytes);
}

std::string iso8601_utc(std::int64_t unix_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
    return buf;
}

void write_sources(JsonWriter& w, const AllocationSources& sources) {
    w.begin_object();
    w.key("malloc_counted").value(malloc_counting_enabled());
    for (const NamedSource& source : named_sources(sources)) {
        w.dynamic_key(source.name).begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(source.stats.field);
        MEMSCOPE_SOURCE_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.key("formatted").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(source.stats.field));
        MEMSCOPE_SOURCE_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.end_object();
        w.end_object();
    }
    w.end_object();
}

void write_allocator(JsonWriter& w, const AllocationStats& stats, const AllocationSources& sources,
                     Detail detail) {
    w.begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(stats.field);
    MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    if (detail == Detail::full) {
        const std::size_t tolerance = peak_tolerance_bytes();
        w.key("peak_tolerance_bytes").value(tolerance);
        w.key("tracking_enabled").value(tracking_enabled());
        w.key("backend").value(allocator_backend());
        w.key("sources");
        write_sources(w, sources);
        w.key("formatted").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(stats.field));
        MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.key("peak_tolerance_bytes").value(format_memory(tolerance));
        w.end_object();
    }
    w.end_object();
}

void write_process(JsonWriter& w, const ProcessMemory& process, Detail detail) {
    w.begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(process.field);
    MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    if (detail == Detail::full) {
        w.key("formatted").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(process.field));
        MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.end_object();
    }
    w.end_object();
}

namespace {

// The standing forecast: seconds until the budget is crossed and the trend, null when none.
void write_forecast(JsonWriter& w, const Forecast& f) {
    w.key("forecast_seconds");
    if (f.seconds > 0.0)
        w.value(f.seconds);
    else
        w.null();
    w.key("forecast_bytes_per_second");
    if (f.seconds > 0.0)
        w.value(f.bytes_per_second);
    else
        w.null();
}

}  // namespace

void write_subsystem(JsonWriter& w, const SubsystemSnapshot& row) {
    // The report's figures only where there is a report: on a measured row a 0 would read
    // as "reported 0". The estimate's error only where both figures exist.
    const bool has_report = row.source != SubsystemSource::measured;
    const bool has_both = row.source == SubsystemSource::both;
    const std::int64_t error = estimate_error_bytes(row);
    w.begin_object();
    w.key("name").value(row.name);
    w.key("status").value(to_string(row.status));
    w.key("source").value(to_string(row.source));
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(row.memory.field);
    MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(row.field);
    MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    if (has_report) {
        w.key("reported_bytes").value(row.reported_bytes);
        w.key("reported_count").value(row.reported_count);
    }
    if (has_both) w.key("estimate_error_bytes").value(error);
    write_forecast(w, row.forecast);
    w.key("formatted").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(row.memory.field));
    MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(row.field));
    MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    if (has_report) w.key("reported_bytes").value(format_memory(row.reported_bytes));
    if (has_both) w.key("estimate_error_bytes").value(format_signed_memory(error, true));
    w.end_object();
    w.end_object();
}

void write_totals(JsonWriter& w, const BudgetTotals& totals, float warning_threshold) {
    w.begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(totals.field);
    MEMSCOPE_BUDGET_TOTALS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    w.key("status").value(to_string(totals.status));
    w.key("warning_threshold").value(warning_threshold);
    write_forecast(w, totals.forecast);
    w.key("formatted").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(totals.field));
    MEMSCOPE_BUDGET_TOTALS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    w.end_object();
    w.end_object();
}

namespace {

// One subsystem of the reconciliation: what was measured and what was reported, each
// where it exists, and their difference where both do.
void write_reconciliation_row(JsonWriter& w, const SubsystemSnapshot& row) {
    const bool measured = row.source != SubsystemSource::reported;
    const bool reported = row.source != SubsystemSource::measured;
    const std::int64_t error = estimate_error_bytes(row);
    w.begin_object();
    w.key("name").value(row.name);
    w.key("source").value(to_string(row.source));
    if (measured) w.key("measured_bytes").value(row.memory.current_bytes);
    if (reported) w.key("reported_bytes").value(row.reported_bytes);
    if (measured && reported) w.key("estimate_error_bytes").value(error);
    w.key("formatted").begin_object();
    if (measured) w.key("measured_bytes").value(format_memory(row.memory.current_bytes));
    if (reported) w.key("reported_bytes").value(format_memory(row.reported_bytes));
    if (measured && reported)
        w.key("estimate_error_bytes").value(format_signed_memory(error, true));
    w.end_object();
    w.end_object();
}

}  // namespace

void write_reconciliation(JsonWriter& w, const Reconciliation& r,
                          const std::vector<SubsystemSnapshot>& rows) {
    w.begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(r.field);
    MEMSCOPE_RECONCILIATION_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    w.key("formatted").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (is_byte_field(#field)) w.key(#field).value(formatted(r.field));
    MEMSCOPE_RECONCILIATION_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    w.end_object();
    w.key("subsystems").begin_array();
    for (const SubsystemSnapshot& row : rows) write_reconciliation_row(w, row);
    w.end_array();
    w.end_object();
}

void write_event(JsonWriter& w, const BudgetEvent& e) {
    const std::int64_t ms = unix_ms_of(e.time);
    w.begin_object();
    w.key("sequence").value(e.sequence);
    w.key("unix_ms").value(ms);
    w.key("time").value(iso8601_utc(ms));
    w.key("kind").value(to_string(e.kind));
    w.key("level").value(to_string(e.level));
    w.key("subsystem").value(e.subsystem);
    w.key("current_bytes").value(e.current_bytes);
    w.key("budget_bytes").value(e.budget_bytes);
    w.key("slope_bytes_per_second").value(e.slope_bytes_per_second);
    if (e.kind == EventKind::forecast) w.key("forecast_seconds").value(e.forecast_seconds);
    if (e.kind == EventKind::frame_over_budget) w.key("frame").value(e.frame);
    w.key("message").value(e.message);
    w.key("formatted").begin_object();
    w.key("current_bytes").value(format_memory(e.current_bytes));
    w.key("budget_bytes").value(format_memory(e.budget_bytes));
    w.end_object();
    w.end_object();
}

void write_trend_fields(JsonWriter& w, const TrendResult& trend) {
    w.key("trend").value(to_string(trend.trend));
    w.key("bytes_per_sample").value(trend.bytes_per_sample);
    w.key("bytes_per_second").value(trend.bytes_per_second);
    w.key("samples").value(trend.samples);
}

void write_trends(JsonWriter& w, const Sampler& sampler,
                  const std::vector<SubsystemSnapshot>& rows) {
    w.begin_object();
    w.key("threshold_bytes_per_sample").value(sampler.options().trend_threshold_bytes_per_sample);
    w.key("global").begin_object();
    write_trend_fields(w, sampler.analyze_trend());
    w.end_object();
    w.key("subsystems").begin_array();
    for (const SubsystemSnapshot& row : rows) {
        w.begin_object().key("name").value(row.name);
        write_trend_fields(w, sampler.analyze_trend(row.name));
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

std::string allocator_document(const Figures& f) {
    std::string out;
    JsonWriter w(out);
    write_allocator(w, f.allocator, f.sources);
    return out;
}

std::string process_document(const Figures& f) {
    std::string out;
    JsonWriter w(out);
    write_process(w, f.process);
    return out;
}

std::string subsystems_document(const Figures& f) {
    std::string out;
    out.reserve(512 * f.subsystems.size() + 64);
    JsonWriter w(out);
    w.begin_object();
    w.key("warning_threshold").value(f.warning_threshold);
    w.key("subsystems").begin_array();
    for (const SubsystemSnapshot& row : f.subsystems) write_subsystem(w, row);
    w.end_array();
    w.end_object();
    return out;
}

std::string totals_document(const Figures& f) {
    std::string out;
    JsonWriter w(out);
    write_totals(w, f.totals, f.warning_threshold);
    return out;
}

std::string reconciliation_document(const Figures& f) {
    std::string out;
    JsonWriter w(out);
    write_reconciliation(w, f.reconciliation, f.subsystems);
    return out;
}

std::string events_document(const MemoryBudget& budget, std::uint64_t since) {
    // The sequence first: an event that fires in between is in the list and the client
    // asks for it again at worst, never misses it.
    const std::uint64_t last = budget.last_event_sequence();
    const std::vector<BudgetEvent> events = budget.events(since);
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.key("last_sequence").value(std::max(last, events.empty() ? 0 : events.back().sequence));
    w.key("events").begin_array();
    for (const BudgetEvent& e : events) write_event(w, e);
    w.end_array();
    w.end_object();
    return out;
}

namespace {

void write_frame_counts(JsonWriter& w, const FrameCounts& c) {
    w.key("allocations").value(c.allocations);
    w.key("frees").value(c.frees);
    w.key("bytes_allocated").value(c.bytes_allocated);
}

void write_frame(JsonWriter& w, const FrameRecord& r) {
    w.begin_object();
    w.key("sequence").value(r.sequence);
    w.key("frame").value(r.frame);
    w.key("unix_ms").value(unix_ms_of(r.time));
    w.key("duration_ms").value(r.duration_ms);
    write_frame_counts(w, r.total);
    w.key("over_budget").value(r.over_budget);
    w.key("subsystems").begin_array();
    for (const FrameSubsystem& s : r.subsystems) {
        w.begin_object().key("name").value(s.name);
        write_frame_counts(w, s.counts);
        w.key("over_budget").value(s.over_budget).end_object();
    }
    w.end_array();
    w.end_object();
}

void write_frame_budget(JsonWriter& w, const FrameBudgetStatus& b) {
    w.begin_object();
    w.key("name").value(b.name);
    w.key("max_allocations").value(b.budget.max_allocations);
    w.key("max_bytes").value(b.budget.max_bytes);
    w.key("frames_over").value(b.frames_over);
    w.key("last_frame_over").value(b.last_frame_over);
    w.key("formatted").begin_object().key("max_bytes").value(formatted(b.budget.max_bytes));
    w.end_object().end_object();
}

void write_frame_stats(JsonWriter& w, const FrameStats& s) {
    w.begin_object();
    w.key("frames").value(s.frames);
    w.key("last_frame").value(s.last_frame);
    w.key("allocations").value(s.allocations);
    w.key("bytes_allocated").value(s.bytes_allocated);
    w.key("worst_allocations").value(s.worst_allocations);
    w.key("worst_frame").value(s.worst_frame);
    w.key("frames_over_total_budget").value(s.frames_over_total_budget);
    // Per bucket, not cumulative (the last bucket's `le` is null: no bound); /metrics has
    // the cumulative Prometheus histogram.
    w.key("histogram").begin_array();
    for (std::size_t i = 0; i < s.allocation_histogram.size(); ++i) {
        w.begin_object().key("le");
        if (i < kFrameAllocationBuckets.size())
            w.value(kFrameAllocationBuckets[i]);
        else
            w.null();
        w.key("count").value(s.allocation_histogram[i]).end_object();
    }
    w.end_array();
    w.key("formatted").begin_object();
    w.key("bytes_allocated").value(formatted(s.bytes_allocated));
    w.end_object();
    w.end_object();
}

}  // namespace

std::string frames_document(const MemoryBudget& budget, std::uint64_t since) {
    // Frames before stats: a frame ended in between is counted in the stats, never missing
    // from a later poll.
    const std::vector<FrameRecord> frames = budget.frames(since);
    const FrameStats stats = budget.frame_stats();
    std::string out;
    out.reserve(256 + frames.size() * 256);
    JsonWriter w(out);
    w.begin_object();
    w.key("tracking_enabled").value(tracking_enabled());
    w.key("last_sequence").value(frames.empty() ? since : frames.back().sequence);
    w.key("frames").begin_array();
    for (const FrameRecord& r : frames) write_frame(w, r);
    w.end_array();
    w.key("budgets").begin_array();
    for (const FrameBudgetStatus& b : stats.budgets) write_frame_budget(w, b);
    w.end_array();
    w.key("stats");
    write_frame_stats(w, stats);
    w.end_object();
    return out;
}

std::string history_document(const Sampler& sampler, std::uint64_t since) {
    const History& history = sampler.history();
    // Samples before names: names only grow, so every index a sample uses has a name.
    const std::vector<Sample> samples = history.since(since);
    const std::vector<std::string> names = history.subsystem_names();
    std::string out;
    out.reserve(64 + samples.size() * (400 + 12 * names.size()));
    JsonWriter w(out);
    w.begin_object();
    w.key("interval_ms").value(sampler.options().interval.count());
    w.key("capacity").value(history.capacity());
    w.key("last_sequence").value(samples.empty() ? since : samples.back().sequence);
    w.key("subsystem_names").begin_array();
    for (const std::string& name : names) w.value(name);
    w.end_array();
    w.key("samples").begin_array();
    for (const Sample& s : samples) {
        w.begin_object();
        w.key("sequence").value(s.sequence);
        w.key("unix_ms").value(s.unix_ms);
        w.key("seconds").value(s.seconds);
        w.key("reported_bytes").value(s.reported_bytes);
        w.key("allocator");
        write_allocator(w, s.allocator, {}, Detail::compact);
        w.key("process");
        write_process(w, s.process, Detail::compact);
        w.key("subsystem_bytes").begin_array();
        for (std::size_t bytes : s.subsystem_bytes) w.value(bytes);
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.end_object();
    return out;
}

std::string trends_document(const Sampler& sampler, const Figures& f) {
    std::string out;
    JsonWriter w(out);
    write_trends(w, sampler, f.subsystems);
    return out;
}

std::string snapshot_document(const Sampler& sampler, const Figures& f,
                              const std::vector<BudgetEvent>* events) {
    std::string out;
    out.reserve(1024 + 700 * f.subsystems.size());
    JsonWriter w(out);
    w.begin_object();
    w.key("unix_ms").value(f.unix_ms);
    w.key("time").value(iso8601_utc(f.unix_ms));
    w.key("memscope").begin_object();
    w.key("version").value(MEMSCOPE_VERSION);
    w.key("backend").value(allocator_backend());
    w.key("tracking_enabled").value(tracking_enabled());
    w.end_object();
    w.key("allocator");
    write_allocator(w, f.allocator, f.sources);
    w.key("process");
    write_process(w, f.process);
    w.key("totals");
    write_totals(w, f.totals, f.warning_threshold);
    w.key("subsystems").begin_array();
    for (const SubsystemSnapshot& row : f.subsystems) write_subsystem(w, row);
    w.end_array();
    w.key("reconciliation");
    write_reconciliation(w, f.reconciliation, f.subsystems);
    w.key("trends");
    write_trends(w, sampler, f.subsystems);
    const History& history = sampler.history();
    const std::optional<Sample> latest = history.latest();
    w.key("history").begin_object();
    w.key("size").value(history.size());
    w.key("capacity").value(history.capacity());
    w.key("interval_ms").value(sampler.options().interval.count());
    w.key("last_sequence").value(latest ? latest->sequence : 0);
    w.end_object();
    w.key("last_event_sequence").value(f.last_event_sequence);
    w.key("last_mark_id").value(f.last_mark_id);
    if (events != nullptr) {
        w.key("events").begin_array();
        for (const BudgetEvent& e : *events) write_event(w, e);
        w.end_array();
    }
    w.end_object();
    return out;
}

}  // namespace memscope::web

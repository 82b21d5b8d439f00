// SPDX-License-Identifier: MIT
// The Prometheus exposition. Families are written in the order of the X-macro lists; a
// list entry with an empty metric name is exported under another family and skipped.

#include "metrics.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "memscope/budget.hpp"
#include "memscope/build_config.hpp"
#include "memscope/internal.hpp"

namespace memscope::web {
namespace {

class MetricsWriter {
  public:
    explicit MetricsWriter(std::string& out) : out_(out) {}

    // The HELP and TYPE lines of a family.
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        for (char c : help) {  // HELP escapes only backslash and newline
            if (c == '\\')
                out_ += "\\\\";
            else if (c == '\n')
                out_ += "\\n";
            else
                out_ += c;
        }
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    // One sample; `label` and `label_value` may be empty for an unlabelled metric.
    template <class T>
    void sample(std::string_view name, T value, std::string_view label = {},
                std::string_view label_value = {}) {
        out_ += name;
        if (!label.empty()) append_label('{', label, label_value);
        end_sample(!label.empty(), value);
    }

    // One sample with several labels, in the order given.
    template <class T>
    void sample(std::string_view name, T value,
                std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
        out_ += name;
        char separator = '{';
        for (const auto& [label, label_value] : labels) {
            append_label(separator, label, label_value);
            separator = ',';
        }
        end_sample(labels.size() != 0, value);
    }

  private:
    void append_label(char separator, std::string_view label, std::string_view value) {
        out_ += separator;
        out_ += label;
        out_ += "=\"";
        append_label_value(out_, value);
        out_ += '"';
    }

    template <class T>
    void end_sample(bool labelled, T value) {
        if (labelled) out_ += '}';
        out_ += ' ';
        append_number(value);
        out_ += '\n';
    }

    template <class T>
    void append_number(T value) {
        if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(value)) return void(out_ += "NaN");
            if (std::isinf(value)) return void(out_ += value > 0 ? "+Inf" : "-Inf");
        }
        char buf[32];
        const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
        out_.append(buf, end);
    }

    std::string& out_;
};

// Allocations per frame as a Prometheus histogram (cumulative buckets), the frame budgets
// and how many frames broke each: every frame counts here, unlike the rate-limited events.
void write_frames(MetricsWriter& m, const FrameStats& s) {
    constexpr std::string_view histogram = "memscope_frame_allocations";
    m.family(histogram, "histogram",
             "Allocations per frame (between two MemoryBudget::end_frame() calls), every "
             "tag but memscope's own.");
    std::uint64_t cumulative = 0;
    char le[24];
    for (std::size_t i = 0; i < kFrameAllocationBuckets.size(); ++i) {
        cumulative += s.allocation_histogram[i];
        const auto end = std::to_chars(le, le + sizeof le, kFrameAllocationBuckets[i]).ptr;
        m.sample("memscope_frame_allocations_bucket", cumulative, "le",
                 std::string_view(le, static_cast<std::size_t>(end - le)));
    }
    m.sample("memscope_frame_allocations_bucket", s.frames, "le", "+Inf");
    m.sample("memscope_frame_allocations_sum", s.allocations);
    m.sample("memscope_frame_allocations_count", s.frames);

    m.family("memscope_frame_budget_allocations", "gauge",
             "Frame budget: the most allocations one frame may make, per subsystem "
             "(subsystem=\"(total)\" for the whole program); 0: no limit.");
    for (const FrameBudgetStatus& b : s.budgets)
        m.sample("memscope_frame_budget_allocations", b.budget.max_allocations, "subsystem",
                 b.name);
    m.family("memscope_frame_budget_bytes", "gauge",
             "Frame budget: the most bytes one frame may allocate, per subsystem; 0: no limit.");
    for (const FrameBudgetStatus& b : s.budgets)
        m.sample("memscope_frame_budget_bytes", b.budget.max_bytes, "subsystem", b.name);
    m.family("memscope_frames_over_budget_total", "counter",
             "Frames that broke the subsystem's frame budget since it was set, each counted "
             "(the frame_over_budget events are rate-limited).");
    for (const FrameBudgetStatus& b : s.budgets)
        m.sample("memscope_frames_over_budget_total", b.frames_over, "subsystem", b.name);
}

// Seconds since the Unix epoch when the process started, as the kernel counts it: the boot
// time (/proc/stat's btime) plus the process's starttime (field 22 of /proc/self/stat, in
// clock ticks since boot). Nullopt when either cannot be read.
std::optional<double> start_time_from_proc() {
    std::string stat;
    std::string boot;
    if (!detail::read_small_file("/proc/self/stat", 4096, stat).ok ||
        !detail::read_small_file("/proc/stat", 1 << 20, boot).ok)
        return std::nullopt;
    // The command name (field 2) may hold spaces and parentheses: count after its last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::string_view rest = std::string_view(stat).substr(close + 1);
    std::uint64_t ticks = 0;
    for (int field = 3; field <= 22; ++field) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        const auto end = rest.find(' ');
        if (field == 22) {
            const std::string_view text = rest.substr(0, end);
            if (std::from_chars(text.data(), text.data() + text.size(), ticks).ec != std::errc())
                return std::nullopt;
        }
        if (end == std::string_view::npos) return std::nullopt;
        rest.remove_prefix(end);
    }
    const auto at = boot.find("\nbtime ");
    if (at == std::string::npos) return std::nullopt;
    std::uint64_t btime = 0;
    const char* first = boot.data() + at + 7;
    if (std::from_chars(first, boot.data() + boot.size(), btime).ec != std::errc())
        return std::nullopt;
    const long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0) return std::nullopt;
    return static_cast<double>(btime) + static_cast<double>(ticks) / static_cast<double>(hz);
}

// The clock read at static initialisation: the fallback without /proc.
const double g_static_init_seconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

}  // namespace

double process_start_time_seconds() {
    static const double seconds = start_time_from_proc().value_or(g_static_init_seconds);
    return seconds;
}

void append_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

std::string metrics_text(const Figures& f) {
    std::string out;
    out.reserve(4096 + 1200 * f.subsystems.size());
    MetricsWriter m(out);

    // The tracked allocator and the process.
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    m.family(#metric, #kind, help);                  \
    m.sample(#metric, f.allocator.field);
    MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    // The same split by family of allocation functions, in families of their own: a
    // `source` label on the totals above would change their series' identity and break the
    // queries and rules written against them.
#define MEMSCOPE_X_(type, field, kind, metric, help)           \
    m.family(#metric, #kind, help);                            \
    for (const NamedSource& source : named_sources(f.sources)) \
        m.sample(#metric, source.stats.field, "source", source.name);
    MEMSCOPE_SOURCE_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    m.family(#metric, #kind, help);                  \
    m.sample(#metric, f.process.field);
    MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_

    // The subsystems, one family per field with a sample per subsystem.
#define MEMSCOPE_X_(type, field, kind, metric, help)  \
    m.family(#metric, #kind, help);                   \
    for (const SubsystemSnapshot& row : f.subsystems) \
        m.sample(#metric, row.memory.field, "subsystem", row.name);
    MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(type, field, kind, metric, help)  \
    m.family(#metric, #kind, help);                   \
    for (const SubsystemSnapshot& row : f.subsystems) \
        m.sample(#metric, row.field, "subsystem", row.name);
    MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_

    // Where each row's figures come from, as an info family rather than a label on the
    // families above: a label added there would change every series' identity and break
    // the queries and rules written against them. Join on `subsystem` to filter by it.
    m.family("memscope_subsystem_info", "gauge",
             "Always 1; source says where the subsystem's figures come from: measured (a "
             "memscope::Scope tag), reported (report()) or both.");
    for (const SubsystemSnapshot& row : f.subsystems)
        m.sample("memscope_subsystem_info", 1,
                 {{"subsystem", row.name}, {"source", to_string(row.source)}});
    m.family("memscope_subsystem_reported_bytes", "gauge",
             "Bytes the subsystem reported at its last report(), on rows with a report "
             "(source reported or both); minus memscope_subsystem_current_bytes, the error "
             "of a both row's estimate.");
    for (const SubsystemSnapshot& row : f.subsystems)
        if (row.source != SubsystemSource::measured)
            m.sample("memscope_subsystem_reported_bytes", row.reported_bytes, "subsystem",
                     row.name);

    // The standing forecasts, 0 when none: a gauge has no null, and 0 s can never be a
    // forecast (one that close is a crossing), so 0 reads "none" in a query or a panel.
    m.family("memscope_subsystem_forecast_seconds", "gauge",
             "Seconds until the subsystem crosses its budget at the present trend, while a "
             "forecast stands; 0: none.");
    for (const SubsystemSnapshot& row : f.subsystems)
        m.sample("memscope_subsystem_forecast_seconds", row.forecast.seconds, "subsystem",
                 row.name);

        // Totals, reconciliation, events.
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    m.family(#metric, #kind, help);                  \
    m.sample(#metric, f.totals.field);
    MEMSCOPE_BUDGET_TOTALS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    m.family("memscope_total_forecast_seconds", "gauge",
             "Seconds until the total crosses the total budget at the present trend, while a "
             "forecast stands; 0: none.");
    m.sample("memscope_total_forecast_seconds", f.totals.forecast.seconds);
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (!std::string_view(#metric).empty()) {        \
        m.family(#metric, #kind, help);              \
        m.sample(#metric, f.reconciliation.field);   \
    }
    MEMSCOPE_RECONCILIATION_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    m.family("memscope_warning_threshold_ratio", "gauge",
             "Fraction of a budget above which a subsystem is in warning.");
    m.sample("memscope_warning_threshold_ratio", f.warning_threshold);
    // One sample per kind, so that an alert can fire on one kind alone; their sum is
    // every event, as Prometheus sums the labels.
    m.family("memscope_events_total", "counter",
             "Budget events fired since start, by kind (warning, over_budget, recovered, "
             "leak_suspect, forecast, frame_over_budget).");
    for (EventKind kind :
         {EventKind::warning, EventKind::over_budget, EventKind::recovered, EventKind::leak_suspect,
          EventKind::forecast, EventKind::frame_over_budget})
        m.sample("memscope_events_total", f.event_counts.of(kind), "kind", to_string(kind));
    write_frames(m, f.frames);
    m.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.");
    m.sample("process_start_time_seconds", process_start_time_seconds());
    m.family("memscope_build_info", "gauge", "Always 1; the labels describe this memscope build.");
    out += "memscope_build_info{version=\"" MEMSCOPE_VERSION "\",backend=\"";
    append_label_value(out, allocator_backend());
    out += tracking_enabled() ? "\",tracking=\"on\"} 1\n" : "\",tracking=\"off\"} 1\n";
    return out;
}

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// MemoryBudget: per-subsystem memory figures reported by the game, budgets, warnings
/// that fire once per crossing, pressure callbacks, and the bounded list of recent events.
///
/// A typical frame:
///
///     memscope::MemoryBudget budget;
///     budget.configure_default_budgets();           // Chunks 1 GiB, Meshes 512 MiB, ... (below)
///     budget.on_pressure("Chunks", [&](const memscope::PressureEvent& e) {
///         if (e.status != memscope::MemoryStatus::ok) chunks.unload_distant();
///     });
///     ...
///     budget.report("Chunks", chunks.bytes(), chunks.count());   // every frame
///
/// Every member function is thread-safe: game threads report while the dashboard reads.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memscope/fields.hpp"
#include "memscope/frames.hpp"
#include "memscope/log.hpp"

/// Figures of one subsystem as reported by the game (struct `memscope::SubsystemMemory`,
/// the four fields of SubsystemMemory). Prometheus names carry a `subsystem` label.
#define MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(X)                                 \
    X(std::size_t, current_bytes, gauge, memscope_subsystem_current_bytes,  \
      "Bytes the subsystem reported at its last report().")                 \
    X(std::size_t, peak_bytes, gauge, memscope_subsystem_peak_bytes,        \
      "Highest current_bytes the subsystem ever reported.")                 \
    X(std::size_t, budget_bytes, gauge, memscope_subsystem_budget_bytes,    \
      "Budget of the subsystem in bytes; 0 means unbudgeted.")              \
    X(std::size_t, allocation_count, gauge, memscope_subsystem_allocations, \
      "Allocation count the subsystem reported at its last report().")

/// What the dashboard adds to each subsystem row (struct `memscope::SubsystemSnapshot`).
#define MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(X)                                                      \
    X(double, usage, gauge, memscope_subsystem_usage_ratio,                                     \
      "current_bytes / budget_bytes; 0 when unbudgeted.")                                       \
    X(std::size_t, window_peak_bytes, gauge, memscope_subsystem_window_peak_bytes,              \
      "Highest current_bytes since the last reset_window_peaks().")                             \
    X(double, seconds_over_threshold, counter, memscope_subsystem_over_threshold_seconds_total, \
      "Seconds spent above the warning threshold (includes time over budget).")                 \
    X(double, seconds_over_budget, counter, memscope_subsystem_over_budget_seconds_total,       \
      "Seconds spent above 100% of the budget.")                                                \
    X(std::uint64_t, warnings, counter, memscope_subsystem_warnings_total,                      \
      "Warning and over-budget events fired for the subsystem.")

/// Totals of all subsystems against the total budget (struct `memscope::BudgetTotals`).
#define MEMSCOPE_BUDGET_TOTALS_FIELDS(X)                                                    \
    X(std::size_t, current_bytes, gauge, memscope_reported_bytes,                           \
      "Sum of the current bytes every subsystem reported.")                                 \
    X(std::size_t, peak_bytes, gauge, memscope_reported_peak_bytes,                         \
      "Highest sum of reported current bytes seen.")                                        \
    X(std::size_t, budget_bytes, gauge, memscope_total_budget_bytes,                        \
      "Total budget of all subsystems in bytes; 0 means none.")                             \
    X(double, usage, gauge, memscope_total_usage_ratio,                                     \
      "Reported bytes / total budget; 0 without a total budget.")                           \
    X(std::size_t, subsystem_count, gauge, memscope_subsystems,                             \
      "Subsystems known (reported or budgeted).")                                           \
    X(double, seconds_over_threshold, counter, memscope_total_over_threshold_seconds_total, \
      "Seconds the total spent above the warning threshold of the total budget.")           \
    X(double, seconds_over_budget, counter, memscope_total_over_budget_seconds_total,       \
      "Seconds the total spent above the total budget.")

namespace memscope {

/// The seven default figures: the six subsystem budgets and the total.
struct DefaultBudgets {
    static constexpr std::size_t kMiB = std::size_t{1} << 20;
    static constexpr std::size_t chunks = 1024 * kMiB;   ///< voxel palettes and block data
    static constexpr std::size_t meshes = 512 * kMiB;    ///< vertex and index buffers
    static constexpr std::size_t textures = 512 * kMiB;  ///< atlas pages, framebuffers
    static constexpr std::size_t entities = 256 * kMiB;  ///< ECS component storage
    static constexpr std::size_t audio = 128 * kMiB;     ///< samples, streaming buffers
    static constexpr std::size_t physics = 256 * kMiB;   ///< colliders, broadphase
    static constexpr std::size_t total = 4096 * kMiB;    ///< all subsystems together
};

/// Figures of one subsystem (fields listed in MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS).
struct SubsystemMemory {
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
};

/// Where a subsystem stands against its budget.
enum class MemoryStatus : std::uint8_t {
    ok,           ///< at or below the warning threshold
    warning,      ///< above budget * threshold, at or below the budget
    over_budget,  ///< above the budget
    unbudgeted,   ///< no budget set (budget 0): never warns
};

/// "ok", "warning", "over_budget", "unbudgeted".
[[nodiscard]] std::string_view to_string(MemoryStatus status) noexcept;

/// status() of one subsystem: where it stands and by how much.
struct BudgetStatus {
    MemoryStatus status = MemoryStatus::unbudgeted;  ///< the classification
    std::size_t current_bytes = 0;                   ///< as last reported
    std::size_t budget_bytes = 0;                    ///< 0 when unbudgeted
    std::int64_t overage_bytes = 0;  ///< current - budget: > 0 only when over budget
    double usage = 0.0;              ///< current / budget; 0 when unbudgeted
};

/// Where a subsystem's figures come from.
enum class SubsystemSource : std::uint8_t {
    reported,  ///< report() only: the game's own figures (estimates, or memory the CPU
               ///< allocator cannot see, such as GPU memory)
    measured,  ///< a memscope::Scope tag of the same name: what its blocks hold, exactly
    both,      ///< measured and reported: the measurement drives the budget, the report is
               ///< kept beside it (its difference is the estimate's error)
};

/// "reported", "measured", "both".
[[nodiscard]] std::string_view to_string(SubsystemSource source) noexcept;

/// A forecast: at the present trend, the budget is crossed in `seconds`.
struct Forecast {
    double seconds = 0.0;           ///< until the budget is crossed; 0: no forecast
    double bytes_per_second = 0.0;  ///< the trend it extrapolates
};

/// One row of the dashboard's subsystem table.
struct SubsystemSnapshot {
    std::string name;  ///< as passed to report(), or the tag's name
    /// The figures that drive the budget: measured ones where the row is measured.
    SubsystemMemory memory;
    MemoryStatus status = MemoryStatus::unbudgeted;
    SubsystemSource source = SubsystemSource::reported;  ///< where `memory` comes from
    /// The game's last report(): equal to memory.current_bytes on a reported row, shown
    /// beside the measurement on a `both` row, 0 on a measured one.
    std::size_t reported_bytes = 0;
    std::size_t reported_count = 0;  ///< the count of that report()
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    Forecast forecast;  ///< the standing forecast (seconds 0: none)
};

/// Totals of all subsystems against the total budget (fields listed in
/// MEMSCOPE_BUDGET_TOTALS_FIELDS), and where the total stands.
struct BudgetTotals {
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_BUDGET_TOTALS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    MemoryStatus status = MemoryStatus::unbudgeted;  ///< ok, warning, over_budget or unbudgeted
    Forecast forecast;  ///< the standing forecast for the total budget (seconds 0: none)
};

/// What happened, in an event.
enum class EventKind : std::uint8_t {
    warning,       ///< a subsystem rose past its warning threshold
    over_budget,   ///< a subsystem rose past 100% of its budget
    recovered,     ///< a subsystem fell back below its threshold (minus the hysteresis)
    leak_suspect,  ///< a subsystem keeps growing, or did not return to its baseline
    forecast,      ///< at its present trend, a subsystem will cross its budget within the horizon
    frame_over_budget,  ///< a frame allocated more than a subsystem's frame budget (frames.hpp)
};

/// "warning", "over_budget", "recovered", "leak_suspect", "forecast", "frame_over_budget".
[[nodiscard]] std::string_view to_string(EventKind kind) noexcept;

/// Events fired since a MemoryBudget was made, per kind. Unlike the event list, these never
/// lose count when old events are dropped; their sum is last_event_sequence().
struct EventCounts {
    std::uint64_t warning = 0;            ///< EventKind::warning
    std::uint64_t over_budget = 0;        ///< EventKind::over_budget
    std::uint64_t recovered = 0;          ///< EventKind::recovered
    std::uint64_t leak_suspect = 0;       ///< EventKind::leak_suspect
    std::uint64_t forecast = 0;           ///< EventKind::forecast
    std::uint64_t frame_over_budget = 0;  ///< EventKind::frame_over_budget
    /// The count of one kind.
    [[nodiscard]] std::uint64_t of(EventKind kind) const noexcept;
};

/// The name events use for the total budget, in place of a subsystem name.
inline constexpr std::string_view kTotalName = "(total)";

/// Longest subsystem or mark name the config file and the dashboard accept, in bytes: names
/// are labels on the page and in Prometheus.
inline constexpr std::size_t kMaxNameBytes = 128;

/// Why `name` cannot name a subsystem or a mark, as a phrase that follows the word "name":
/// "is empty", "is 129 bytes long, more than 128", "contains a control character"; ""
/// when it can.
[[nodiscard]] std::string name_problem(std::string_view name);

/// One entry of the event list: what the log received, kept for the dashboard.
struct BudgetEvent {
    std::uint64_t sequence = 0;                  ///< 1, 2, 3... in the order the events fired
    std::chrono::system_clock::time_point time;  ///< wall-clock time it fired
    EventKind kind = EventKind::warning;
    LogLevel level = LogLevel::warning;
    std::string subsystem;          ///< the subsystem, or kTotalName for the total budget
    std::size_t current_bytes = 0;  ///< figures at the moment it fired
    std::size_t budget_bytes = 0;
    double slope_bytes_per_second = 0.0;  ///< leak_suspect, forecast: the growth rate seen
    double forecast_seconds = 0.0;        ///< forecast only: seconds until the budget is crossed
    std::uint64_t frame = 0;  ///< frame_over_budget only: the frame that broke the budget
    std::string message;  ///< e.g. "Subsystem 'Chunks' at 87% of memory budget (890 MB / 1024 MB)"
};

/// Passed to pressure callbacks when a subsystem changes state.
struct PressureEvent {
    std::string_view subsystem;                ///< the subsystem (kTotalName for the total budget)
    MemoryStatus status = MemoryStatus::ok;    ///< the new state: warning, over_budget or ok
    MemoryStatus previous = MemoryStatus::ok;  ///< the state before
    std::size_t current_bytes = 0;
    std::size_t budget_bytes = 0;
    double usage = 0.0;      ///< current / budget
    bool simulated = false;  ///< true when fired by simulate_pressure()
    /// > 0 on a forecast (the status did not change: status and previous are both where the
    /// subsystem stands): seconds until it crosses its budget at the present trend.
    double forecast_seconds = 0.0;
    double bytes_per_second = 0.0;  ///< on a forecast: the present trend
};

/// A pressure callback. Runs on the thread that called report(), outside every memscope
/// lock: it may free memory and call report() again.
using PressureCallback = std::function<void(const PressureEvent&)>;

/// Handle returned by on_pressure(), for remove_pressure_callback().
using CallbackId = std::uint64_t;

/// Budget changes applied together, under one lock (what a config file produces).
struct BudgetChanges {
    std::vector<std::pair<std::string, std::size_t>> budgets;  ///< name, bytes (0: none)
    std::optional<std::size_t> total_budget_bytes;             ///< unchanged when empty
    std::optional<float> warning_threshold;                    ///< unchanged when empty
    /// Frame budgets: name (kTotalName for the total), budget (none() removes it).
    std::vector<std::pair<std::string, FrameBudget>> frame_budgets;
};

/// Settings fixed when a MemoryBudget is made.
struct BudgetOptions {
    /// Fraction of a budget above which a subsystem is in warning (default 85%).
    float warning_threshold = 0.85f;
    /// An alert re-arms only once usage falls this far below the level that fired it:
    /// with the defaults, a warning fired above 85% fires again only after usage went
    /// under 83%, and an over-budget error only after usage went under 98%.
    float hysteresis = 0.02f;
    /// How many recent events are kept for the dashboard (older ones are dropped).
    std::size_t event_capacity = 256;
    /// Log each event through the log sink (log.hpp) when it fires.
    bool log_events = true;
    /// How many recent frames end_frame() keeps for frames() (older ones are dropped; the
    /// counts of FrameStats never are).
    std::size_t frame_capacity = 600;
    /// A frame budget is announced (event, log line, callbacks) at most once per this
    /// interval: a bad second of sixty frames over it gives one message, and the next
    /// announcement counts the frames in between.
    std::chrono::milliseconds frame_alarm_interval{1000};
    /// Time source for the time-over-budget figures, frame durations and the frame alarms'
    /// rate limit. Empty: std::chrono::steady_clock. Tests set it to drive time by hand.
    std::function<std::chrono::steady_clock::time_point()> clock;
};

/// Per-subsystem memory budgets (see the file comment for an example).
class MemoryBudget {
  public:
    /// An empty budget: no subsystems, no total budget, threshold 85%.
    MemoryBudget();
    /// An empty budget with the given options.
    explicit MemoryBudget(BudgetOptions options);
    ~MemoryBudget();
    MemoryBudget(const MemoryBudget&) = delete;
    MemoryBudget& operator=(const MemoryBudget&) = delete;

    /// Records a subsystem's current bytes and allocation count. Raises its peak, updates
    /// its time over budget, and fires the events and callbacks of any state change.
    /// Costs a lock and a hash lookup; allocates only the first time a name is seen.
    /// On a measured row (a tag of the same name, see update()) the figures are kept
    /// beside the measurement, which alone drives the budget.
    void report(std::string_view name, std::size_t current_bytes, std::size_t count);

    /// Re-reads the measured rows: every tag of memscope::tag_stats() that has allocated
    /// (memscope's own and the untagged bytes aside) feeds the subsystem of its name, which
    /// is created if needed. A measured row's current bytes are its tag's live bytes, its
    /// count the tag's live blocks, its peak the tag's peak; its warnings, callbacks, window
    /// peaks and time over budget follow as report() does for reported rows. The Sampler
    /// calls it at every sample; a game may call it once per frame. Does nothing when
    /// tracking is off.
    void update();

    /// Sets a subsystem's budget in bytes (0: unbudgeted). Creates the subsystem if needed.
    void set_budget(std::string_view name, std::size_t budget_bytes);

    /// `budget > 0 && current > budget * threshold`: strictly above, so exactly at the
    /// threshold is not yet over.
    [[nodiscard]] bool is_over_budget(std::string_view name) const;

    /// Where a subsystem stands; unbudgeted for an unknown name.
    [[nodiscard]] BudgetStatus status(std::string_view name) const;

    /// Sum of every subsystem's current bytes.
    [[nodiscard]] std::size_t total_current() const;

    /// A subsystem's figures, or nullopt if the name was never reported nor budgeted.
    [[nodiscard]] std::optional<SubsystemMemory> subsystem(std::string_view name) const;

    /// Every subsystem, sorted by name, with status, usage and time over budget.
    [[nodiscard]] std::vector<SubsystemSnapshot> snapshot() const;

    /// The totals against the total budget.
    [[nodiscard]] BudgetTotals totals() const;

    /// The total budget in bytes (0: none).
    [[nodiscard]] std::size_t total_budget_bytes() const;
    /// Sets the total budget; the total warns and errs like a subsystem.
    void set_total_budget(std::size_t budget_bytes);

    /// The warning threshold, a fraction in (0, 1].
    [[nodiscard]] float warning_threshold() const;
    /// Sets the threshold; values outside (0, 1] are clamped into it.
    void set_warning_threshold(float threshold);

    /// Applies several changes at once: a reader never sees half of them.
    void apply(const BudgetChanges& changes);

    /// Sets the six default budgets (Chunks 1 GiB, Meshes 512 MiB, Textures
    /// 512 MiB, Entities 256 MiB, Audio 128 MiB, Physics 256 MiB) and the 4 GiB total.
    void configure_default_budgets();

    /// Starts a new window for every subsystem's window_peak_bytes (the all-time
    /// peak_bytes only ever rises).
    void reset_window_peaks();

    /// Records `name`'s current bytes as its baseline, e.g. before loading a level.
    void mark_baseline(std::string_view name);
    /// Tells memscope that `name` has unloaded what it loaded since mark_baseline(): if
    /// its current bytes stay above the baseline by more than `tolerance_bytes`, a
    /// leak_suspect event fires. Returns true when it did.
    bool report_unload(std::string_view name, std::size_t tolerance_bytes = 64 * 1024);

    /// Registers a callback for one subsystem (kTotalName: the total budget).
    CallbackId on_pressure(std::string_view name, PressureCallback callback);
    /// Registers a callback for every subsystem and the total.
    CallbackId on_any_pressure(PressureCallback callback);
    /// Unregisters a pressure or frame budget callback; false if the id is unknown. A call already in progress on
    /// another thread may still complete after this returns.
    bool remove_pressure_callback(CallbackId id);

    /// Calls the callbacks registered for `name` (and the catch-all ones) as if the
    /// subsystem had just entered `status`, without changing any figure or firing an
    /// event: for testing a game's degradation paths. Returns how many were called.
    std::size_t simulate_pressure(std::string_view name, MemoryStatus status);

    /// Events with a sequence number greater than `after_sequence`, oldest first (at most
    /// event_capacity of them).
    [[nodiscard]] std::vector<BudgetEvent> events(std::uint64_t after_sequence = 0) const;
    /// Sequence number of the newest event (0 if none fired yet).
    [[nodiscard]] std::uint64_t last_event_sequence() const;
    /// Events fired so far, per kind (push_event() included), read under the lock that
    /// numbers them: the sum equals last_event_sequence() read at the same moment.
    [[nodiscard]] EventCounts event_counts() const;

    /// The Sampler's forecast for `name` (kTotalName: the total budget): at the present
    /// trend it crosses its budget within the horizon (`prediction`), or it does not
    /// (nullopt). The forecast stands in snapshot() and totals() until the next call. The
    /// first one of an approach fires a forecast event and the pressure callbacks (with
    /// PressureEvent::forecast_seconds > 0); the next fires only after five nullopts in a
    /// row while the subsystem was not over budget (the trend went away, or it crossed and
    /// fell back).
    /// Ignored while the subsystem is over budget or unbudgeted.
    void set_forecast(std::string_view name, std::optional<Forecast> prediction);

    /// Ends frame `frame` (any number the game likes; its frame counter): records what every
    /// tag allocated and freed since the previous call (the first call: since the budget was
    /// made), checks the frame budgets, and announces those broken, at most once per
    /// BudgetOptions::frame_alarm_interval each, with a frame_over_budget event and the
    /// frame budget callbacks. Costs one read of the counters (a lock and a pass over the
    /// tags in use of every thread: a few microseconds; bench/ measures it) and allocates
    /// nothing once frame_capacity frames were recorded. Does nothing when tracking is off.
    void end_frame(std::uint64_t frame);

    /// Sets the frame budget of a subsystem, or of the total with kTotalName; a budget whose
    /// fields are both 0 removes it. A subsystem's frame figures are those of the tag of its
    /// name (memscope::Scope), so only measured subsystems can break one.
    void set_frame_budget(std::string_view name, FrameBudget budget);

    /// The frame budget of `name` (none() when it has none).
    [[nodiscard]] FrameBudget frame_budget(std::string_view name) const;

    /// The frames kept with a sequence greater than `after_sequence`, oldest first.
    [[nodiscard]] std::vector<FrameRecord> frames(std::uint64_t after_sequence = 0) const;

    /// Counts over every frame so far, the allocations-per-frame histogram and the frame
    /// budgets.
    [[nodiscard]] FrameStats frame_stats() const;

    /// Registers a callback for every frame budget announcement (rate-limited as the
    /// events are); remove it with remove_pressure_callback().
    CallbackId on_frame_over_budget(FrameBudgetCallback callback);

    /// Adds an event from outside (the leak detector of history.hpp uses this): gives it
    /// the next sequence number and a time stamp, keeps it, and logs it.
    void push_event(BudgetEvent event);

    /// Logs each subsystem's peak against its budget, one line per subsystem and one for
    /// the total, at info level: what to print at shutdown.
    void log_peak_summary() const;

    /// Blocks until an event newer than `after_sequence` exists or `timeout` passes, and
    /// returns last_event_sequence(). The server's live stream waits here; games need not.
    [[nodiscard]] std::uint64_t wait_for_event(std::uint64_t after_sequence,
                                               std::chrono::milliseconds timeout) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace memscope

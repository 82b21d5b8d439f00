// SPDX-License-Identifier: MIT
// MemoryBudget: subsystem figures, alert state machine with hysteresis, time over budget,
// pressure callbacks and the bounded event list.
//
// Locking: one mutex guards everything. report() updates figures and works out, under the
// lock, which events fire and which callbacks to call; it then releases the lock and only
// then logs and calls back. So a callback may call report() (or anything else) again, and
// a slow log sink never blocks another thread's report().

#include "memscope/budget.hpp"
#include "name_hash.hpp"
#include "seed_figures.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <unordered_map>

#include "counters.hpp"
#include "fork_safety.hpp"
#include "frame_log.hpp"
#include "memscope/allocator.hpp"
#include "memscope/format.hpp"
#include "memscope/scope.hpp"

namespace memscope {
namespace {

using detail::NameHash;

using SteadyClock = std::chrono::steady_clock;

// Alert levels of the state machine: what has been announced for a subsystem.
enum Alert : int { kNone = 0, kWarning = 1, kOver = 2 };

MemoryStatus alert_status(int alert) {
    return alert == kOver      ? MemoryStatus::over_budget
           : alert == kWarning ? MemoryStatus::warning
                               : MemoryStatus::ok;
}

MemoryStatus classify(std::size_t current, std::size_t budget, float threshold) {
    if (budget == 0) return MemoryStatus::unbudgeted;
    if (current > budget) return MemoryStatus::over_budget;
    // In floating point, as the seeds compare: an integer product could overflow, and
    // rounding must not move a figure across the threshold differently than they do.
    if (static_cast<double>(current) > static_cast<double>(budget) * threshold)
        return MemoryStatus::warning;
    return MemoryStatus::ok;
}

double usage_of(std::size_t current, std::size_t budget) {
    return budget == 0 ? 0.0 : static_cast<double>(current) / static_cast<double>(budget);
}

std::string subject(std::string_view name) {
    if (name == kTotalName) return "Total memory";
    std::string s = "Subsystem '";
    s.append(name);
    s += '\'';
    return s;
}

std::string describe(EventKind kind, std::string_view name, std::size_t current,
                     std::size_t budget) {
    const std::string pair = "(" + detail::format_budget_figure(current, budget) + " / " +
                             detail::format_budget_figure(budget, budget) + ")";
    const long percent = std::lround(usage_of(current, budget) * 100.0);
    const char* of_what = name == kTotalName ? "total memory budget" : "memory budget";
    char head[64];
    switch (kind) {
        case EventKind::warning:
            std::snprintf(head, sizeof head, " at %ld%% of ", percent);
            return subject(name) + head + of_what + " " + pair;
        case EventKind::over_budget:
            // The overage in its own scale: "by 512 KB" rather than "by 0 MB".
            return subject(name) + " over " + of_what + " by " +
                   detail::format_budget_figure(current - budget, current - budget) + ", " +
                   std::to_string(percent) + "% " + pair;
        case EventKind::recovered:
            std::snprintf(head, sizeof head, " back under the warning threshold at %ld%% of ",
                          percent);
            return subject(name) + head + of_what + " " + pair;
        case EventKind::leak_suspect:
        case EventKind::forecast:
        case EventKind::frame_over_budget:
            break;
    }
    return subject(name);
}

struct Entry {
    SubsystemMemory memory;  // the driving figures: measured ones on a measured row
    bool measured = false;   // a tag of this name has allocated (update())
    bool reported = false;   // report() was called for it
    std::size_t reported_bytes = 0;
    std::size_t reported_count = 0;
    std::size_t window_peak = 0;
    int alert = kNone;
    MemoryStatus timed_status = MemoryStatus::unbudgeted;  // status since `since`
    SteadyClock::time_point since{};
    double seconds_over_threshold = 0.0;
    double seconds_over_budget = 0.0;
    std::uint64_t warnings = 0;
    std::optional<std::size_t> baseline;
    Forecast forecast;            // the standing forecast (seconds 0: none)
    bool forecast_fired = false;  // this approach's forecast was announced
    int forecast_misses = 0;      // set_forecast() calls in a row without a forecast
};

// An approach ends after this many calls in a row without a forecast: a noisy approach
// whose fit dips for a sample or two is still the same approach.
constexpr int kForecastRearmCalls = 5;

struct Callback {
    CallbackId id;
    std::string name;  // empty with `all`
    bool all;
    std::shared_ptr<const PressureCallback> fn;
};

// What report() decided under the lock and carries out after releasing it.
struct Pending {
    std::vector<BudgetEvent> events;
    struct Call {
        std::shared_ptr<const PressureCallback> fn;
        std::string name;
        PressureEvent event;
    };
    std::vector<Call> calls;
    struct FrameCall {
        std::shared_ptr<const FrameBudgetCallback> fn;
        detail::FrameAlarm alarm;
    };
    std::vector<FrameCall> frame_calls;
};

struct FrameCallback {
    CallbackId id;
    std::shared_ptr<const FrameBudgetCallback> fn;
};

std::string with_thousands(std::uint64_t n) {
    std::string digits = std::to_string(n);
    for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, 1, ',');
    return digits;
}

// "Frame 1234: subsystem 'Entities' made 41,200 allocations, over its frame budget of
// 5,000 (and 59 more frames over it since the last message)".
std::string describe_frame(std::string_view name, const FrameBudgetEvent& e) {
    std::string s = "Frame " + std::to_string(e.frame) + ": ";
    std::string who = subject(name);
    who[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(who[0])));
    s += who;
    const bool count_broken =
        e.budget.max_allocations != 0 && e.counts.allocations > e.budget.max_allocations;
    const bool bytes_broken =
        e.budget.max_bytes != 0 && e.counts.bytes_allocated > e.budget.max_bytes;
    if (count_broken) s += " made " + with_thousands(e.counts.allocations) + " allocations";
    if (count_broken && bytes_broken) s += " of";
    if (bytes_broken)
        s += std::string(count_broken ? " " : " allocated ") +
             format_memory(static_cast<std::size_t>(e.counts.bytes_allocated));
    s += ", over its frame budget of ";
    if (count_broken) s += with_thousands(e.budget.max_allocations) + " allocations";
    if (count_broken && bytes_broken) s += " and ";
    if (bytes_broken) s += format_memory(static_cast<std::size_t>(e.budget.max_bytes));
    if (e.unannounced_frames > 0)
        s += " (and " + std::to_string(e.unannounced_frames) + " more frame" +
             (e.unannounced_frames == 1 ? "" : "s") + " over it since the last message)";
    return s;
}

}  // namespace

struct MemoryBudget::Impl final : detail::ForkHandler {
    // fork(): the lock is held across the copy; in the child the live streams that waited
    // for events (server threads) are gone, and a condition variable that still counts them
    // as waiters would hang the child's next notify, and its destructor.
    void prepare() noexcept override { mutex.lock(); }
    void parent() noexcept override { mutex.unlock(); }
    void child() noexcept override {
        new (&event_cv) std::condition_variable();  // forgets the waiters: none exist here
        mutex.unlock();
    }

    BudgetOptions options;
    mutable std::mutex mutex;
    mutable std::condition_variable event_cv;
    std::unordered_map<std::string, Entry, NameHash, std::equal_to<>> subsystems;
    Entry total;  // the total budget, run through the same state machine
    std::size_t total_current = 0;
    std::size_t total_peak = 0;
    float threshold = 0.85f;
    std::vector<Callback> callbacks;
    CallbackId next_callback = 1;
    std::deque<BudgetEvent> events;
    std::uint64_t last_sequence = 0;
    EventCounts counts;  // per kind, never dropped with the ring's old events
    detail::FrameLog frame_log;
    std::vector<FrameCallback> frame_callbacks;

    SteadyClock::time_point now() const {
        return options.clock ? options.clock() : SteadyClock::now();
    }

    Entry& entry(std::string_view name) {
        auto it = subsystems.find(name);
        if (it == subsystems.end()) it = subsystems.emplace(std::string(name), Entry{}).first;
        return it->second;
    }

    // Credits the time since the last change to the status the entry was in, and
    // re-reads the status from the current figures.
    void account_time(Entry& e, SteadyClock::time_point t) {
        if (e.since != SteadyClock::time_point{}) {
            const double dt = std::chrono::duration<double>(t - e.since).count();
            if (dt > 0) {
                if (e.timed_status == MemoryStatus::warning ||
                    e.timed_status == MemoryStatus::over_budget)
                    e.seconds_over_threshold += dt;
                if (e.timed_status == MemoryStatus::over_budget) e.seconds_over_budget += dt;
            }
        }
        e.since = t;
        e.timed_status = classify(e.memory.current_bytes, e.memory.budget_bytes, threshold);
    }

    // The alert state machine. Rising past a level fires at once; falling re-arms a level
    // only below it by the hysteresis. A jump from ok to over budget fires the error only.
    void evaluate(std::string_view name, Entry& e, Pending& out) {
        const std::size_t current = e.memory.current_bytes;
        const std::size_t budget = e.memory.budget_bytes;
        if (budget == 0) {
            e.alert = kNone;  // unbudgeted never warns; a removed budget disarms silently
            return;
        }
        const double u = usage_of(current, budget);
        const MemoryStatus now_status = classify(current, budget, threshold);
        const int target = now_status == MemoryStatus::over_budget ? kOver
                           : now_status == MemoryStatus::warning   ? kWarning
                                                                   : kNone;
        int next = e.alert;
        if (target > e.alert) {
            next = target;
        } else if (target < e.alert) {
            const double h = options.hysteresis;
            const int floor_level = u >= 1.0 - h ? kOver : u >= threshold - h ? kWarning : kNone;
            next = std::min(e.alert, std::max(target, floor_level));
        }
        if (next == e.alert) return;
        const int previous = e.alert;
        e.alert = next;

        if (next > previous) {
            const EventKind kind = next == kOver ? EventKind::over_budget : EventKind::warning;
            ++e.warnings;
            out.events.push_back(make_event(kind, name, current, budget));
        } else if (next == kNone) {
            out.events.push_back(make_event(EventKind::recovered, name, current, budget));
        }
        PressureEvent pe;
        pe.status = alert_status(next);
        pe.previous = alert_status(previous);
        pe.current_bytes = current;
        pe.budget_bytes = budget;
        pe.usage = u;
        queue_callbacks(name, pe, out);
    }

    BudgetEvent make_event(EventKind kind, std::string_view name, std::size_t current,
                           std::size_t budget) const {
        BudgetEvent ev;
        ev.kind = kind;
        ev.level = kind == EventKind::over_budget ? LogLevel::error
                   : kind == EventKind::recovered ? LogLevel::info
                                                  : LogLevel::warning;
        ev.subsystem = std::string(name);
        ev.current_bytes = current;
        ev.budget_bytes = budget;
        ev.message = describe(kind, name, current, budget);
        return ev;
    }

    // "Subsystem 'Chunks' will exceed its memory budget in about 40 s at +12.0 MB/s
    // (890 MB / 1024 MB)".
    BudgetEvent make_forecast_event(std::string_view name, const Entry& e) const {
        BudgetEvent ev;
        ev.kind = EventKind::forecast;
        ev.level = LogLevel::warning;
        ev.subsystem = std::string(name);
        ev.current_bytes = e.memory.current_bytes;
        ev.budget_bytes = e.memory.budget_bytes;
        ev.slope_bytes_per_second = e.forecast.bytes_per_second;
        ev.forecast_seconds = e.forecast.seconds;
        char when[48];
        std::snprintf(when, sizeof when, " in about %.0f s at +", e.forecast.seconds);
        const std::size_t rate =
            static_cast<std::size_t>(std::max(0.0, e.forecast.bytes_per_second));
        ev.message = subject(name) + " will exceed its " +
                     (name == kTotalName ? "total memory budget" : "memory budget") + when +
                     format_memory(rate) + "/s (" +
                     detail::format_budget_figure(ev.current_bytes, ev.budget_bytes) + " / " +
                     detail::format_budget_figure(ev.budget_bytes, ev.budget_bytes) + ")";
        return ev;
    }

    void queue_callbacks(std::string_view name, const PressureEvent& pe, Pending& out) const {
        for (const Callback& cb : callbacks) {
            if (cb.all || cb.name == name) out.calls.push_back({cb.fn, std::string(name), pe});
        }
    }

    // Numbers and keeps the events (under the lock), so sequence order is firing order.
    void store_events(Pending& out) {
        if (out.events.empty()) return;
        const auto wall = std::chrono::system_clock::now();
        for (BudgetEvent& ev : out.events) {
            ev.sequence = ++last_sequence;
            switch (ev.kind) {
                case EventKind::warning:
                    ++counts.warning;
                    break;
                case EventKind::over_budget:
                    ++counts.over_budget;
                    break;
                case EventKind::recovered:
                    ++counts.recovered;
                    break;
                case EventKind::leak_suspect:
                    ++counts.leak_suspect;
                    break;
                case EventKind::forecast:
                    ++counts.forecast;
                    break;
                case EventKind::frame_over_budget:
                    ++counts.frame_over_budget;
                    break;
            }
            ev.time = wall;
            events.push_back(ev);
            while (events.size() > std::max<std::size_t>(options.event_capacity, 1))
                events.pop_front();
        }
        event_cv.notify_all();
    }

    // Sets a row's driving figures, then runs its timers and its state machine. `peak`: a
    // peak seen between two updates (a tag's own), or the current figure.
    void set_current(std::string_view name, Entry& e, std::size_t current, std::size_t count,
                     std::size_t peak, SteadyClock::time_point t, Pending& out) {
        account_time(e, t);
        total_current = total_current - e.memory.current_bytes + current;
        e.memory.current_bytes = current;
        e.memory.allocation_count = count;
        e.memory.peak_bytes = std::max({e.memory.peak_bytes, current, peak});
        e.window_peak = std::max(e.window_peak, current);
        e.timed_status = classify(current, e.memory.budget_bytes, threshold);
        evaluate(name, e, out);
    }

    void update_total(Pending& out, SteadyClock::time_point t) {
        account_time(total, t);
        total.memory.current_bytes = total_current;
        total.memory.peak_bytes = std::max(total.memory.peak_bytes, total_current);
        total.window_peak = std::max(total.window_peak, total_current);
        total_peak = std::max(total_peak, total_current);
        total.timed_status = classify(total_current, total.memory.budget_bytes, threshold);
        evaluate(kTotalName, total, out);
    }

    // Outside the lock: log, then call back. A throwing callback is reported and the
    // others still run.
    void dispatch(Pending& out) const {
        if (options.log_events) {
            for (const BudgetEvent& ev : out.events) log(ev.level, ev.message);
        }
        for (Pending::Call& call : out.calls) {
            call.event.subsystem = call.name;
            try {
                (*call.fn)(call.event);
            } catch (const std::exception& ex) {
                log(LogLevel::error,
                    "pressure callback for '" + call.name + "' threw: " + ex.what());
            } catch (...) {
                log(LogLevel::error,
                    "pressure callback for '" + call.name + "' threw a non-exception");
            }
        }
        for (Pending::FrameCall& call : out.frame_calls) {
            call.alarm.event.subsystem = call.alarm.name;
            try {
                (*call.fn)(call.alarm.event);
            } catch (const std::exception& ex) {
                log(LogLevel::error,
                    "frame budget callback for '" + call.alarm.name + "' threw: " + ex.what());
            } catch (...) {
                log(LogLevel::error,
                    "frame budget callback for '" + call.alarm.name + "' threw a non-exception");
            }
        }
    }

    SubsystemSnapshot snapshot_of(const std::string& name, const Entry& e,
                                  SteadyClock::time_point t) const {
        SubsystemSnapshot s;
        s.name = name;
        s.memory = e.memory;
        s.status = classify(e.memory.current_bytes, e.memory.budget_bytes, threshold);
        s.source = e.measured && e.reported ? SubsystemSource::both
                   : e.measured             ? SubsystemSource::measured
                                            : SubsystemSource::reported;
        s.reported_bytes = e.reported_bytes;
        s.reported_count = e.reported_count;
        s.usage = usage_of(e.memory.current_bytes, e.memory.budget_bytes);
        s.window_peak_bytes = e.window_peak;
        s.seconds_over_threshold = e.seconds_over_threshold;
        s.seconds_over_budget = e.seconds_over_budget;
        // The clock keeps running for a subsystem that stays over budget without reporting.
        if (e.since != SteadyClock::time_point{}) {
            const double dt = std::chrono::duration<double>(t - e.since).count();
            if (dt > 0 && (e.timed_status == MemoryStatus::warning ||
                           e.timed_status == MemoryStatus::over_budget))
                s.seconds_over_threshold += dt;
            if (dt > 0 && e.timed_status == MemoryStatus::over_budget) s.seconds_over_budget += dt;
        }
        s.warnings = e.warnings;
        s.forecast = e.forecast;
        return s;
    }
};

std::string_view to_string(MemoryStatus status) noexcept {
    switch (status) {
        case MemoryStatus::ok:
            return "ok";
        case MemoryStatus::warning:
            return "warning";
        case MemoryStatus::over_budget:
            return "over_budget";
        case MemoryStatus::unbudgeted:
            return "unbudgeted";
    }
    return "unknown";
}

std::string name_problem(std::string_view name) {
    if (name.empty()) return "is empty";
    if (name.size() > kMaxNameBytes)
        return "is " + std::to_string(name.size()) + " bytes long, more than " +
               std::to_string(kMaxNameBytes);
    for (char c : name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
            return "contains a control character";
    return {};
}

std::string_view to_string(SubsystemSource source) noexcept {
    switch (source) {
        case SubsystemSource::reported:
            return "reported";
        case SubsystemSource::measured:
            return "measured";
        case SubsystemSource::both:
            return "both";
    }
    return "unknown";
}

std::string_view to_string(EventKind kind) noexcept {
    switch (kind) {
        case EventKind::warning:
            return "warning";
        case EventKind::over_budget:
            return "over_budget";
        case EventKind::recovered:
            return "recovered";
        case EventKind::leak_suspect:
            return "leak_suspect";
        case EventKind::forecast:
            return "forecast";
        case EventKind::frame_over_budget:
            return "frame_over_budget";
    }
    return "unknown";
}

MemoryBudget::MemoryBudget() : MemoryBudget(BudgetOptions{}) {}

MemoryBudget::MemoryBudget(BudgetOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->threshold = std::clamp(options.warning_threshold, 1e-6f, 1.0f);
    options.hysteresis = std::clamp(options.hysteresis, 0.0f, 0.5f);
    impl_->options = std::move(options);
    impl_->frame_log =
        detail::FrameLog(impl_->options.frame_capacity, impl_->options.frame_alarm_interval);
    if (tracking_enabled()) {
        // The first frame counts from here. Read outside every lock of the budget's.
        std::array<detail::TagSums, kMaxTags> sums{};
        const TagId count = detail::tags_in_use();
        if (detail::sum_tags(sums.data(), count)) {
            const Scope internal(detail::kInternalTag);
            impl_->frame_log.start(sums.data(), count);
        }
    }
    detail::add_fork_handler(*impl_);
}

MemoryBudget::~MemoryBudget() {
    detail::remove_fork_handler(*impl_);
}

void MemoryBudget::report(std::string_view name, std::size_t current_bytes, std::size_t count) {
    Pending out;
    {
        std::lock_guard lock(impl_->mutex);
        const auto t = impl_->now();
        Entry& e = impl_->entry(name);
        e.reported = true;
        e.reported_bytes = current_bytes;
        e.reported_count = count;
        if (e.measured) return;  // the measurement drives this row: nothing else changes
        impl_->set_current(name, e, current_bytes, count, current_bytes, t, out);
        impl_->update_total(out, t);
        impl_->store_events(out);
    }
    impl_->dispatch(out);
}

void MemoryBudget::update() {
    if (!tracking_enabled()) return;
    // Read before the lock: tag_stats() takes the counter registry's lock, which the
    // budget's lock must never be held across (a pressure callback may allocate).
    const std::vector<TagStats> tags = tag_stats();
    Pending out;
    {
        std::lock_guard lock(impl_->mutex);
        const auto t = impl_->now();
        bool changed = false;
        for (std::size_t id = 2; id < tags.size(); ++id) {
            const TagStats& tag = tags[id];
            auto it = impl_->subsystems.find(tag.name);
            if (it == impl_->subsystems.end()) {
                if (tag.allocation_count == 0) continue;  // named, never used: no row yet
                it = impl_->subsystems.emplace(tag.name, Entry{}).first;
            }
            Entry& e = it->second;
            if (!e.measured) {
                // The row's figures were reported until now: from here on they are
                // measured, and a peak of the estimates would say nothing about them.
                e.measured = true;
                e.memory.peak_bytes = 0;
                e.window_peak = 0;
            }
            impl_->set_current(
                tag.name, e, tag.current_bytes,
                static_cast<std::size_t>(tag.allocation_count - tag.deallocation_count),
                tag.peak_bytes, t, out);
            changed = true;
        }
        if (!changed) return;
        impl_->update_total(out, t);
        impl_->store_events(out);
    }
    impl_->dispatch(out);
}

void MemoryBudget::set_budget(std::string_view name, std::size_t budget_bytes) {
    BudgetChanges changes;
    changes.budgets.emplace_back(std::string(name), budget_bytes);
    apply(changes);
}

void MemoryBudget::apply(const BudgetChanges& changes) {
    Pending out;
    {
        std::lock_guard lock(impl_->mutex);
        const auto t = impl_->now();
        if (changes.warning_threshold)
            impl_->threshold = std::clamp(*changes.warning_threshold, 1e-6f, 1.0f);
        for (const auto& [name, frame_budget] : changes.frame_budgets)
            impl_->frame_log.set_budget(name, frame_budget);
        for (const auto& [name, bytes] : changes.budgets) {
            Entry& e = impl_->entry(name);
            impl_->account_time(e, t);
            e.memory.budget_bytes = bytes;
            e.timed_status = classify(e.memory.current_bytes, bytes, impl_->threshold);
        }
        if (changes.total_budget_bytes)
            impl_->total.memory.budget_bytes = *changes.total_budget_bytes;
        // A new budget or threshold can put a subsystem over it at once: say so now,
        // not at its next report.
        if (changes.warning_threshold) {
            for (auto& [name, e] : impl_->subsystems) {
                impl_->account_time(e, t);
                impl_->evaluate(name, e, out);
            }
        } else {
            for (const auto& [name, bytes] : changes.budgets)
                impl_->evaluate(name, impl_->entry(name), out);
        }
        impl_->update_total(out, t);
        impl_->store_events(out);
    }
    impl_->dispatch(out);
}

bool MemoryBudget::is_over_budget(std::string_view name) const {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->subsystems.find(name);
    if (it == impl_->subsystems.end()) return false;
    const SubsystemMemory& m = it->second.memory;
    return m.budget_bytes > 0 && static_cast<double>(m.current_bytes) >
                                     static_cast<double>(m.budget_bytes) * impl_->threshold;
}

BudgetStatus MemoryBudget::status(std::string_view name) const {
    std::lock_guard lock(impl_->mutex);
    BudgetStatus s;
    const Entry* e = nullptr;
    if (name == kTotalName) {
        e = &impl_->total;
    } else if (auto it = impl_->subsystems.find(name); it != impl_->subsystems.end()) {
        e = &it->second;
    }
    if (e == nullptr) return s;
    s.current_bytes = e->memory.current_bytes;
    s.budget_bytes = e->memory.budget_bytes;
    s.status = classify(s.current_bytes, s.budget_bytes, impl_->threshold);
    s.usage = usage_of(s.current_bytes, s.budget_bytes);
    if (s.status == MemoryStatus::over_budget)
        s.overage_bytes = static_cast<std::int64_t>(s.current_bytes - s.budget_bytes);
    return s;
}

std::size_t MemoryBudget::total_current() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->total_current;
}

std::optional<SubsystemMemory> MemoryBudget::subsystem(std::string_view name) const {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->subsystems.find(name);
    if (it == impl_->subsystems.end()) return std::nullopt;
    return it->second.memory;
}

std::vector<SubsystemSnapshot> MemoryBudget::snapshot() const {
    std::vector<SubsystemSnapshot> rows;
    {
        std::lock_guard lock(impl_->mutex);
        const auto t = impl_->now();
        rows.reserve(impl_->subsystems.size());
        for (const auto& [name, e] : impl_->subsystems)
            rows.push_back(impl_->snapshot_of(name, e, t));
    }
    std::sort(rows.begin(), rows.end(), [](const SubsystemSnapshot& a, const SubsystemSnapshot& b) {
        return a.name < b.name;
    });
    return rows;
}

BudgetTotals MemoryBudget::totals() const {
    std::lock_guard lock(impl_->mutex);
    BudgetTotals t;
    t.current_bytes = impl_->total_current;
    t.peak_bytes = impl_->total_peak;
    t.budget_bytes = impl_->total.memory.budget_bytes;
    t.usage = usage_of(t.current_bytes, t.budget_bytes);
    t.status = classify(t.current_bytes, t.budget_bytes, impl_->threshold);
    t.subsystem_count = impl_->subsystems.size();
    const SubsystemSnapshot total =
        impl_->snapshot_of(std::string(kTotalName), impl_->total, impl_->now());
    t.seconds_over_threshold = total.seconds_over_threshold;
    t.seconds_over_budget = total.seconds_over_budget;
    t.forecast = impl_->total.forecast;
    return t;
}

std::size_t MemoryBudget::total_budget_bytes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->total.memory.budget_bytes;
}

void MemoryBudget::set_total_budget(std::size_t budget_bytes) {
    BudgetChanges changes;
    changes.total_budget_bytes = budget_bytes;
    apply(changes);
}

float MemoryBudget::warning_threshold() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->threshold;
}

void MemoryBudget::set_warning_threshold(float threshold) {
    BudgetChanges changes;
    changes.warning_threshold = threshold;
    apply(changes);
}

void MemoryBudget::configure_default_budgets() {
    BudgetChanges changes;
    changes.budgets = {
        {"Chunks", DefaultBudgets::chunks},     {"Meshes", DefaultBudgets::meshes},
        {"Textures", DefaultBudgets::textures}, {"Entities", DefaultBudgets::entities},
        {"Audio", DefaultBudgets::audio},       {"Physics", DefaultBudgets::physics}};
    changes.total_budget_bytes = DefaultBudgets::total;
    apply(changes);
}

void MemoryBudget::reset_window_peaks() {
    std::lock_guard lock(impl_->mutex);
    for (auto& [name, e] : impl_->subsystems) e.window_peak = e.memory.current_bytes;
    impl_->total.window_peak = impl_->total_current;
}

void MemoryBudget::mark_baseline(std::string_view name) {
    std::lock_guard lock(impl_->mutex);
    Entry& e = impl_->entry(name);
    e.baseline = e.memory.current_bytes;
}

bool MemoryBudget::report_unload(std::string_view name, std::size_t tolerance_bytes) {
    BudgetEvent ev;
    {
        std::lock_guard lock(impl_->mutex);
        auto it = impl_->subsystems.find(name);
        if (it == impl_->subsystems.end() || !it->second.baseline) return false;
        const std::size_t baseline = *it->second.baseline;
        const std::size_t current = it->second.memory.current_bytes;
        if (current <= baseline + tolerance_bytes) return false;
        ev.kind = EventKind::leak_suspect;
        ev.level = LogLevel::warning;
        ev.subsystem = std::string(name);
        ev.current_bytes = current;
        ev.budget_bytes = it->second.memory.budget_bytes;
        ev.message = subject(name) +
                     " suspected leak: did not return to its baseline after unload, " +
                     format_memory(current - baseline) + " above it (" + format_memory(current) +
                     " now, baseline " + format_memory(baseline) + ")";
    }
    push_event(std::move(ev));
    return true;
}

CallbackId MemoryBudget::on_pressure(std::string_view name, PressureCallback callback) {
    std::lock_guard lock(impl_->mutex);
    const CallbackId id = impl_->next_callback++;
    impl_->callbacks.push_back({id, std::string(name), false,
                                std::make_shared<const PressureCallback>(std::move(callback))});
    return id;
}

CallbackId MemoryBudget::on_any_pressure(PressureCallback callback) {
    std::lock_guard lock(impl_->mutex);
    const CallbackId id = impl_->next_callback++;
    impl_->callbacks.push_back(
        {id, std::string(), true, std::make_shared<const PressureCallback>(std::move(callback))});
    return id;
}

bool MemoryBudget::remove_pressure_callback(CallbackId id) {
    std::lock_guard lock(impl_->mutex);
    auto& cbs = impl_->callbacks;
    const auto it =
        std::find_if(cbs.begin(), cbs.end(), [id](const Callback& c) { return c.id == id; });
    if (it != cbs.end()) {
        cbs.erase(it);
        return true;
    }
    auto& frame_cbs = impl_->frame_callbacks;
    const auto frame_it = std::find_if(frame_cbs.begin(), frame_cbs.end(),
                                       [id](const FrameCallback& c) { return c.id == id; });
    if (frame_it == frame_cbs.end()) return false;
    frame_cbs.erase(frame_it);
    return true;
}

void MemoryBudget::end_frame(std::uint64_t frame) {
    if (!tracking_enabled()) return;
    // Read before the lock, as update() does. What end_frame() itself allocates is
    // memscope's own, in no frame; the callbacks it calls are the game's and run untagged
    // as the caller is.
    std::array<detail::TagSums, kMaxTags> sums;
    const TagId count = detail::tags_in_use();
    if (!detail::sum_tags(sums.data(), count)) return;
    Pending out;
    {
        const Scope internal(detail::kInternalTag);
        std::vector<detail::FrameAlarm> alarms;
        std::lock_guard lock(impl_->mutex);
        impl_->frame_log.record(frame, impl_->now(), std::chrono::system_clock::now(), sums.data(),
                                count, alarms);
        if (alarms.empty()) return;
        for (detail::FrameAlarm& alarm : alarms) {
            BudgetEvent ev;
            ev.kind = EventKind::frame_over_budget;
            ev.level = LogLevel::warning;
            ev.subsystem = alarm.name;
            ev.frame = alarm.event.frame;
            ev.message = describe_frame(alarm.name, alarm.event);
            out.events.push_back(std::move(ev));
            for (const FrameCallback& cb : impl_->frame_callbacks)
                out.frame_calls.push_back({cb.fn, alarm});
        }
        impl_->store_events(out);
    }
    impl_->dispatch(out);
}

void MemoryBudget::set_frame_budget(std::string_view name, FrameBudget budget) {
    BudgetChanges changes;
    changes.frame_budgets.emplace_back(std::string(name), budget);
    apply(changes);
}

FrameBudget MemoryBudget::frame_budget(std::string_view name) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->frame_log.budget(name);
}

std::vector<FrameRecord> MemoryBudget::frames(std::uint64_t after_sequence) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->frame_log.frames(after_sequence);
}

FrameStats MemoryBudget::frame_stats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->frame_log.stats();
}

CallbackId MemoryBudget::on_frame_over_budget(FrameBudgetCallback callback) {
    std::lock_guard lock(impl_->mutex);
    const CallbackId id = impl_->next_callback++;
    impl_->frame_callbacks.push_back(
        {id, std::make_shared<const FrameBudgetCallback>(std::move(callback))});
    return id;
}

std::size_t MemoryBudget::simulate_pressure(std::string_view name, MemoryStatus status) {
    Pending out;
    {
        std::lock_guard lock(impl_->mutex);
        const Entry* e = nullptr;
        if (name == kTotalName)
            e = &impl_->total;
        else if (auto it = impl_->subsystems.find(name); it != impl_->subsystems.end())
            e = &it->second;
        PressureEvent pe;
        pe.status = status;
        pe.previous = e ? alert_status(e->alert) : MemoryStatus::ok;
        pe.current_bytes = e ? e->memory.current_bytes : 0;
        pe.budget_bytes = e ? e->memory.budget_bytes : 0;
        pe.usage = usage_of(pe.current_bytes, pe.budget_bytes);
        pe.simulated = true;
        impl_->queue_callbacks(name, pe, out);
    }
    const std::size_t called = out.calls.size();
    impl_->dispatch(out);
    return called;
}

std::vector<BudgetEvent> MemoryBudget::events(std::uint64_t after_sequence) const {
    std::lock_guard lock(impl_->mutex);
    std::vector<BudgetEvent> out;
    auto it =
        std::partition_point(impl_->events.begin(), impl_->events.end(),
                             [&](const BudgetEvent& e) { return e.sequence <= after_sequence; });
    out.assign(it, impl_->events.end());
    return out;
}

std::uint64_t MemoryBudget::last_event_sequence() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->last_sequence;
}

EventCounts MemoryBudget::event_counts() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->counts;
}

std::uint64_t EventCounts::of(EventKind kind) const noexcept {
    switch (kind) {
        case EventKind::warning:
            return warning;
        case EventKind::over_budget:
            return over_budget;
        case EventKind::recovered:
            return recovered;
        case EventKind::leak_suspect:
            return leak_suspect;
        case EventKind::forecast:
            return forecast;
        case EventKind::frame_over_budget:
            return frame_over_budget;
    }
    return 0;
}

void MemoryBudget::set_forecast(std::string_view name, std::optional<Forecast> prediction) {
    Pending out;
    {
        std::lock_guard lock(impl_->mutex);
        Entry* e = nullptr;
        if (name == kTotalName)
            e = &impl_->total;
        else if (auto it = impl_->subsystems.find(name); it != impl_->subsystems.end())
            e = &it->second;
        if (e == nullptr) return;
        const std::size_t current = e->memory.current_bytes;
        const std::size_t budget = e->memory.budget_bytes;
        // Past the budget there is nothing left to forecast; the approach ends when the
        // subsystem is back under it by the hysteresis (its over-budget alert re-armed).
        if (budget == 0 || current >= budget || !prediction || !(prediction->seconds > 0.0)) {
            e->forecast = Forecast{};
            if (!prediction && e->alert != kOver) ++e->forecast_misses;
            if (budget == 0 || e->forecast_misses >= kForecastRearmCalls) e->forecast_fired = false;
            return;
        }
        e->forecast = *prediction;
        e->forecast_misses = 0;
        if (e->forecast_fired || e->alert == kOver) return;
        e->forecast_fired = true;
        out.events.push_back(impl_->make_forecast_event(name, *e));
        PressureEvent pe;
        pe.status = classify(current, budget, impl_->threshold);
        pe.previous = pe.status;
        pe.current_bytes = current;
        pe.budget_bytes = budget;
        pe.usage = usage_of(current, budget);
        pe.forecast_seconds = prediction->seconds;
        pe.bytes_per_second = prediction->bytes_per_second;
        impl_->queue_callbacks(name, pe, out);
        impl_->store_events(out);
    }
    impl_->dispatch(out);
}

void MemoryBudget::push_event(BudgetEvent event) {
    Pending out;
    out.events.push_back(std::move(event));
    {
        std::lock_guard lock(impl_->mutex);
        impl_->store_events(out);
    }
    impl_->dispatch(out);
}

void MemoryBudget::log_peak_summary() const {
    std::vector<std::string> lines;
    {
        std::lock_guard lock(impl_->mutex);
        std::vector<std::pair<std::string, const Entry*>> sorted;
        for (const auto& [name, e] : impl_->subsystems) sorted.emplace_back(name, &e);
        std::sort(sorted.begin(), sorted.end());
        auto line = [&](std::string_view name, const Entry& e) {
            std::string s = "Peak memory of ";
            s.append(name == kTotalName ? std::string_view("all subsystems") : name);
            s += ": " + format_memory(e.memory.peak_bytes);
            if (e.memory.budget_bytes > 0) {
                char pct[32];
                std::snprintf(pct, sizeof pct, " (%.0f%%)",
                              usage_of(e.memory.peak_bytes, e.memory.budget_bytes) * 100.0);
                s += " of " + format_memory(e.memory.budget_bytes) + pct;
            }
            if (e.seconds_over_budget > 0)
                s += ", " + format_seconds(e.seconds_over_budget) + " over budget";
            lines.push_back(std::move(s));
        };
        for (const auto& [name, e] : sorted) line(name, *e);
        line(kTotalName, impl_->total);
    }
    for (const std::string& l : lines) log(LogLevel::info, l);
}

std::uint64_t MemoryBudget::wait_for_event(std::uint64_t after_sequence,
                                           std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    impl_->event_cv.wait_for(lock, timeout, [&] { return impl_->last_sequence > after_sequence; });
    return impl_->last_sequence;
}

}  // namespace memscope

// SPDX-License-Identifier: MIT
// Sampler: when to sample, the background thread, leak suspicion.
//
// Locking: a Sampler takes its own sample mutex around a whole sample (record, then leak
// check) so that samples from update() and from the background thread never interleave; it
// reads the MemoryBudget under that mutex, and pushes leak events only after releasing it.

#include "memscope/sampler.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "due_time.hpp"
#include "fork_safety.hpp"
#include "memscope/budget.hpp"
#include "memscope/format.hpp"
#include "memscope/log.hpp"
#include "memscope/scope.hpp"

namespace memscope {
namespace {

using Clock = std::chrono::steady_clock;

std::size_t to_bytes(double value) {
    return value > 0.0 ? static_cast<std::size_t>(value) : 0;
}

}  // namespace

struct Sampler::Impl final : detail::ForkHandler {
    // fork(): a sample is never copied half taken (this lock is taken before the budget's
    // and the history's, which prepare() locks after it, being older). In the child the
    // background thread does not exist: its handle, its locks and its wake-up are reset, so
    // stop() and the destructor return at once, and start() can run a new thread.
    void prepare() noexcept override { sample_mutex.lock(); }
    void parent() noexcept override { sample_mutex.unlock(); }
    void child() noexcept override {
        if (thread.joinable()) {
            new (&thread) std::thread();  // neither joined nor detached: it is not ours
            new (&thread_mutex) std::mutex();
            new (&wake) std::condition_variable();
            stop_requested = false;
            thread_running.store(false);
        }
        new (&control_mutex) std::mutex();  // in case a start() or stop() was under way
        sample_mutex.unlock();
    }

    Impl(MemoryBudget& b, SamplerOptions o)
        : budget(b),
          options(sanitized(o)),
          history(options.capacity),
          created(Clock::now()),
          due(options.interval, created + options.interval) {}

    // The options in force: an interval of at least 1 ms (a zero interval would make the
    // background thread spin), and a leak window no longer than the ring can hold.
    static SamplerOptions sanitized(SamplerOptions o) {
        o.interval = std::max(o.interval, std::chrono::milliseconds{1});
        o.capacity = std::max<std::size_t>(o.capacity, 2);
        o.leak_window = std::min(o.leak_window, o.capacity);
        o.leak_long_window = std::min(o.leak_long_window, o.capacity);
        return o;
    }

    MemoryBudget& budget;
    const SamplerOptions options;
    History history;
    const Clock::time_point created;
    // When update() samples next, in steady_clock ticks: atomic so that update() is one
    // clock read and one compare, whichever thread calls it.
    detail::DueTime due;  // when the next sample is due (after `created`)

    std::mutex sample_mutex;         // one sample (record and leak check) at a time
    std::vector<bool> leak_flagged;  // per subsystem index: its leak was announced

    std::mutex control_mutex;  // serialises start() and stop()
    std::mutex thread_mutex;   // guards stop_requested, for the condition variable
    std::condition_variable wake;
    bool stop_requested = false;
    std::atomic<bool> thread_running{false};
    std::thread thread;

    void take_sample() {
        // Measured rows first, outside the sample lock: update() may call pressure
        // callbacks, which may do anything. They are the game's code: on the sampler's
        // thread they run untagged, not as memscope's own.
        {
            const Scope game(TagId{0});
            budget.update();
        }
        std::vector<BudgetEvent> leaks;
        std::vector<std::pair<std::string, std::optional<Forecast>>> forecasts;
        {
            std::lock_guard lock(sample_mutex);
            const auto rows = budget.snapshot();
            std::vector<std::pair<std::string, std::size_t>> subsystems;
            subsystems.reserve(rows.size());
            for (const SubsystemSnapshot& row : rows)
                subsystems.emplace_back(row.name, row.memory.current_bytes);
            const auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
            const double seconds = std::chrono::duration<double>(Clock::now() - created).count();
            const std::uint64_t sequence =
                history.record(unix_ms, seconds, allocation_stats(), process_memory(), subsystems);
            if (options.detect_leaks) leaks = check_leaks(sequence);
            if (options.forecast_horizon.count() > 0) forecasts = forecast(sequence, rows);
        }
        for (BudgetEvent& event : leaks) budget.push_event(std::move(event));
        // The forecasts' callbacks are the game's code, like update()'s.
        const Scope game(TagId{0});
        for (auto& [name, prediction] : forecasts) budget.set_forecast(name, prediction);
    }

    // Each budgeted subsystem's forecast and the total's (nullopt: none), from the
    // samples of the last forecast_window.
    std::vector<std::pair<std::string, std::optional<Forecast>>> forecast(
        std::uint64_t newest_sequence, const std::vector<SubsystemSnapshot>& rows) {
        ForecastRule rule;
        rule.horizon_seconds = std::chrono::duration<double>(options.forecast_horizon).count();
        rule.window_seconds = std::chrono::duration<double>(options.forecast_window).count();
        rule.threshold_per_sample = options.trend_threshold_bytes_per_sample;
        // Twice the samples the window holds at the interval, as samples taken by hand
        // (sample_now()) may come closer; forecast_crossing() keeps those within it.
        const auto per_window = static_cast<std::size_t>(
            options.forecast_window.count() / std::max<std::int64_t>(options.interval.count(), 1));
        const std::size_t window = std::max(2 * per_window + 2, 4 * rule.min_samples);
        const std::vector<Sample> samples =
            history.since(newest_sequence > window ? newest_sequence - window : 0);
        const std::vector<std::string> names = history.subsystem_names();
        std::vector<std::pair<std::string, std::optional<Forecast>>> out;
        std::vector<double> times, values;
        const auto series = [&](auto&& value_of) {
            times.clear();
            values.clear();
            for (const Sample& s : samples) {
                if (const auto v = value_of(s)) {
                    times.push_back(s.seconds);
                    values.push_back(*v);
                }
            }
        };
        // History names are in first-seen order, the rows by name.
        std::unordered_map<std::string_view, std::size_t> index;
        for (std::size_t i = 0; i < names.size(); ++i) index.emplace(names[i], i);
        for (const SubsystemSnapshot& row : rows) {
            const auto it = index.find(row.name);
            if (row.memory.budget_bytes == 0 || it == index.end()) {
                out.emplace_back(row.name, std::nullopt);
                continue;
            }
            const std::size_t i = it->second;
            series([i](const Sample& s) -> std::optional<double> {
                if (i >= s.subsystem_bytes.size()) return std::nullopt;
                return static_cast<double>(s.subsystem_bytes[i]);
            });
            out.emplace_back(row.name,
                             forecast_crossing(times, values,
                                               static_cast<double>(row.memory.budget_bytes), rule));
        }
        const std::size_t total_budget = budget.total_budget_bytes();
        series([](const Sample& s) -> std::optional<double> {
            return static_cast<double>(s.reported_bytes);
        });
        out.emplace_back(
            std::string(kTotalName),
            total_budget == 0
                ? std::nullopt
                : forecast_crossing(times, values, static_cast<double>(total_budget), rule));
        return out;
    }

    // Leak suspicion fires once per subsystem: when a subsystem's window first looks like a
    // leak, one event, and the subsystem is flagged. The flag clears (re-arms) only after a
    // later window no longer looks like a leak, so a leak that goes on is reported once,
    // and one that stops and later resumes is reported again.
    std::vector<BudgetEvent> check_leaks(std::uint64_t newest_sequence) {
        const LeakRule rule{options.leak_window, options.leak_long_window, options.leak_segments,
                            options.trend_threshold_bytes_per_sample};
        const std::size_t window = std::max(rule.window, rule.long_window);
        const std::vector<Sample> samples =
            history.since(newest_sequence > window ? newest_sequence - window : 0);
        const std::vector<std::string> names = history.subsystem_names();
        leak_flagged.resize(names.size(), false);

        std::vector<BudgetEvent> events;
        std::vector<double> series;
        series.reserve(samples.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
            series.clear();
            for (const Sample& s : samples) {
                if (i >= s.subsystem_bytes.size()) continue;
                series.push_back(static_cast<double>(s.subsystem_bytes[i]));
            }
            const LeakFinding found = find_leak(series, rule);
            if (!found.leak) {
                leak_flagged[i] = false;
                continue;
            }
            if (leak_flagged[i]) continue;
            leak_flagged[i] = true;
            // The event speaks of the window that showed the leak.
            const std::size_t n = std::min(found.window, series.size());
            const Sample& from = samples[samples.size() - n];
            events.push_back(
                leak_event(names[i], from, samples.back(), i, found.slope_per_sample, n));
        }
        return events;
    }

    // The event for subsystem `i` (name `name`), whose floor rises `slope` bytes per sample
    // over `n` samples from `first` to `last`.
    BudgetEvent leak_event(const std::string& name, const Sample& first, const Sample& last,
                           std::size_t i, double slope, std::size_t n) const {
        const double span = last.seconds - first.seconds;
        const double samples_spanned = static_cast<double>(n - 1);
        const double rise = slope * samples_spanned;
        const double per_second = span > 0.0 ? rise / span : 0.0;

        BudgetEvent event;
        event.kind = EventKind::leak_suspect;
        event.level = LogLevel::warning;
        event.subsystem = name;
        event.current_bytes = last.subsystem_bytes[i];
        if (const auto memory = budget.subsystem(name)) event.budget_bytes = memory->budget_bytes;
        event.slope_bytes_per_second = per_second;
        event.message = "Subsystem '" + name + "' suspected leak: its memory floor rose " +
                        format_memory(to_bytes(rise)) + " over the last " + format_seconds(span) +
                        " (" + format_memory(to_bytes(per_second)) + "/s)";
        return event;
    }

    void run() {
        detail::name_this_thread("ms-sample");
        detail::mark_thread_internal();  // its history and snapshots are memscope's own
        std::unique_lock lock(thread_mutex);
        while (!stop_requested) {
            if (wake.wait_until(lock, due.next(), [this] { return stop_requested; })) break;
            lock.unlock();
            // Through the same check as update(): if the game sampled meanwhile, the due
            // time has moved and this round only waits again.
            // Out of memory, the sample is skipped (run_guarded: nothing escapes the thread).
            detail::run_guarded("sampler", [this] { sample_if_due(); });
            lock.lock();
        }
    }

    bool sample_if_due() {
        // When the game's update() and the background thread find it due together, only
        // one of them samples.
        if (!due.claim(Clock::now())) return false;
        take_sample();
        return true;
    }
};

Sampler::Sampler(MemoryBudget& budget, SamplerOptions options)
    : impl_(std::make_unique<Impl>(budget, options)) {
    detail::add_fork_handler(*impl_);
}

Sampler::~Sampler() {
    stop();
    detail::remove_fork_handler(*impl_);
}

bool Sampler::update() {
    return impl_->sample_if_due();
}

void Sampler::sample_now() {
    // A sample taken by hand counts as the last one: the next is an interval away.
    impl_->due.reschedule(Clock::now());
    impl_->take_sample();
}

void Sampler::start() {
    std::lock_guard control(impl_->control_mutex);
    if (impl_->thread.joinable()) return;
    {
        std::lock_guard lock(impl_->thread_mutex);
        impl_->stop_requested = false;
    }
    // Running once the thread exists: std::thread throws when it cannot start one.
    impl_->thread = detail::start_thread([impl = impl_.get()] { impl->run(); });
    impl_->thread_running.store(true);
}

void Sampler::stop() {
    std::lock_guard control(impl_->control_mutex);
    if (!impl_->thread.joinable()) return;
    {
        std::lock_guard lock(impl_->thread_mutex);
        impl_->stop_requested = true;
    }
    // The thread waits on the condition variable, not in a sleep: it wakes at once.
    impl_->wake.notify_all();
    impl_->thread.join();
    impl_->thread_running.store(false);
}

bool Sampler::running() const {
    return impl_->thread_running.load();
}

const History& Sampler::history() const {
    return impl_->history;
}

const SamplerOptions& Sampler::options() const {
    return impl_->options;
}

TrendResult Sampler::analyze_trend() const {
    return impl_->history.analyze_trend(impl_->options.trend_threshold_bytes_per_sample);
}

TrendResult Sampler::analyze_trend(std::string_view subsystem) const {
    return impl_->history.analyze_trend(subsystem, impl_->options.trend_threshold_bytes_per_sample);
}

}  // namespace memscope

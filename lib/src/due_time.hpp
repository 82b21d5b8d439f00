// SPDX-License-Identifier: MIT
#pragma once
// When a periodic check is next due, asked cheaply and from any thread: the per-frame
// calls (Sampler::update(), ConfigWatcher::poll()) cost a clock read and a relaxed load
// until the interval has passed.

#include <atomic>
#include <chrono>

namespace memscope::detail {

/// A due time of steady_clock. Invariant: `next()` is the earliest time a claim() succeeds.
class DueTime {
  public:
    using Clock = std::chrono::steady_clock;

    /// Due first at `first`, then `interval` after each claim or reschedule.
    DueTime(Clock::duration interval, Clock::time_point first) noexcept
        : interval_(interval), next_(first.time_since_epoch().count()) {}

    /// True when `now` is at or past the due time.
    [[nodiscard]] bool due(Clock::time_point now) const noexcept {
        return now.time_since_epoch().count() >= next_.load(std::memory_order_relaxed);
    }

    /// Moves a passed due time to `now` + interval. Of several threads that find it due
    /// together, exactly one gets true: the one that should do the work.
    [[nodiscard]] bool claim(Clock::time_point now) noexcept {
        Clock::rep due = next_.load(std::memory_order_relaxed);
        if (now.time_since_epoch().count() < due) return false;
        return next_.compare_exchange_strong(due, (now + interval_).time_since_epoch().count(),
                                             std::memory_order_relaxed);
    }

    /// The next due time is `now` + interval, whatever it was (the work was just done).
    void reschedule(Clock::time_point now) noexcept {
        next_.store((now + interval_).time_since_epoch().count(), std::memory_order_relaxed);
    }

    /// The due time.
    [[nodiscard]] Clock::time_point next() const noexcept {
        return Clock::time_point{Clock::duration{next_.load(std::memory_order_relaxed)}};
    }

  private:
    const Clock::duration interval_;
    std::atomic<Clock::rep> next_;  // in ticks: a time_point is not lock-free atomic everywhere
};

}  // namespace memscope::detail

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Sampler: records the allocator figures and every subsystem's bytes into a History at a
/// fixed interval, raises leak suspicion on the budget and forecasts budget crossings.
///
/// Drive it from the game loop (one cheap call per frame, samples when the interval has
/// passed) or let it run its own thread:
///
///     memscope::Sampler sampler(budget);      // 1 s interval, 10 minutes of history
///     ... each frame: sampler.update();
///     // or once: sampler.start();             // background thread until stop()/destruction

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "memscope/history.hpp"

namespace memscope {

class MemoryBudget;

/// Settings of a Sampler.
struct SamplerOptions {
    std::chrono::milliseconds interval{1000};  ///< time between samples
    std::size_t capacity = 600;                ///< samples kept (10 minutes at 1 s)
    /// The trend rule: growing (shrinking) by more than this many bytes
    /// per sample, on average, is increasing (decreasing).
    double trend_threshold_bytes_per_sample = 1024.0;
    /// The short leak window, in samples: a subsystem is a leak suspect when, over the
    /// last leak_window samples split into leak_segments parts, every part's minimum (its
    /// floor) is above the one before by more than twice the series' noise, while the
    /// series gave memory back (a sawtooth whose troughs climb: the shape of a leak
    /// under loads and unloads). See find_leak() in history.hpp and docs/leaks.md.
    std::size_t leak_window = 60;
    /// The long leak window, in samples: a floor that climbs through all of it is a leak
    /// even without releases (a steady leak). A load, a step, or a wave of period up to
    /// about this many samples is not. 0: no long test.
    std::size_t leak_long_window = 300;
    /// Equal parts of each window. In both windows the floor must also rise faster than
    /// trend_threshold_bytes_per_sample.
    std::size_t leak_segments = 4;
    /// After each sample, test every subsystem and push one leak_suspect event into the
    /// budget's event list when it becomes a suspect (again only after it stopped being one).
    bool detect_leaks = true;
    /// After each sample, forecast for every budgeted subsystem and the total when its
    /// budget will be crossed at the present trend; a crossing within this horizon fires
    /// one forecast event and the pressure callbacks per approach (MemoryBudget::
    /// set_forecast()). 0: no forecasts. See forecast_crossing() and docs/forecasts.md.
    std::chrono::milliseconds forecast_horizon{60000};
    /// The trend is a least-squares line through the samples of the last forecast_window
    /// (at least 10 of them, spanning at least half of it) that must explain 80% of their
    /// variance (R²).
    std::chrono::milliseconds forecast_window{30000};
};

/// Records samples of a MemoryBudget (and the global allocator) into a History, and
/// pushes leak_suspect events into the budget's event list.
class Sampler {
  public:
    /// A sampler of `budget`, which must outlive it.
    explicit Sampler(MemoryBudget& budget, SamplerOptions options = {});
    /// Stops the background thread if it runs.
    ~Sampler();
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;

    /// Takes a sample if the interval has passed since the last one; call every frame.
    /// Returns true when it sampled.
    bool update();
    /// Takes a sample now, whatever the interval.
    void sample_now();

    /// Starts a background thread that samples every interval; no-op if running.
    void start();
    /// Stops and joins the background thread; no-op if not running.
    void stop();
    /// True while the background thread runs.
    [[nodiscard]] bool running() const;

    /// The recorded history.
    [[nodiscard]] const History& history() const;
    /// The options in force: as given, except that the interval is at least 1 ms, the
    /// capacity at least 2, and the leak windows at most the capacity.
    [[nodiscard]] const SamplerOptions& options() const;

    /// Global trend over the kept samples, by the options' threshold.
    [[nodiscard]] TrendResult analyze_trend() const;
    /// One subsystem's trend.
    [[nodiscard]] TrendResult analyze_trend(std::string_view subsystem) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace memscope

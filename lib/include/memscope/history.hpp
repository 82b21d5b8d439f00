// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// History: a bounded ring of samples of the allocator figures and every subsystem's
/// bytes, and the trend and leak tests read off a series of them. A Sampler
/// (memscope/sampler.hpp) fills it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"

namespace memscope {

/// One point of history.
struct Sample {
    std::uint64_t sequence = 0;      ///< 1, 2, 3... in recording order
    std::int64_t unix_ms = 0;        ///< wall-clock time, milliseconds since the Unix epoch
    double seconds = 0.0;            ///< steady time since the sampler was made
    AllocationStats allocator;       ///< the tracked allocator's figures
    ProcessMemory process;           ///< resident and committed memory
    std::size_t reported_bytes = 0;  ///< sum of every subsystem's current bytes
    /// Current bytes per subsystem, indexed like History::subsystem_names(); a subsystem
    /// first seen after this sample was taken has no entry (shorter vector).
    std::vector<std::size_t> subsystem_bytes;
};

/// Direction of a series over the samples kept.
enum class Trend : std::uint8_t {
    unknown,     ///< fewer than two samples
    increasing,  ///< grows faster than the threshold
    decreasing,  ///< shrinks faster than the threshold
    stable,      ///< neither
};

/// "unknown", "increasing", "decreasing", "stable".
[[nodiscard]] std::string_view to_string(Trend trend) noexcept;

/// analyze_trend()'s answer.
struct TrendResult {
    Trend trend = Trend::unknown;
    double bytes_per_sample = 0.0;  ///< (last - first) / sample count
    double bytes_per_second = 0.0;  ///< the same over the time the samples span
    std::size_t samples = 0;        ///< how many samples it looked at
};

/// The bounded ring of samples. Thread-safe: the sampler writes, the server reads.
class History {
  public:
    /// A ring that keeps the last `capacity` samples (at least 2).
    explicit History(std::size_t capacity = 600);
    ~History();
    History(const History&) = delete;
    History& operator=(const History&) = delete;

    /// Appends a sample built from the given figures; `names` and `bytes` are parallel
    /// (the subsystems as of now). Assigns the sequence number. Returns it.
    std::uint64_t record(std::int64_t unix_ms, double seconds, const AllocationStats& allocator,
                         const ProcessMemory& process,
                         const std::vector<std::pair<std::string, std::size_t>>& subsystems);

    /// Samples with a sequence number greater than `after_sequence`, oldest first.
    [[nodiscard]] std::vector<Sample> since(std::uint64_t after_sequence = 0) const;
    /// The newest sample, if any.
    [[nodiscard]] std::optional<Sample> latest() const;
    /// Names of every subsystem ever recorded, in first-seen order (Sample::subsystem_bytes
    /// is indexed by this).
    [[nodiscard]] std::vector<std::string> subsystem_names() const;
    /// How many samples are kept now, and at most.
    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t capacity() const;

    /// Trend of the allocator's total bytes over the kept samples (or the last `last_n`).
    [[nodiscard]] TrendResult analyze_trend(double threshold_bytes_per_sample = 1024.0,
                                            std::size_t last_n = 0) const;
    /// Trend of one subsystem's bytes.
    [[nodiscard]] TrendResult analyze_trend(std::string_view subsystem,
                                            double threshold_bytes_per_sample = 1024.0,
                                            std::size_t last_n = 0) const;

    /// Bytes of memscope's own buffers (what the ring holds), for the footprint figure.
    [[nodiscard]] std::size_t footprint_bytes() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The plain floor test on one series (find_leak() is the Sampler's rule): true when, over the last
/// `window` values split into `segments` equal parts, every part's minimum is above the
/// previous part's and the floor rises by more than `threshold_per_sample` per sample
/// on average. `slope_per_sample` receives the floor's rise per sample.
[[nodiscard]] bool series_looks_like_leak(const std::vector<double>& values, std::size_t window,
                                          std::size_t segments, double threshold_per_sample,
                                          double* slope_per_sample = nullptr);

/// The leak rule's settings (the Sampler takes them from SamplerOptions).
struct LeakRule {
    /// The short window, in samples: a floor that rises through it while the series keeps
    /// releasing memory (a sawtooth whose troughs climb) is a leak.
    std::size_t window = 60;
    /// The long window, in samples: a floor that rises through it is a leak even without
    /// releases. Loads, steps and waves of period up to about this long are not (0 or not
    /// longer than `window`: no long test).
    std::size_t long_window = 300;
    std::size_t segments = 4;              ///< equal parts of each window
    double threshold_per_sample = 1024.0;  ///< the floor must rise faster than this
};

/// find_leak()'s answer.
struct LeakFinding {
    bool leak = false;
    double slope_per_sample = 0.0;  ///< the floor's rise per sample over `window`
    std::size_t window = 0;         ///< the window that showed it (0: none did)
};

/// The Sampler's leak rule on one series (oldest first). In a window split into
/// `segments` parts, each part's floor (minimum) must be above the previous part's by more
/// than twice the series' noise (the median of its sample-to-sample changes), and the floor
/// must rise faster than the threshold. On the short window the series must also have
/// given back memory: a fall of more than eight times the noise. On the long window a rise
/// alone is enough. Waves return to their floor, a step rises once, noise does not rise by
/// more than itself: none of them passes.
[[nodiscard]] LeakFinding find_leak(const std::vector<double>& values, const LeakRule& rule);

/// The forecast rule's settings (the Sampler takes them from SamplerOptions).
struct ForecastRule {
    double horizon_seconds = 60.0;  ///< forecast a crossing no further away than this
    /// The trend is fitted to the samples of the last window_seconds, which must span at
    /// least half of it: a wave much shorter than the window is no trend, whatever the
    /// sampling interval.
    double window_seconds = 30.0;
    std::size_t min_samples = 10;  ///< and to at least this many samples
    /// The fit must explain this much of the series' variance (R²): noise and waves
    /// shorter than the window explain little of it, a steady approach almost all.
    double min_r_squared = 0.8;
    double threshold_per_sample = 1024.0;  ///< the rise per sample must exceed this
};

/// The forecast rule on one series: `seconds` and `values` parallel, oldest first (sample
/// times and bytes). A least-squares line through the points of the last
/// `rule.window_seconds` (spanning at least half of it, at least `rule.min_samples`), rising
/// faster than the threshold and with R² of at least `rule.min_r_squared`, reaches `budget`
/// from the newest value within the horizon: the forecast, with the seconds until then.
/// nullopt otherwise, and when the newest value is already at or past the budget.
[[nodiscard]] std::optional<Forecast> forecast_crossing(const std::vector<double>& seconds,
                                                        const std::vector<double>& values,
                                                        double budget, const ForecastRule& rule);

}  // namespace memscope

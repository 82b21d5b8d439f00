// SPDX-License-Identifier: MIT
// History (the bounded ring of samples) and the trend and leak tests.
//
// Locking: History has one mutex around the ring and the name table.

#include "memscope/history.hpp"
#include "name_hash.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <utility>

#include "fork_safety.hpp"
#include "memscope/budget.hpp"
#include "memscope/format.hpp"
#include "memscope/log.hpp"

namespace memscope {
namespace {

using detail::NameHash;

// Heap bytes behind a string: none while it fits the small-string buffer.
std::size_t heap_bytes(const std::string& s) {
    static const std::size_t small_capacity = std::string().capacity();
    return s.capacity() > small_capacity ? s.capacity() + 1 : 0;
}

// The trend rule, on the first and last of `n` samples.
TrendResult make_trend(const Sample& first, const Sample& last, double first_value,
                       double last_value, std::size_t n, double threshold) {
    TrendResult r;
    r.samples = n;
    if (n < 2) return r;
    const double growth = last_value - first_value;
    // Divided by the sample count, not the count of intervals: the seeds' rate, kept so
    // that a threshold means the same to a game ported from them.
    r.bytes_per_sample = growth / static_cast<double>(n);
    const double span = last.seconds - first.seconds;
    r.bytes_per_second = span > 0.0 ? growth / span : 0.0;
    r.trend = r.bytes_per_sample > threshold    ? Trend::increasing
              : r.bytes_per_sample < -threshold ? Trend::decreasing
                                                : Trend::stable;
    return r;
}

// The noise of a run of values: the median size of its sample-to-sample changes. A wave
// or a leak moves every sample by about the same amount; a release is one large change
// among many small ones, so it does not count.
double noise_of(const double* v, std::size_t n) {
    if (n < 2) return 0.0;
    std::vector<double> changes;
    changes.reserve(n - 1);
    for (std::size_t i = 1; i < n; ++i) changes.push_back(std::abs(v[i] - v[i - 1]));
    const auto middle = changes.begin() + static_cast<std::ptrdiff_t>(changes.size() / 2);
    std::nth_element(changes.begin(), middle, changes.end());
    return *middle;
}

// The largest fall of a run of values: from one value down to a later, lower one.
double largest_fall(const double* v, std::size_t n) {
    double peak = v[0];
    double fall = 0.0;
    for (std::size_t i = 1; i < n; ++i) {
        peak = std::max(peak, v[i]);
        fall = std::max(fall, peak - v[i]);
    }
    return fall;
}

// One window of find_leak(): the newest `window` values (a remainder of window % segments
// dropped from the oldest end) in equal parts, each part's floor above the one before by
// more than `margin_of_noise` times the noise; and, with `need_release`, a fall of more
// than eight times the noise somewhere in the window.
std::optional<double> floor_climb(const std::vector<double>& values, std::size_t window,
                                  std::size_t segments, bool need_release) {
    if (segments < 2 || window < segments || values.size() < window) return std::nullopt;
    const std::size_t part = window / segments;
    const std::size_t n = part * segments;
    const double* v = values.data() + (values.size() - n);
    const double noise = noise_of(v, n);
    if (need_release && !(largest_fall(v, n) > 8.0 * noise)) return std::nullopt;
    const auto floor_of = [&](std::size_t k) {
        return *std::min_element(v + k * part, v + (k + 1) * part);
    };
    const double first_floor = floor_of(0);
    double previous_floor = first_floor;
    for (std::size_t k = 1; k < segments; ++k) {
        const double part_floor = floor_of(k);
        // Strictly above, also when the noise is nil: a sawtooth back to the same floor
        // does not rise.
        if (!(part_floor - previous_floor > 2.0 * noise) || part_floor <= previous_floor)
            return std::nullopt;
        previous_floor = part_floor;
    }
    // The first and last parts are this many samples apart.
    return (previous_floor - first_floor) / static_cast<double>(part * (segments - 1));
}

}  // namespace

LeakFinding find_leak(const std::vector<double>& values, const LeakRule& rule) {
    LeakFinding finding;
    const auto accept = [&](std::size_t window, std::optional<double> slope) {
        if (!slope || !(*slope > rule.threshold_per_sample)) return false;
        finding = LeakFinding{true, *slope, window};
        return true;
    };
    // A floor that climbs while the series releases memory is a leak within the short
    // window; a climb without releases may be a load or a slow wave, until it outlasts
    // the long one.
    if (accept(rule.window, floor_climb(values, rule.window, rule.segments, true))) return finding;
    if (rule.long_window > rule.window)
        accept(rule.long_window, floor_climb(values, rule.long_window, rule.segments, false));
    return finding;
}

std::optional<Forecast> forecast_crossing(const std::vector<double>& seconds,
                                          const std::vector<double>& values, double budget,
                                          const ForecastRule& rule) {
    const std::size_t count = std::min(seconds.size(), values.size());
    if (count == 0 || !(rule.horizon_seconds > 0.0) || !(rule.window_seconds > 0.0))
        return std::nullopt;
    const double* t_end = seconds.data() + count;
    const double newest = t_end[-1];
    std::size_t n = 0;
    while (n < count && t_end[-1 - static_cast<std::ptrdiff_t>(n)] >= newest - rule.window_seconds)
        ++n;
    if (n < std::max<std::size_t>(rule.min_samples, 3)) return std::nullopt;
    const double* t = t_end - n;
    const double* v = values.data() + (count - n);
    if (!(newest - t[0] >= rule.window_seconds / 2.0)) return std::nullopt;  // too short yet
    const double current = v[n - 1];
    if (!(current < budget)) return std::nullopt;
    // Least squares of value on time, about the means (no cancellation on large figures).
    double mean_t = 0.0, mean_v = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        mean_t += t[i];
        mean_v += v[i];
    }
    mean_t /= static_cast<double>(n);
    mean_v /= static_cast<double>(n);
    double stt = 0.0, stv = 0.0, svv = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double dt = t[i] - mean_t;
        const double dv = v[i] - mean_v;
        stt += dt * dt;
        stv += dt * dv;
        svv += dv * dv;
    }
    if (!(stt > 0.0) || !(svv > 0.0)) return std::nullopt;  // one instant, or flat
    const double slope = stv / stt;                         // bytes per second
    const double r_squared = stv * stv / (stt * svv);
    const double per_sample = slope * (t[n - 1] - t[0]) / static_cast<double>(n - 1);
    if (!(per_sample > rule.threshold_per_sample) || !(r_squared >= rule.min_r_squared))
        return std::nullopt;
    const double until = (budget - current) / slope;
    if (!(until <= rule.horizon_seconds)) return std::nullopt;
    return Forecast{std::max(until, 1e-3), slope};
}

std::string_view to_string(Trend trend) noexcept {
    switch (trend) {
        case Trend::unknown:
            return "unknown";
        case Trend::increasing:
            return "increasing";
        case Trend::decreasing:
            return "decreasing";
        case Trend::stable:
            return "stable";
    }
    return "unknown";
}

bool series_looks_like_leak(const std::vector<double>& values, std::size_t window,
                            std::size_t segments, double threshold_per_sample,
                            double* slope_per_sample) {
    if (slope_per_sample != nullptr) *slope_per_sample = 0.0;
    if (segments < 2 || window < segments || values.size() < window) return false;
    // Equal parts of the last `window` values; a remainder (window % segments) is dropped
    // from the oldest end, so the newest values always count.
    const std::size_t part = window / segments;
    const auto begin = values.end() - static_cast<std::ptrdiff_t>(part * segments);
    const auto floor_of = [&](std::size_t k) {
        const auto part_begin = begin + static_cast<std::ptrdiff_t>(k * part);
        return *std::min_element(part_begin, part_begin + static_cast<std::ptrdiff_t>(part));
    };
    // A sawtooth of loads and unloads keeps going back to the same floor: equal is no rise.
    bool rising = true;
    double previous_floor = floor_of(0);
    const double first_floor = previous_floor;
    for (std::size_t k = 1; k < segments; ++k) {
        const double part_floor = floor_of(k);
        rising = rising && part_floor > previous_floor;
        previous_floor = part_floor;
    }
    // The first and last parts are this many samples apart.
    const double slope =
        (previous_floor - first_floor) / static_cast<double>(part * (segments - 1));
    if (slope_per_sample != nullptr) *slope_per_sample = slope;
    return rising && slope > threshold_per_sample;
}

// ---------------------------------------------------------------------------------------
// History

struct History::Impl final : detail::ForkHandler {
    // fork(): the ring is never copied in the middle of a record().
    void prepare() noexcept override { mutex.lock(); }
    void parent() noexcept override { mutex.unlock(); }
    void child() noexcept override { mutex.unlock(); }

    explicit Impl(std::size_t cap) : capacity(std::max<std::size_t>(cap, 2)) {
        // The ring's slots are allocated once; recording reuses them.
        ring.reserve(capacity);
    }

    const std::size_t capacity;
    mutable std::mutex mutex;
    std::vector<Sample> ring;  // grows to `capacity`, then `oldest` walks around it
    std::size_t oldest = 0;
    std::uint64_t last_sequence = 0;
    std::vector<std::string> names;  // first-seen order: Sample::subsystem_bytes' index
    std::unordered_map<std::string, std::size_t, NameHash, std::equal_to<>> index;

    // The i-th kept sample, oldest first.
    const Sample& at(std::size_t i) const { return ring[(oldest + i) % ring.size()]; }

    std::size_t index_of(const std::string& name) {
        auto it = index.find(name);
        if (it != index.end()) return it->second;
        names.push_back(name);
        index.emplace(name, names.size() - 1);
        return names.size() - 1;
    }

    // How many of the newest samples (at most last_n, 0: no limit) carry subsystem `i`.
    // Samples only get longer, so those that do are a run at the newest end.
    std::size_t samples_with(std::size_t i, std::size_t last_n) const {
        const std::size_t limit = last_n == 0 ? ring.size() : std::min(last_n, ring.size());
        std::size_t n = 0;
        while (n < limit && i < at(ring.size() - 1 - n).subsystem_bytes.size()) ++n;
        return n;
    }
};

History::History(std::size_t capacity) : impl_(std::make_unique<Impl>(capacity)) {
    detail::add_fork_handler(*impl_);
}

History::~History() {
    detail::remove_fork_handler(*impl_);
}

std::uint64_t History::record(std::int64_t unix_ms, double seconds,
                              const AllocationStats& allocator, const ProcessMemory& process,
                              const std::vector<std::pair<std::string, std::size_t>>& subsystems) {
    std::lock_guard lock(impl_->mutex);
    Impl& h = *impl_;
    Sample* slot = nullptr;
    if (h.ring.size() < h.capacity) {
        slot = &h.ring.emplace_back();
    } else {
        slot = &h.ring[h.oldest];  // overwrite the oldest, keeping its vector's buffer
        h.oldest = (h.oldest + 1) % h.capacity;
    }
    slot->sequence = ++h.last_sequence;
    slot->unix_ms = unix_ms;
    slot->seconds = seconds;
    slot->allocator = allocator;
    slot->process = process;
    slot->reported_bytes = 0;
    slot->subsystem_bytes.clear();
    for (const auto& [name, bytes] : subsystems) {
        const std::size_t i = h.index_of(name);
        if (i >= slot->subsystem_bytes.size()) slot->subsystem_bytes.resize(i + 1, 0);
        slot->subsystem_bytes[i] = bytes;
        slot->reported_bytes += bytes;
    }
    // Every subsystem known so far has an entry (0 if it was not passed this time).
    slot->subsystem_bytes.resize(h.names.size(), 0);
    return slot->sequence;
}

std::vector<Sample> History::since(std::uint64_t after_sequence) const {
    std::lock_guard lock(impl_->mutex);
    const Impl& h = *impl_;
    std::vector<Sample> out;
    if (h.ring.empty() || after_sequence >= h.last_sequence) return out;
    // Sequence numbers are consecutive, so the first wanted sample is found by arithmetic.
    const std::uint64_t oldest_sequence = h.at(0).sequence;
    const std::size_t skip = after_sequence < oldest_sequence
                                 ? 0
                                 : static_cast<std::size_t>(after_sequence - oldest_sequence + 1);
    out.reserve(h.ring.size() - skip);
    for (std::size_t i = skip; i < h.ring.size(); ++i) out.push_back(h.at(i));
    return out;
}

std::optional<Sample> History::latest() const {
    std::lock_guard lock(impl_->mutex);
    if (impl_->ring.empty()) return std::nullopt;
    return impl_->at(impl_->ring.size() - 1);
}

std::vector<std::string> History::subsystem_names() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->names;
}

std::size_t History::size() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->ring.size();
}

std::size_t History::capacity() const {
    return impl_->capacity;
}

TrendResult History::analyze_trend(double threshold_bytes_per_sample, std::size_t last_n) const {
    std::lock_guard lock(impl_->mutex);
    const Impl& h = *impl_;
    const std::size_t count = h.ring.size();
    const std::size_t n = last_n == 0 ? count : std::min(last_n, count);
    if (n < 2) return TrendResult{Trend::unknown, 0.0, 0.0, n};
    const Sample& first = h.at(count - n);
    const Sample& last = h.at(count - 1);
    return make_trend(first, last, static_cast<double>(first.allocator.total_allocated_bytes),
                      static_cast<double>(last.allocator.total_allocated_bytes), n,
                      threshold_bytes_per_sample);
}

TrendResult History::analyze_trend(std::string_view subsystem, double threshold_bytes_per_sample,
                                   std::size_t last_n) const {
    std::lock_guard lock(impl_->mutex);
    const Impl& h = *impl_;
    const auto it = h.index.find(subsystem);
    if (it == h.index.end()) return TrendResult{};
    const std::size_t i = it->second;
    // The series starts when the subsystem was first seen.
    const std::size_t n = h.samples_with(i, last_n);
    if (n < 2) return TrendResult{Trend::unknown, 0.0, 0.0, n};
    const Sample& first = h.at(h.ring.size() - n);
    const Sample& last = h.at(h.ring.size() - 1);
    return make_trend(first, last, static_cast<double>(first.subsystem_bytes[i]),
                      static_cast<double>(last.subsystem_bytes[i]), n, threshold_bytes_per_sample);
}

std::size_t History::footprint_bytes() const {
    std::lock_guard lock(impl_->mutex);
    const Impl& h = *impl_;
    std::size_t bytes = h.ring.capacity() * sizeof(Sample);
    for (const Sample& s : h.ring) bytes += s.subsystem_bytes.capacity() * sizeof(std::size_t);
    bytes += h.names.capacity() * sizeof(std::string);
    for (const std::string& name : h.names) bytes += heap_bytes(name);
    // The name index, estimated: its bucket array, and per name a node holding the key,
    // the value, a next pointer and the cached hash.
    bytes += h.index.bucket_count() * sizeof(void*);
    for (const auto& entry : h.index) {
        bytes += sizeof(entry) + 2 * sizeof(void*) + heap_bytes(entry.first);
    }
    return bytes;
}

}  // namespace memscope

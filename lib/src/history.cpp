// History (the bounded ring of samples), Sampler (when to sample, the background thread,
// leak suspicion), and the trend and leak tests.
//
// Locking: History has one mutex around the ring and the name table. A Sampler takes its
// own sample mutex around a whole sample (record, then leak check) so that samples from
// update() and from the background thread never interleave; it reads the MemoryBudget
// under that mutex, and pushes leak events only after releasing it.

#include "memscope/history.hpp"

#include <algorithm>
#include <atomic>
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

using Clock = std::chrono::steady_clock;

// Heap bytes behind a string: none while it fits the small-string buffer.
std::size_t heap_bytes(const std::string& s) {
    static const std::size_t small_capacity = std::string().capacity();
    return s.capacity() > small_capacity ? s.capacity() + 1 : 0;
}

// Heterogeneous lookup: a name is found without making a std::string.
struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// The specification's rule, on the first and last of `n` samples.
TrendResult make_trend(const Sample& first, const Sample& last, double first_value,
                       double last_value, std::size_t n, double threshold) {
    TrendResult r;
    r.samples = n;
    if (n < 2) return r;
    const double growth = last_value - first_value;
    // Divided by the sample count, not the count of intervals, as the specification does.
    r.bytes_per_sample = growth / static_cast<double>(n);
    const double span = last.seconds - first.seconds;
    r.bytes_per_second = span > 0.0 ? growth / span : 0.0;
    r.trend = r.bytes_per_sample > threshold    ? Trend::increasing
              : r.bytes_per_sample < -threshold ? Trend::decreasing
                                                : Trend::stable;
    return r;
}

// "60 s", or "0.3 s" for the short windows of fast samplers.
std::string seconds_text(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, seconds < 10.0 ? "%.1f s" : "%.0f s", seconds);
    return buf;
}

std::size_t to_bytes(double value) {
    return value > 0.0 ? static_cast<std::size_t>(value) : 0;
}

}  // namespace

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

// ---------------------------------------------------------------------------------------
// Sampler

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
        : budget(b), options(sanitized(o)), history(options.capacity), created(Clock::now()) {
        next_due.store((created + options.interval).time_since_epoch().count());
    }

    // The options in force: an interval of at least 1 ms (a zero interval would make the
    // background thread spin), and a leak window no longer than the ring can hold.
    static SamplerOptions sanitized(SamplerOptions o) {
        o.interval = std::max(o.interval, std::chrono::milliseconds{1});
        o.capacity = std::max<std::size_t>(o.capacity, 2);
        o.leak_window = std::min(o.leak_window, o.capacity);
        return o;
    }

    MemoryBudget& budget;
    const SamplerOptions options;
    History history;
    const Clock::time_point created;
    // When update() samples next, in steady_clock ticks: atomic so that update() is one
    // clock read and one compare, whichever thread calls it.
    std::atomic<Clock::rep> next_due{0};

    std::mutex sample_mutex;         // one sample (record and leak check) at a time
    std::vector<bool> leak_flagged;  // per subsystem index: its leak was announced

    std::mutex control_mutex;  // serialises start() and stop()
    std::mutex thread_mutex;   // guards stop_requested, for the condition variable
    std::condition_variable wake;
    bool stop_requested = false;
    std::atomic<bool> thread_running{false};
    std::thread thread;

    Clock::rep due_after(Clock::time_point t) const {
        return (t + options.interval).time_since_epoch().count();
    }

    void take_sample() {
        std::vector<BudgetEvent> leaks;
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
        }
        for (BudgetEvent& event : leaks) budget.push_event(std::move(event));
    }

    // Leak suspicion fires once per subsystem: when a subsystem's window first looks like a
    // leak, one event, and the subsystem is flagged. The flag clears (re-arms) only after a
    // later window no longer looks like a leak, so a leak that goes on is reported once,
    // and one that stops and later resumes is reported again.
    std::vector<BudgetEvent> check_leaks(std::uint64_t newest_sequence) {
        const std::size_t window = options.leak_window;
        const std::vector<Sample> samples =
            history.since(newest_sequence > window ? newest_sequence - window : 0);
        const std::vector<std::string> names = history.subsystem_names();
        leak_flagged.resize(names.size(), false);

        std::vector<BudgetEvent> events;
        std::vector<double> series;
        series.reserve(samples.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
            series.clear();
            const Sample* first = nullptr;  // first sample of the window that has subsystem i
            for (const Sample& s : samples) {
                if (i >= s.subsystem_bytes.size()) continue;
                if (first == nullptr) first = &s;
                series.push_back(static_cast<double>(s.subsystem_bytes[i]));
            }
            double slope = 0.0;
            const bool leak =
                series_looks_like_leak(series, window, options.leak_segments,
                                       options.trend_threshold_bytes_per_sample, &slope);
            if (!leak) {
                leak_flagged[i] = false;
                continue;
            }
            if (leak_flagged[i]) continue;
            leak_flagged[i] = true;
            events.push_back(leak_event(names[i], *first, samples.back(), i, slope, series.size()));
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
                        format_memory(to_bytes(rise)) + " over the last " + seconds_text(span) +
                        " (" + format_memory(to_bytes(per_second)) + "/s)";
        return event;
    }

    void run() {
        std::unique_lock lock(thread_mutex);
        while (!stop_requested) {
            const Clock::time_point due{Clock::duration{next_due.load(std::memory_order_relaxed)}};
            if (wake.wait_until(lock, due, [this] { return stop_requested; })) break;
            lock.unlock();
            // Through the same check as update(): if the game sampled meanwhile, the due
            // time has moved and this round only waits again.
            // Nothing may escape this thread (std::terminate would end the game). Out of
            // memory, the sample is skipped, and so is the message if it cannot be built.
            try {
                sample_if_due();
            } catch (const std::exception& ex) {
                try {
                    log(LogLevel::error, std::string("memscope sampler thread: ") + ex.what());
                } catch (...) {
                }
            } catch (...) {
            }
            lock.lock();
        }
    }

    bool sample_if_due() {
        const Clock::rep now = Clock::now().time_since_epoch().count();
        Clock::rep due = next_due.load(std::memory_order_relaxed);
        if (now < due) return false;
        // Claim the interval: when the game's update() and the background thread find it
        // due together, only one of them samples.
        if (!next_due.compare_exchange_strong(
                due, due_after(Clock::time_point{Clock::duration{now}}), std::memory_order_relaxed))
            return false;
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
    impl_->next_due.store(impl_->due_after(Clock::now()), std::memory_order_relaxed);
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
    impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
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

// SPDX-License-Identifier: MIT
// The registry of per-thread counters, the shared totals, and the readers of both.

#include "counters.hpp"

#include <pthread.h>

#include <limits>
#include <mutex>

#include "fork_safety.hpp"

namespace memscope::detail {
namespace {

// Everything here is constant-initialised and trivially destructible, so it works for
// allocations made before main() and in static destructors, in any order.

std::mutex g_registry_mutex;                 // guards the list, g_live_threads and g_key
constinit ThreadCounters* g_head = nullptr;  // registered threads, newest first
constinit std::size_t g_live_threads = 0;    // length of the list
constinit bool g_key_created = false;
constinit bool g_key_failed = false;
constinit pthread_key_t g_key{};

// Shared totals, each on its own cache line: written by threads that exited or publish a
// batch, never on the ordinary allocation path.
struct alignas(64) SharedTotals {
    std::atomic<std::int64_t> retired_bytes{0};  // left behind by exited threads
    std::atomic<std::uint64_t> retired_allocations{0};
    std::atomic<std::uint64_t> retired_frees{0};
};
constinit SharedTotals g_retired;
constinit std::int64_t g_retired_internal_bytes = 0;             // guarded by g_registry_mutex
alignas(64) constinit std::atomic<std::int64_t> g_published{0};  // sum of published bytes
alignas(64) constinit std::atomic<std::uint64_t> g_peak{0};

void raise_peak(std::int64_t bytes) noexcept {
    if (bytes <= 0) return;
    const auto candidate = static_cast<std::uint64_t>(bytes);
    std::uint64_t peak = g_peak.load(std::memory_order_relaxed);
    while (candidate > peak &&
           !g_peak.compare_exchange_weak(peak, candidate, std::memory_order_relaxed)) {
    }
}

// From here on every call of the thread takes the slow path and counts into the shared
// totals (see ThreadCounters::upper).
void enter_shared_state(ThreadCounters& t) noexcept {
    t.state = ThreadState::shared;
    t.upper = std::numeric_limits<std::int64_t>::min();
    t.lower = std::numeric_limits<std::int64_t>::max();
}

void set_bounds(ThreadCounters& t) noexcept {
    t.upper = t.published + kBatch;
    t.lower = t.published - kBatch;
}

void unlink(ThreadCounters& t) noexcept {
    if (t.prev != nullptr)
        t.prev->next = t.next;
    else
        g_head = t.next;
    if (t.next != nullptr) t.next->prev = t.prev;
    t.prev = t.next = nullptr;
    --g_live_threads;
}

// Moves a thread's figures into the retired totals and takes it off the list; from here on
// the thread (if it still runs) counts into the shared totals. Under the registry lock.
void retire_locked(ThreadCounters& t) noexcept {
    const std::int64_t bytes = t.bytes.load(std::memory_order_relaxed);
    g_retired.retired_bytes.fetch_add(bytes, std::memory_order_relaxed);
    g_retired.retired_allocations.fetch_add(t.allocations.load(std::memory_order_relaxed),
                                            std::memory_order_relaxed);
    g_retired.retired_frees.fetch_add(t.frees.load(std::memory_order_relaxed),
                                      std::memory_order_relaxed);
    raise_peak(g_published.fetch_add(bytes - t.published, std::memory_order_relaxed) + bytes -
               t.published);
    t.published = bytes;
    if (t.internal) g_retired_internal_bytes += bytes;
    enter_shared_state(t);
    unlink(t);
}

// Runs when a registered thread exits (pthread key destructors run after the C++
// thread_local destructors, so most late frees of the thread are still counted in its own
// block).
void retire_thread(void* arg) noexcept {
    std::lock_guard lock(g_registry_mutex);
    retire_locked(*static_cast<ThreadCounters*>(arg));
}

struct Sums {
    std::int64_t bytes = 0;
    std::uint64_t allocations = 0;
    std::uint64_t frees = 0;
};

Sums sum_all() noexcept {
    Sums s;
    std::lock_guard lock(g_registry_mutex);
    s.bytes = g_retired.retired_bytes.load(std::memory_order_relaxed);
    s.allocations = g_retired.retired_allocations.load(std::memory_order_relaxed);
    s.frees = g_retired.retired_frees.load(std::memory_order_relaxed);
    for (const ThreadCounters* t = g_head; t != nullptr; t = t->next) {
        s.bytes += t->bytes.load(std::memory_order_relaxed);
        s.allocations += t->allocations.load(std::memory_order_relaxed);
        s.frees += t->frees.load(std::memory_order_relaxed);
    }
    return s;
}

}  // namespace

void register_thread(ThreadCounters& t) noexcept {
    std::lock_guard lock(g_registry_mutex);
    if (t.state != ThreadState::unregistered) return;
    if (!g_key_created && !g_key_failed) {
        prepare_size_classes();
        // The destructor cast is safe: retire_thread has the signature pthread expects.
        if (pthread_key_create(&g_key, retire_thread) == 0) {
            g_key_created = true;
            install_fork_handlers();  // see registry_after_fork_child
        } else {
            g_key_failed = true;
        }
    }
    if (!g_key_created || pthread_setspecific(g_key, &t) != 0) {
        enter_shared_state(t);  // counted exactly, only less cheaply
        return;
    }
    t.owner = pthread_self();
    t.next = g_head;
    if (g_head != nullptr) g_head->prev = &t;
    g_head = &t;
    ++g_live_threads;
    t.state = ThreadState::active;
    set_bounds(t);
}

// fork(): the registry lock is held across the copy (locked last, after every object of
// fork_safety.hpp, since they allocate under their own locks), so the child never inherits
// it locked by a thread that does not exist there.
void registry_prepare_fork() noexcept {
    g_registry_mutex.lock();
}
void registry_after_fork_parent() noexcept {
    g_registry_mutex.unlock();
}

// In the child, only the thread that called fork() exists. The other threads' blocks hold
// figures that stay right (the memory they counted was copied too), but glibc puts those
// threads' stacks, and with them their static TLS, back in its stack cache: a thread the
// child starts may get one, and its fresh zeroed block would land on a node of this list,
// cutting the list and losing the figures. So the blocks are retired here, as if their
// threads had exited, and the list holds only the calling thread.
void registry_after_fork_child() noexcept {
    const pthread_t self = pthread_self();
    for (ThreadCounters* t = g_head; t != nullptr;) {
        ThreadCounters* next = t->next;
        if (pthread_equal(t->owner, self) == 0) retire_locked(*t);
        t = next;
    }
    g_registry_mutex.unlock();
}

namespace {

// Adds what `t` has not published yet to the shared total, raises the peak, and moves the
// thread's fast-path bounds one batch either side of the new figure.
void publish(ThreadCounters& t, std::int64_t bytes) noexcept {
    const std::int64_t delta = bytes - t.published;
    t.published = bytes;
    set_bounds(t);
    raise_peak(g_published.fetch_add(delta, std::memory_order_relaxed) + delta);
}

void count_shared(std::int64_t bytes_delta, std::uint64_t allocations,
                  std::uint64_t frees) noexcept {
    g_retired.retired_bytes.fetch_add(bytes_delta, std::memory_order_relaxed);
    if (allocations != 0)
        g_retired.retired_allocations.fetch_add(allocations, std::memory_order_relaxed);
    if (frees != 0) g_retired.retired_frees.fetch_add(frees, std::memory_order_relaxed);
    raise_peak(g_published.fetch_add(bytes_delta, std::memory_order_relaxed) + bytes_delta);
}

// Registers a new thread; true when it can count in its own block.
bool ensure_active(ThreadCounters& t) noexcept {
    if (t.state == ThreadState::unregistered) register_thread(t);
    return t.state == ThreadState::active;
}

}  // namespace

void set_internal(ThreadCounters& t) noexcept {
    if (t.state == ThreadState::unregistered) register_thread(t);
    std::lock_guard lock(g_registry_mutex);
    t.internal = true;
}

std::int64_t internal_bytes() noexcept {
    if constexpr (MEMSCOPE_TRACKING) {
        std::lock_guard lock(g_registry_mutex);
        std::int64_t bytes = g_retired_internal_bytes;
        for (const ThreadCounters* t = g_head; t != nullptr; t = t->next)
            if (t->internal) bytes += t->bytes.load(std::memory_order_relaxed);
        return bytes;
    } else {
        return 0;
    }
}

void count_allocation_slow(ThreadCounters& t, std::size_t size) noexcept {
    const auto delta = static_cast<std::int64_t>(size);
    if (!ensure_active(t)) return count_shared(delta, 1, 0);
    const std::int64_t bytes = t.bytes.load(std::memory_order_relaxed) + delta;
    t.bytes.store(bytes, std::memory_order_relaxed);
    t.allocations.store(t.allocations.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    if (bytes >= t.upper) publish(t, bytes);
}

void count_free_slow(ThreadCounters& t, std::size_t size) noexcept {
    const auto delta = static_cast<std::int64_t>(size);
    if (!ensure_active(t)) return count_shared(-delta, 0, 1);
    const std::int64_t bytes = t.bytes.load(std::memory_order_relaxed) - delta;
    t.bytes.store(bytes, std::memory_order_relaxed);
    t.frees.store(t.frees.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (bytes <= t.lower) publish(t, bytes);
}

}  // namespace memscope::detail

namespace memscope {

AllocationStats allocation_stats() noexcept {
    AllocationStats stats;
    if constexpr (MEMSCOPE_TRACKING) {
        const detail::Sums s = detail::sum_all();
        // Under concurrency a block freed on one thread may be seen before its allocation
        // on another: never report a negative transient as a huge unsigned figure.
        const std::int64_t bytes = s.bytes < 0 ? 0 : s.bytes;
        detail::raise_peak(bytes);
        stats.total_allocated_bytes = static_cast<std::size_t>(bytes);
        stats.peak_allocated_bytes = detail::g_peak.load(std::memory_order_relaxed);
        stats.allocation_count = static_cast<std::size_t>(s.allocations);
        stats.deallocation_count = static_cast<std::size_t>(s.frees);
        stats.net_allocations =
            static_cast<std::int64_t>(s.allocations) - static_cast<std::int64_t>(s.frees);
    }
    return stats;
}

bool tracking_enabled() noexcept {
    return MEMSCOPE_TRACKING != 0;
}

void reset_peak() noexcept {
    if constexpr (MEMSCOPE_TRACKING) {
        const std::int64_t bytes = detail::sum_all().bytes;
        detail::g_peak.store(bytes < 0 ? 0 : static_cast<std::uint64_t>(bytes),
                             std::memory_order_relaxed);
    }
}

std::size_t peak_tolerance_bytes() noexcept {
    if constexpr (MEMSCOPE_TRACKING) {
        std::lock_guard lock(detail::g_registry_mutex);
        return detail::g_live_threads * kPeakBatchBytes;
    } else {
        return 0;
    }
}

}  // namespace memscope

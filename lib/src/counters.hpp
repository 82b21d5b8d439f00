// SPDX-License-Identifier: MIT
#pragma once
// Per-thread allocation counters: the data behind allocation_stats().
//
// Each thread owns one ThreadCounters block in its static TLS. Only the owner writes it,
// with a relaxed load and a relaxed store (a plain add on x86, no lock prefix): readers on
// other threads load the fields atomically and sum them. A block is put on a registry
// list the first time its thread allocates, and taken off when the thread exits, after
// its figures are folded into the retired totals. The list is guarded by a mutex that the
// allocation path never takes once a thread is registered.
//
// The global peak cannot be kept exactly without a shared write per allocation. Instead a
// thread adds its byte count to a shared total each time the count has moved by
// kPeakBatchBytes since it last did, and the peak follows that shared total: see
// peak_tolerance_bytes() in allocator.hpp for the bound this gives.

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "memscope/allocator.hpp"
#include "memscope/internal.hpp"  // mark_thread_internal, internal_bytes

namespace memscope::detail {

enum class ThreadState : std::uint8_t {
    unregistered = 0,  // zero-initialised TLS: the thread has not allocated yet
    active = 1,        // on the registry list; counts into its own block
    shared = 2,        // exited (or could not register): counts straight into the shared totals
};

struct alignas(64) ThreadCounters {
    std::atomic<std::int64_t> bytes{0};         // usable bytes allocated minus freed by this thread
    std::atomic<std::uint64_t> allocations{0};  // allocations made by this thread
    std::atomic<std::uint64_t> frees{0};        // frees made by this thread
    // Owner-only bounds of the fast path: a byte count at or beyond either one takes the
    // slow path. Active threads keep them one batch either side of `published`; the
    // zero-initialised TLS of a new thread (0, 0) and the shared state (min, max) send
    // every call down the slow path. One compare thus covers registration, the shared
    // state and peak publication.
    std::int64_t upper = 0;
    std::int64_t lower = 0;
    std::int64_t published = 0;      // `bytes` when last added to the shared total
    ThreadCounters* prev = nullptr;  // registry list links, guarded by its mutex
    ThreadCounters* next = nullptr;
    pthread_t owner{};  // the thread, for the child of a fork (fork_safety.hpp)
    ThreadState state = ThreadState::unregistered;
    bool internal = false;  // a memscope server thread: see mark_thread_internal
};

inline constexpr std::int64_t kBatch = static_cast<std::int64_t>(kPeakBatchBytes);

/// Puts `t` on the registry and arranges for it to be retired when its thread exits.
/// Leaves `t.state` active, or shared if the thread-exit hook could not be installed.
void register_thread(ThreadCounters& t) noexcept;

/// The rare cases of count_allocation / count_free: a thread's first call, a thread in the
/// shared state, and a byte count that moved a batch away from what was last published.
void count_allocation_slow(ThreadCounters& t, std::size_t size) noexcept;
void count_free_slow(ThreadCounters& t, std::size_t size) noexcept;

// The hot path, inlined into the operator new / delete of allocator_hook.cpp: a load, an
// add, one compare, two stores, all on the calling thread's own cache line.

inline void count_allocation(ThreadCounters& t, std::size_t size) noexcept {
    const std::int64_t bytes =
        t.bytes.load(std::memory_order_relaxed) + static_cast<std::int64_t>(size);
    if (bytes >= t.upper) [[unlikely]]
        return count_allocation_slow(t, size);
    t.bytes.store(bytes, std::memory_order_relaxed);
    t.allocations.store(t.allocations.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}

inline void count_free(ThreadCounters& t, std::size_t size) noexcept {
    const std::int64_t bytes =
        t.bytes.load(std::memory_order_relaxed) - static_cast<std::int64_t>(size);
    if (bytes <= t.lower) [[unlikely]]
        return count_free_slow(t, size);
    t.bytes.store(bytes, std::memory_order_relaxed);
    t.frees.store(t.frees.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// Registers `t` if needed and flags it internal (called by mark_thread_internal).
void set_internal(ThreadCounters& t) noexcept;

/// One-time set-up that must happen before the first thread counts (called under the
/// registry lock by register_thread); implemented by the allocator hook.
void prepare_size_classes() noexcept;

}  // namespace memscope::detail

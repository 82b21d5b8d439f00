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

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "memscope/allocator.hpp"

namespace memscope::detail {

enum class ThreadState : std::uint8_t {
    unregistered = 0,  // zero-initialised TLS: the thread has not allocated yet
    active = 1,        // on the registry list; counts into its own block
    shared = 2,        // exited (or could not register): counts straight into the shared totals
};

struct alignas(64) ThreadCounters {
    std::atomic<std::int64_t> bytes{0};        // usable bytes allocated minus freed by this thread
    std::atomic<std::uint64_t> allocations{0};  // allocations made by this thread
    std::atomic<std::uint64_t> frees{0};        // frees made by this thread
    std::int64_t published = 0;                 // `bytes` when last added to the shared total
    ThreadCounters* prev = nullptr;             // registry list links, guarded by its mutex
    ThreadCounters* next = nullptr;
    ThreadState state = ThreadState::unregistered;
};

inline constexpr std::int64_t kBatch = static_cast<std::int64_t>(kPeakBatchBytes);

/// Puts `t` on the registry and arranges for it to be retired when its thread exits.
/// Leaves `t.state` active, or shared if the thread-exit hook could not be installed.
void register_thread(ThreadCounters& t) noexcept;

/// Adds the bytes `t` has not published yet to the shared total and raises the peak.
void publish(ThreadCounters& t, std::int64_t bytes) noexcept;

/// Counts an allocation or a free of a thread in the shared state (exited or unregistered).
void count_shared(std::int64_t bytes_delta, std::uint64_t allocations,
                  std::uint64_t frees) noexcept;

// The hot path, inlined into the operator new / delete of allocator_hook.cpp.

inline void count_allocation(ThreadCounters& t, std::size_t size) noexcept {
    if (t.state != ThreadState::active) [[unlikely]] {
        if (t.state == ThreadState::unregistered) register_thread(t);
        if (t.state != ThreadState::active) {
            count_shared(static_cast<std::int64_t>(size), 1, 0);
            return;
        }
    }
    const std::int64_t bytes = t.bytes.load(std::memory_order_relaxed) +
                               static_cast<std::int64_t>(size);
    t.bytes.store(bytes, std::memory_order_relaxed);
    t.allocations.store(t.allocations.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    if (bytes - t.published >= kBatch) [[unlikely]]
        publish(t, bytes);
}

inline void count_free(ThreadCounters& t, std::size_t size) noexcept {
    if (t.state != ThreadState::active) [[unlikely]] {
        if (t.state == ThreadState::unregistered) register_thread(t);
        if (t.state != ThreadState::active) {
            count_shared(-static_cast<std::int64_t>(size), 0, 1);
            return;
        }
    }
    const std::int64_t bytes = t.bytes.load(std::memory_order_relaxed) -
                               static_cast<std::int64_t>(size);
    t.bytes.store(bytes, std::memory_order_relaxed);
    t.frees.store(t.frees.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (t.published - bytes >= kBatch) [[unlikely]]
        publish(t, bytes);
}

/// One-time set-up that must happen before the first thread counts (called under the
/// registry lock by register_thread); implemented by the allocator hook.
void prepare_size_classes() noexcept;

}  // namespace memscope::detail

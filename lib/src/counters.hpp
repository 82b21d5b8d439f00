// SPDX-License-Identifier: MIT
#pragma once
// Per-thread, per-tag allocation counters: the data behind allocation_stats() and
// tag_stats().
//
// Each thread owns one block of TagRows, one row per tag, reached from its static TLS.
// Only the owner writes its rows, with a relaxed load and a relaxed store (a plain add on
// x86, no lock prefix): readers on other threads load the fields atomically and sum them.
// A thread gets its block from the registry the first time it allocates, and gives it back
// when it exits, after its figures are folded into the retired totals of each tag. The
// registry is guarded by a mutex that the allocation path never takes once a thread is
// registered.
//
// A block is charged to the tag that was current on the allocating thread, and the tag is
// written in the block's header (allocator_hook.cpp). Its free is counted on the *freeing*
// thread's row of that tag, so a row may go negative; only sums over threads mean anything.
//
// The peaks cannot be kept exactly without a shared write per allocation. Instead each row
// adds its byte count to the tag's shared total, and to the global one, before the count
// can move kPeakBatchBytes away from what it last added, and the peaks follow those shared
// totals: see peak_tolerance_bytes() in allocator.hpp for the bound this gives.

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "memscope/allocator.hpp"
#include "memscope/internal.hpp"  // mark_thread_internal, internal_bytes
#include "memscope/scope.hpp"

namespace memscope::detail {

enum class ThreadState : std::uint8_t {
    unregistered = 0,  // zero-initialised TLS: the thread has not allocated yet
    active = 1,        // registered; counts into its own rows
    shared = 2,        // exited, registering, or could not register: counts straight into the
                       // shared totals
};

/// One thread's figures for one tag. Owner-written; read by anyone.
///
/// The bytes are kept as two running sums, allocated and freed, rather than as their
/// difference: the difference is what the books need, the sums are what a frame's
/// "bytes allocated" needs (frames.hpp), and keeping both costs the hot path nothing, since
/// an allocation touches only `allocated` and a free only `freed`.
struct alignas(64) TagRow {  // one cache line: a row never straddles two, and its address
                             // is one shift from its index
    std::atomic<std::int64_t> allocated{0};     // usable bytes allocated here, ever
    std::atomic<std::int64_t> freed{0};         // usable bytes freed here, ever
    std::atomic<std::uint64_t> allocations{0};  // allocations charged to the tag here
    std::atomic<std::uint64_t> frees{0};        // frees credited to the tag here
    // Owner-only limits of the fast path: an allocation that takes `allocated` to
    // `allocated_limit` or beyond, or a free that takes `freed` to `freed_limit` or beyond,
    // takes the slow path. A row in use places them so that its byte count stays less than
    // a batch away from `published` either way. A fresh row and the rows of the trap block
    // (0, 0) send every call down the slow path: one compare covers registration, the
    // shared state, a row's first use and peak publication.
    std::int64_t allocated_limit = 0;
    std::int64_t freed_limit = 0;
    std::int64_t published = 0;  // owner-only: the byte count last added to the shared peaks
};

inline constexpr std::int64_t kBatch = static_cast<std::int64_t>(kPeakBatchBytes);

/// Tags with a reserved meaning. Named tags take the ids after them, in naming order.
inline constexpr TagId kUntaggedTag = 0;  // outside any scope
inline constexpr TagId kInternalTag = 1;  // memscope's own allocations
inline constexpr TagId kFirstNamedTag = 2;
static_assert((kMaxTags & (kMaxTags - 1)) == 0, "kMaxTags must be a power of two");
inline constexpr TagId kTagMask = kMaxTags - 1;

/// A row of a thread's block: one per tag for the blocks of the C++ operators, then one per
/// tag for those of the malloc family (row tag | kMallocRows). A block's header holds its
/// row, so its free credits the row it was charged to, whichever function frees it; and
/// the two halves give the figures of each family of functions.
using RowId = std::uint16_t;
inline constexpr RowId kMallocRows = kMaxTags;
inline constexpr std::size_t kRows = 2 * kMaxTags;
/// The row field of a block header is masked with this, so a corrupt header can never
/// index past a row block.
inline constexpr RowId kRowMask = kRows - 1;

/// The rows every unregistered or retired thread points at. Their limits are zero, like a
/// fresh row's, so every call takes the slow path; that path sees the thread is not active
/// and never writes them. All zeros: the block costs the program no file bytes (.bss).
struct TrapBlock {
    TagRow rows[kRows];
};
extern TrapBlock g_trap;

struct alignas(64) ThreadCounters {
    TagRow* rows = g_trap.rows;  // kRows rows of the thread's own, or the trap block
    TagId tag = kUntaggedTag;    // the innermost scope of the thread (Scope writes it)
    ThreadState state = ThreadState::unregistered;
    // Rows that left the fresh state: each may hold up to one batch back from the peaks.
    // Owner-written, read by peak_tolerance_bytes().
    std::atomic<std::uint32_t> rows_touched{0};
    ThreadCounters* prev = nullptr;  // registry list links, guarded by its mutex
    ThreadCounters* next = nullptr;
    pthread_t owner{};  // the thread, for the child of a fork (fork_safety.hpp)
};

/// The rare cases of count_allocation / count_free: a thread's first call, a thread in the
/// shared state, a row's first use, and a byte count that moved a batch away from what was
/// last published.
void count_allocation_slow(ThreadCounters& t, RowId row, std::size_t size) noexcept;
void count_free_slow(ThreadCounters& t, RowId row, std::size_t size) noexcept;

// The hot path, inlined into the operator new / delete of allocator_hook.cpp: a load, an
// add, one compare, two stores, all on one row of the calling thread's own block.

/// Counts an allocation of `size` bytes on row `r` and returns true, or returns false
/// without touching anything when the call must take the slow path.
[[gnu::always_inline]] inline bool count_allocation_fast(TagRow& r, std::size_t size) noexcept {
    const std::int64_t allocated =
        r.allocated.load(std::memory_order_relaxed) + static_cast<std::int64_t>(size);
    if (allocated >= r.allocated_limit) [[unlikely]]
        return false;
    r.allocated.store(allocated, std::memory_order_relaxed);
    r.allocations.store(r.allocations.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    return true;
}

/// The same for a free.
[[gnu::always_inline]] inline bool count_free_fast(TagRow& r, std::size_t size) noexcept {
    const std::int64_t freed =
        r.freed.load(std::memory_order_relaxed) + static_cast<std::int64_t>(size);
    if (freed >= r.freed_limit) [[unlikely]]
        return false;
    r.freed.store(freed, std::memory_order_relaxed);
    r.frees.store(r.frees.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
}

inline void count_allocation(ThreadCounters& t, RowId row, std::size_t size) noexcept {
    if (!count_allocation_fast(t.rows[row], size)) [[unlikely]]
        count_allocation_slow(t, row, size);
}

inline void count_free(ThreadCounters& t, RowId row, std::size_t size) noexcept {
    if (!count_free_fast(t.rows[row], size)) [[unlikely]]
        count_free_slow(t, row, size);
}

/// The calling thread's counters, defined in allocator_hook.cpp. initial-exec: a fixed
/// offset from the thread pointer, no call to __tls_get_addr, also when memscope ends up
/// inside a shared object; constinit: no TLS wrapper call to initialise it.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local ThreadCounters t_counters;

/// The number of ids handed out so far (named tags plus the reserved ones); tags.cpp.
[[nodiscard]] TagId tags_in_use() noexcept;
/// The name of an id below tags_in_use() ("" for untagged, "memscope" for memscope's own).
[[nodiscard]] std::string_view name_of(TagId id) noexcept;
/// The id of a name already interned; 0 when it is not (lock-free, never allocates).
[[nodiscard]] TagId find_tag(std::string_view name) noexcept;

/// Per-tag sums over every thread, live and exited, for ids below `count`.
struct TagSums {
    std::int64_t bytes = 0;             // live: allocated minus freed (never negative)
    std::uint64_t bytes_allocated = 0;  // allocated, ever
    std::uint64_t allocations = 0;
    std::uint64_t frees = 0;
    std::uint64_t peak = 0;
};
/// Fills `out[0..count)`; returns false (and fills nothing) when tracking is off.
bool sum_tags(TagSums* out, std::size_t count) noexcept;

/// One-time set-up that must happen before the first thread counts (called under the
/// registry lock by register_thread); implemented by the allocator hook.
void prepare_size_classes() noexcept;

}  // namespace memscope::detail

// SPDX-License-Identifier: MIT
// The registry of per-thread row blocks, the shared per-tag totals, and the readers of both.

#include "counters.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <array>
#include <cstring>
#include <limits>
#include <mutex>

#include "fork_safety.hpp"

namespace memscope::detail {

// Everything here is constant-initialised and trivially destructible, so it works for
// allocations made before main() and in static destructors, in any order.

constinit TrapBlock g_trap;

namespace {

std::mutex g_registry_mutex;  // guards the list, the free blocks, g_key and the peaks' reset
constinit ThreadCounters* g_head = nullptr;  // registered threads, newest first
constinit bool g_key_created = false;
constinit bool g_key_failed = false;
constinit pthread_key_t g_key{};

// A row block given back by an exited thread, zeroed, waiting for the next new thread.
// The link lives in the block itself (its first row is not in use while it waits).
struct FreeBlock {
    FreeBlock* next;
};
constinit FreeBlock* g_free_blocks = nullptr;
constexpr std::size_t kRowBlockBytes = sizeof(TagRow) * kRows;

// A row's shared figures, each on its own cache line: written by threads that exited,
// publish a batch, or count in the shared state; never on the ordinary allocation path.
// The peak of a tag follows the sum of both its rows: `published` and `peak` are used in
// the operators' row of each tag only (g_shared[tag]).
struct alignas(64) SharedRow {
    std::atomic<std::int64_t> retired_allocated{0};  // left behind by exited threads
    std::atomic<std::int64_t> retired_freed{0};
    std::atomic<std::uint64_t> retired_allocations{0};
    std::atomic<std::uint64_t> retired_frees{0};
    std::atomic<std::int64_t> published{0};  // sum of every row's published bytes, per tag
    std::atomic<std::uint64_t> peak{0};      // highest `published` (or sum) seen, per tag
};
constinit SharedRow g_shared[kRows];
alignas(64) constinit std::atomic<std::int64_t> g_published{0};  // sum over every tag
alignas(64) constinit std::atomic<std::uint64_t> g_peak{0};

void raise(std::atomic<std::uint64_t>& peak, std::int64_t bytes) noexcept {
    if (bytes <= 0) return;
    const auto candidate = static_cast<std::uint64_t>(bytes);
    std::uint64_t seen = peak.load(std::memory_order_relaxed);
    while (candidate > seen &&
           !peak.compare_exchange_weak(seen, candidate, std::memory_order_relaxed)) {
    }
}

// Adds `delta` bytes to what the peaks of the row's tag and of the whole program follow.
void publish_delta(RowId row, std::int64_t delta) noexcept {
    if (delta == 0) return;
    SharedRow& tag = g_shared[row & kTagMask];
    raise(tag.peak, tag.published.fetch_add(delta, std::memory_order_relaxed) + delta);
    raise(g_peak, g_published.fetch_add(delta, std::memory_order_relaxed) + delta);
}

std::int64_t live_bytes(const TagRow& r) noexcept {
    return r.allocated.load(std::memory_order_relaxed) - r.freed.load(std::memory_order_relaxed);
}

std::int64_t published_of(const TagRow& r) noexcept {
    return r.published;
}

// A call that reaches a limit publishes only when the row's count has moved this far from
// what it last published; otherwise it only moves the limits, touching no shared line. So
// a thread whose count stays put while it allocates and frees (a frame's churn) rarely
// writes a shared line, though its running sums grow without end.
constexpr std::int64_t kPublishStep = kBatch / 4;

// Places the limits so that, from the present sums, allocations can raise the count and
// frees lower it by less than a batch from what the row last published. Called with the
// count less than a batch away from it.
void set_limits(TagRow& r) noexcept {
    const std::int64_t allocated = r.allocated.load(std::memory_order_relaxed);
    const std::int64_t freed = r.freed.load(std::memory_order_relaxed);
    const std::int64_t drift = allocated - freed - r.published;
    r.allocated_limit = allocated + (kBatch - drift);
    r.freed_limit = freed + (kBatch + drift);
}

// A row in use has limits of at least one batch.
bool is_fresh(const TagRow& r) noexcept {
    return r.allocated_limit == 0;
}

// From here on every call of the thread takes the slow path and counts into the shared
// totals (the trap rows' bounds see to that).
void enter_shared_state(ThreadCounters& t) noexcept {
    t.state = ThreadState::shared;
    t.rows = g_trap.rows;
}

void unlink(ThreadCounters& t) noexcept {
    if (t.prev != nullptr)
        t.prev->next = t.next;
    else
        g_head = t.next;
    if (t.next != nullptr) t.next->prev = t.prev;
    t.prev = t.next = nullptr;
}

// Moves a thread's figures into the retired totals of each tag, publishes what its rows
// held back from the peaks, and puts its row block, zeroed, on the free list. From here on
// the thread (if it still runs) counts into the shared totals. Under the registry lock.
void retire_locked(ThreadCounters& t) noexcept {
    TagRow* rows = t.rows;
    const TagId count = tags_in_use();
    for (std::size_t i = 0; i < 2 * std::size_t{count}; ++i) {
        // The operators' rows of the tags in use, then their malloc rows.
        const auto row = static_cast<RowId>(i < count ? i : (i - count) | kMallocRows);
        TagRow& r = rows[row];
        if (is_fresh(r)) continue;
        SharedRow& s = g_shared[row];
        s.retired_allocated.fetch_add(r.allocated.load(std::memory_order_relaxed),
                                      std::memory_order_relaxed);
        s.retired_freed.fetch_add(r.freed.load(std::memory_order_relaxed),
                                  std::memory_order_relaxed);
        s.retired_allocations.fetch_add(r.allocations.load(std::memory_order_relaxed),
                                        std::memory_order_relaxed);
        s.retired_frees.fetch_add(r.frees.load(std::memory_order_relaxed),
                                  std::memory_order_relaxed);
        publish_delta(row, live_bytes(r) - published_of(r));
    }
    enter_shared_state(t);
    unlink(t);
    std::memset(static_cast<void*>(rows), 0, sizeof(TagRow) * count);
    std::memset(static_cast<void*>(rows + kMallocRows), 0, sizeof(TagRow) * count);
    auto* block = reinterpret_cast<FreeBlock*>(rows);
    block->next = g_free_blocks;
    g_free_blocks = block;
}

// Runs when a registered thread exits (pthread key destructors run after the C++
// thread_local destructors, so most late frees of the thread are still counted in its own
// rows).
void retire_thread(void* arg) noexcept {
    std::lock_guard lock(g_registry_mutex);
    retire_locked(*static_cast<ThreadCounters*>(arg));
}

// A zeroed row block: a recycled one, or fresh pages from the kernel (never from the
// allocator being counted). Null when the kernel refuses. Under the registry lock.
TagRow* take_row_block() noexcept {
    if (g_free_blocks != nullptr) {
        FreeBlock* block = g_free_blocks;
        g_free_blocks = block->next;
        block->next = nullptr;  // the first row's bytes: zero again
        return reinterpret_cast<TagRow*>(block);
    }
    void* p =
        ::mmap(nullptr, kRowBlockBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    return static_cast<TagRow*>(p);
}

void register_thread(ThreadCounters& t) noexcept {
    // pthread_atfork() and pthread_setspecific() may allocate through the malloc family,
    // which is counted too: meanwhile this thread counts in the shared totals, so those
    // calls never come back here to take the lock it holds.
    t.state = ThreadState::shared;
    std::lock_guard lock(g_registry_mutex);
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
    TagRow* rows = g_key_created ? take_row_block() : nullptr;
    if (rows == nullptr || pthread_setspecific(g_key, &t) != 0) {
        if (rows != nullptr) {
            auto* block = reinterpret_cast<FreeBlock*>(rows);
            block->next = g_free_blocks;
            g_free_blocks = block;
        }
        enter_shared_state(t);  // counted exactly, only less cheaply
        return;
    }
    t.rows = rows;
    t.owner = pthread_self();
    t.next = g_head;
    if (g_head != nullptr) g_head->prev = &t;
    g_head = &t;
    t.state = ThreadState::active;
}

void count_shared_allocation(RowId row, std::int64_t bytes) noexcept {
    SharedRow& s = g_shared[row];
    s.retired_allocated.fetch_add(bytes, std::memory_order_relaxed);
    s.retired_allocations.fetch_add(1, std::memory_order_relaxed);
    publish_delta(row, bytes);
}

void count_shared_free(RowId row, std::int64_t bytes) noexcept {
    SharedRow& s = g_shared[row];
    s.retired_freed.fetch_add(bytes, std::memory_order_relaxed);
    s.retired_frees.fetch_add(1, std::memory_order_relaxed);
    publish_delta(row, -bytes);
}

// Row `row` for a counting call that missed the fast path: registers the thread and
// starts a fresh row as needed. Null when the thread counts in the shared state.
TagRow* slow_row(ThreadCounters& t, RowId row) noexcept {
    if (t.state == ThreadState::unregistered) register_thread(t);
    if (t.state != ThreadState::active) return nullptr;
    TagRow& r = t.rows[row];
    if (is_fresh(r)) {
        set_limits(r);
        t.rows_touched.store(t.rows_touched.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
    }
    return &r;
}

// A row whose sums reached a limit: publishes its count if it moved a step from what was
// last published, and places the limits afresh.
void publish_row(RowId row, TagRow& r) noexcept {
    const std::int64_t delta = live_bytes(r) - r.published;
    if (delta >= kPublishStep || delta <= -kPublishStep) {
        r.published += delta;
        publish_delta(row, delta);
    }
    set_limits(r);
}

struct Sums {
    std::int64_t allocated = 0;
    std::int64_t freed = 0;
    std::uint64_t allocations = 0;
    std::uint64_t frees = 0;
    [[nodiscard]] std::int64_t bytes() const noexcept { return allocated - freed; }
};

// What exited threads left to a row. Under the registry lock.
Sums retired_locked(RowId row) noexcept {
    const SharedRow& s = g_shared[row];
    return {s.retired_allocated.load(std::memory_order_relaxed),
            s.retired_freed.load(std::memory_order_relaxed),
            s.retired_allocations.load(std::memory_order_relaxed),
            s.retired_frees.load(std::memory_order_relaxed)};
}

void add_row(Sums& sums, const TagRow& r) noexcept {
    sums.allocated += r.allocated.load(std::memory_order_relaxed);
    sums.freed += r.freed.load(std::memory_order_relaxed);
    sums.allocations += r.allocations.load(std::memory_order_relaxed);
    sums.frees += r.frees.load(std::memory_order_relaxed);
}

void add_sums(Sums& sums, const Sums& more) noexcept {
    sums.allocated += more.allocated;
    sums.freed += more.freed;
    sums.allocations += more.allocations;
    sums.frees += more.frees;
}

// Sums of one tag, both its rows, over the retired totals and every live thread. Under the
// registry lock.
Sums sum_tag_locked(TagId tag) noexcept {
    Sums sums = retired_locked(tag);
    add_sums(sums, retired_locked(static_cast<RowId>(tag | kMallocRows)));
    for (const ThreadCounters* t = g_head; t != nullptr; t = t->next) {
        add_row(sums, t->rows[tag]);
        add_row(sums, t->rows[tag | kMallocRows]);
    }
    return sums;
}

// The sums of each half of the rows: the C++ operators' blocks and the malloc family's.
struct SourceSums {
    Sums operators;
    Sums malloc_family;
    [[nodiscard]] Sums total() const noexcept {
        Sums t = operators;
        add_sums(t, malloc_family);
        return t;
    }
};

SourceSums sum_all_locked() noexcept {
    SourceSums total;
    const TagId count = tags_in_use();
    for (TagId tag = 0; tag < count; ++tag) {
        add_sums(total.operators, retired_locked(tag));
        add_sums(total.malloc_family, retired_locked(static_cast<RowId>(tag | kMallocRows)));
    }
    for (const ThreadCounters* t = g_head; t != nullptr; t = t->next) {  // rows front to back
        for (TagId tag = 0; tag < count; ++tag) add_row(total.operators, t->rows[tag]);
        for (TagId tag = 0; tag < count; ++tag)
            add_row(total.malloc_family, t->rows[tag | kMallocRows]);
    }
    return total;
}

// Under concurrency a block freed on one thread may be seen before its allocation on
// another: never report a negative transient as a huge unsigned figure.
std::int64_t clamp(std::int64_t bytes) noexcept {
    return bytes < 0 ? 0 : bytes;
}

}  // namespace

// fork(): the registry lock is held across the copy (locked last, after every object of
// fork_safety.hpp, since they allocate under their own locks), so the child never inherits
// it locked by a thread that does not exist there.
void registry_prepare_fork() noexcept {
    g_registry_mutex.lock();
}
void registry_after_fork_parent() noexcept {
    g_registry_mutex.unlock();
}

// In the child, only the thread that called fork() exists. The other threads' rows hold
// figures that stay right (the memory they counted was copied too), but glibc puts those
// threads' stacks, and with them their static TLS, back in its stack cache: a thread the
// child starts may get one, and its fresh TLS would land on a node of this list, cutting
// the list and losing the figures. So the threads are retired here, as if they had exited,
// and the list holds only the calling thread.
void registry_after_fork_child() noexcept {
    const pthread_t self = pthread_self();
    for (ThreadCounters* t = g_head; t != nullptr;) {
        ThreadCounters* next = t->next;
        if (pthread_equal(t->owner, self) == 0) retire_locked(*t);
        t = next;
    }
    g_registry_mutex.unlock();
}

void count_allocation_slow(ThreadCounters& t, RowId row, std::size_t size) noexcept {
    const auto bytes = static_cast<std::int64_t>(size);
    TagRow* r = slow_row(t, row);
    if (r == nullptr) return count_shared_allocation(row, bytes);
    const std::int64_t allocated = r->allocated.load(std::memory_order_relaxed) + bytes;
    r->allocated.store(allocated, std::memory_order_relaxed);
    r->allocations.store(r->allocations.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    if (allocated >= r->allocated_limit) publish_row(row, *r);
}

void count_free_slow(ThreadCounters& t, RowId row, std::size_t size) noexcept {
    const auto bytes = static_cast<std::int64_t>(size);
    TagRow* r = slow_row(t, row);
    if (r == nullptr) return count_shared_free(row, bytes);
    const std::int64_t freed = r->freed.load(std::memory_order_relaxed) + bytes;
    r->freed.store(freed, std::memory_order_relaxed);
    r->frees.store(r->frees.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (freed >= r->freed_limit) publish_row(row, *r);
}

bool sum_tags(TagSums* out, std::size_t count) noexcept {
    if constexpr (!MEMSCOPE_TRACKING) {
        return false;
    } else {
        count = count < kMaxTags ? count : kMaxTags;
        std::array<Sums, kMaxTags> sums;
        std::lock_guard lock(g_registry_mutex);
        // Thread by thread, each one's rows in order: its block is contiguous, so this reads
        // memory front to back rather than one line per thread per tag.
        for (std::size_t i = 0; i < count; ++i) {
            sums[i] = retired_locked(static_cast<RowId>(i));
            add_sums(sums[i], retired_locked(static_cast<RowId>(i | kMallocRows)));
        }
        for (const ThreadCounters* t = g_head; t != nullptr; t = t->next) {
            for (std::size_t i = 0; i < count; ++i) add_row(sums[i], t->rows[i]);
            for (std::size_t i = 0; i < count; ++i) add_row(sums[i], t->rows[i | kMallocRows]);
        }
        for (std::size_t i = 0; i < count; ++i) {
            const auto tag = static_cast<TagId>(i);
            const Sums& s = sums[i];
            raise(g_shared[tag].peak, s.bytes());
            out[i].bytes = clamp(s.bytes());
            out[i].bytes_allocated = static_cast<std::uint64_t>(clamp(s.allocated));
            out[i].allocations = s.allocations;
            out[i].frees = s.frees;
            out[i].peak = g_shared[tag].peak.load(std::memory_order_relaxed);
        }
        return true;
    }
}

std::int64_t internal_bytes() noexcept {
    if constexpr (MEMSCOPE_TRACKING) {
        std::lock_guard lock(g_registry_mutex);
        return sum_tag_locked(kInternalTag).bytes();
    } else {
        return 0;
    }
}

}  // namespace memscope::detail

namespace memscope {

AllocationStats allocation_stats() noexcept {
    AllocationStats stats;
    if constexpr (MEMSCOPE_TRACKING) {
        std::lock_guard lock(detail::g_registry_mutex);
        const detail::Sums s = detail::sum_all_locked().total();
        const std::int64_t bytes = detail::clamp(s.bytes());
        detail::raise(detail::g_peak, bytes);
        stats.total_allocated_bytes = static_cast<std::size_t>(bytes);
        stats.peak_allocated_bytes = detail::g_peak.load(std::memory_order_relaxed);
        stats.allocation_count = static_cast<std::size_t>(s.allocations);
        stats.deallocation_count = static_cast<std::size_t>(s.frees);
        stats.net_allocations =
            static_cast<std::int64_t>(s.allocations) - static_cast<std::int64_t>(s.frees);
    }
    return stats;
}

AllocationSources allocation_sources() noexcept {
    AllocationSources out;
    if constexpr (MEMSCOPE_TRACKING) {
        const auto fill = [](SourceStats& to, const detail::Sums& from) {
            to.current_bytes = static_cast<std::size_t>(detail::clamp(from.bytes()));
            to.allocation_count = from.allocations;
            to.deallocation_count = from.frees;
        };
        std::lock_guard lock(detail::g_registry_mutex);
        const detail::SourceSums s = detail::sum_all_locked();
        fill(out.operators, s.operators);
        fill(out.malloc_family, s.malloc_family);
    }
    return out;
}

bool tracking_enabled() noexcept {
    return MEMSCOPE_TRACKING != 0;
}

bool malloc_counting_enabled() noexcept {
    return MEMSCOPE_COUNT_MALLOC != 0;
}

void reset_peak() noexcept {
    if constexpr (MEMSCOPE_TRACKING) {
        std::lock_guard lock(detail::g_registry_mutex);
        const TagId count = detail::tags_in_use();
        std::int64_t total = 0;
        for (TagId tag = 0; tag < count; ++tag) {
            const std::int64_t bytes = detail::sum_tag_locked(tag).bytes();
            total += bytes;
            detail::g_shared[tag].peak.store(static_cast<std::uint64_t>(detail::clamp(bytes)),
                                             std::memory_order_relaxed);
        }
        detail::g_peak.store(static_cast<std::uint64_t>(detail::clamp(total)),
                             std::memory_order_relaxed);
    }
}

std::size_t peak_tolerance_bytes() noexcept {
    if constexpr (MEMSCOPE_TRACKING) {
        std::lock_guard lock(detail::g_registry_mutex);
        std::size_t rows = 0;
        for (const detail::ThreadCounters* t = detail::g_head; t != nullptr; t = t->next)
            rows += t->rows_touched.load(std::memory_order_relaxed);
        return rows * kPeakBatchBytes;
    } else {
        return 0;
    }
}

}  // namespace memscope

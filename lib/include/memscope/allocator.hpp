// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The tracked global allocator: every replaceable `operator new` / `operator delete` of the
/// program goes to mimalloc, and each thread counts what it allocates and frees in counters
/// only it writes. Reading sums them.

#include <cstddef>
#include <cstdint>

#include "memscope/build_config.hpp"
#include "memscope/fields.hpp"

namespace memscope {

/// Global allocator figures, summed over every thread (fields listed in fields.hpp).
///
/// Counted in the usable size of each block (`memscope::usable_size()`: what the caller may
/// use, memscope's 16-byte block header aside), written in the block at allocation and read
/// back at its free, so the books balance whatever form of `delete` releases a block and
/// whichever thread does. Both families of allocation functions are counted: the C++
/// operators, and the malloc family (`malloc`, `calloc`, `realloc`, `free`, the aligned
/// ones, and what glibc allocates through them, such as `strdup`) unless the build turned
/// that off (`malloc_counting_enabled()`); allocation_sources() tells them apart.
struct AllocationStats {
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
};

/// Memory of the whole process: what the operating system sees, beside what memscope counts.
struct ProcessMemory {
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
};

/// Reads the global counters: sums every live thread's counters and the total that exited
/// threads left behind. Takes no lock on the allocation path and allocates nothing; cheap
/// enough to call every frame (cost grows with the number of threads that ever allocated
/// and are still alive).
///
/// Current bytes and counts are exact: with no allocation in flight on another thread,
/// `total_allocated_bytes` is exactly the usable size of every live block. While other
/// threads allocate, each thread's figures are read at slightly different instants.
///
/// The peak is kept from per-thread batches (see `kPeakBatchBytes`): it may differ from the
/// true peak by at most `peak_tolerance_bytes()`. Returns all zeros when
/// `tracking_enabled()` is false.
[[nodiscard]] AllocationStats allocation_stats() noexcept;

/// The live figures of one family of allocation functions.
/// Fields (listed in fields.hpp): `current_bytes`, the usable bytes of its live blocks;
/// `allocation_count`, the blocks it allocated; `deallocation_count`, of those, the blocks
/// freed (by any function).
struct SourceStats {
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_SOURCE_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
};

/// allocation_stats() split by the family of functions that allocated each block: the sums
/// of the two are its totals. A block is its allocator's whichever function frees it (a
/// `malloc` block freed by `delete` counts as a malloc-family free).
struct AllocationSources {
    SourceStats operators;      ///< the global operator new and delete
    SourceStats malloc_family;  ///< malloc, calloc, realloc, aligned_alloc, ... and free
};

/// Reads both families' figures at once (same cost as allocation_stats()). All zeros when
/// tracking is off; malloc_family all zeros when malloc counting is.
[[nodiscard]] AllocationSources allocation_sources() noexcept;

/// True when this build counts allocations (CMake option `MEMSCOPE_TRACKING`, ON by
/// default); false in a build that keeps mimalloc but compiles the counting out.
[[nodiscard]] bool tracking_enabled() noexcept;

/// True when this build counts the malloc family too (CMake option `MEMSCOPE_COUNT_MALLOC`,
/// ON by default with mimalloc; off in sanitizer builds, whose runtimes own malloc, and
/// without tracking).
[[nodiscard]] bool malloc_counting_enabled() noexcept;

/// Starts a new peak window: the peak becomes the bytes in use now.
void reset_peak() noexcept;

/// Size of the batch after which a thread publishes one tag's byte count to the shared
/// peaks (the tag's and the program's). A thread keeps one row of counters per tag it has
/// allocated or freed under, and writes a shared cache line only when a row's count has
/// moved by this much since it last did, which keeps the allocation path free of
/// contention.
inline constexpr std::size_t kPeakBatchBytes = 256 * 1024;

/// Error bound of `peak_allocated_bytes`, and of each `TagStats::peak_bytes`: the reported
/// peak lies within `[true_peak - N * kPeakBatchBytes, true_peak + N * kPeakBatchBytes]`,
/// where N is the number of rows in use: for each live thread, the tags it has allocated
/// or freed under (at least one per thread that allocated). Every row can hold up to one
/// batch that the shared peaks have not seen yet, in either direction. Returns that bound
/// for the rows in use now; 0 when tracking is off.
[[nodiscard]] std::size_t peak_tolerance_bytes() noexcept;

/// Resident, peak resident, committed and peak committed bytes of the process. Committed
/// figures come from mimalloc's process info (glibc's `mallinfo2` in a system-allocator
/// build); resident bytes from `/proc/self/statm`, because mimalloc on Linux reports its
/// commit charge as the current RSS. Allocates nothing.
[[nodiscard]] ProcessMemory process_memory() noexcept;

/// Name of the allocator behind `operator new` in this build: "mimalloc" or "system"
/// (sanitizer builds, whose runtimes must see every allocation).
[[nodiscard]] const char* allocator_backend() noexcept;

}  // namespace memscope

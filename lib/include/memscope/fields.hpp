// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The one list of every figure memscope publishes.
///
/// Each X-macro below names a struct field once, together with how it is exported. The C++
/// structs, the JSON keys, the Prometheus metric names and the dashboard's columns are all
/// generated from these lists, so they cannot drift apart. A list entry reads:
///
///     X(type, field, kind, metric, help)
///
/// - `type`, `field`: the C++ member (and the JSON key, which is the field name verbatim);
/// - `kind`: `gauge` or `counter`, the Prometheus metric type;
/// - `metric`: the Prometheus name, following its conventions (`_bytes`, `_total`);
/// - `help`: one sentence, used as the struct comment and the Prometheus HELP text.
///
/// Example, printing every allocator figure:
///
///     #define PRINT(type, field, kind, metric, help) std::printf(#field " = %lld\n", (long long)s.field);
///     MEMSCOPE_ALLOCATION_STATS_FIELDS(PRINT)
///     #undef PRINT

/// Global figures of the tracked allocator (struct `memscope::AllocationStats`).
#define MEMSCOPE_ALLOCATION_STATS_FIELDS(X)                                                  \
    X(std::size_t, total_allocated_bytes, gauge, memscope_allocated_bytes,                   \
      "Bytes in use now through the global operator new and, where counted, the malloc "     \
      "family (mimalloc usable size).")                                                      \
    X(std::uint64_t, peak_allocated_bytes, gauge, memscope_allocated_peak_bytes,             \
      "Highest total_allocated_bytes seen since start or the last peak reset.")              \
    X(std::size_t, allocation_count, counter, memscope_allocations_total,                    \
      "Allocations made through the global operator new and the malloc family since start.") \
    X(std::size_t, deallocation_count, counter, memscope_deallocations_total,                \
      "Frees made through the global operator delete and free() since start.")               \
    X(std::int64_t, net_allocations, gauge, memscope_live_allocations,                       \
      "Allocations still live: allocation_count minus deallocation_count.")

/// The live figures of one family of allocation functions (struct `memscope::SourceStats`),
/// exported once per family under a `source` label: the C++ operators, the malloc family.
#define MEMSCOPE_SOURCE_STATS_FIELDS(X)                                                   \
    X(std::size_t, current_bytes, gauge, memscope_allocated_bytes_by_source,              \
      "Bytes in use now, by the family of functions that allocated them (operators: the " \
      "global operator new; malloc: the malloc family).")                                 \
    X(std::uint64_t, allocation_count, counter, memscope_allocations_by_source_total,     \
      "Allocations since start, by family of allocation functions.")                      \
    X(std::uint64_t, deallocation_count, counter, memscope_deallocations_by_source_total, \
      "Frees since start of the blocks each family allocated, whichever function freed them.")

/// Memory of the whole process (struct `memscope::ProcessMemory`).
#define MEMSCOPE_PROCESS_MEMORY_FIELDS(X)                                              \
    X(std::size_t, resident_bytes, gauge, memscope_process_resident_bytes,             \
      "Resident set size of the process (/proc/self/statm).")                          \
    X(std::size_t, peak_resident_bytes, gauge, memscope_process_resident_peak_bytes,   \
      "Highest resident set size of the process since it started.")                    \
    X(std::size_t, committed_bytes, gauge, memscope_process_committed_bytes,           \
      "Memory the allocator has committed from the operating system.")                 \
    X(std::size_t, peak_committed_bytes, gauge, memscope_process_committed_peak_bytes, \
      "Highest committed memory of the allocator since the process started.")

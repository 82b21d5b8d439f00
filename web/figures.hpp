// SPDX-License-Identifier: MIT
#pragma once
// The figures one response is built from, read once from the game's objects: every
// endpoint serialises a Figures (or part of one), so the game's locks are taken briefly
// and never while a response is being written.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"

// The reconciliation: what the subsystems say against what the
// allocator and the operating system see. An empty `metric` means the figure is already
// exported under another name (given in the help text) and is not repeated in /metrics.
#define MEMSCOPE_RECONCILIATION_FIELDS(X)                                                   \
    X(std::size_t, reported_bytes, gauge, ,                                                 \
      "Sum of the subsystems' reported bytes (memscope_reported_bytes).")                   \
    X(std::size_t, tracked_bytes, gauge, ,                                                  \
      "Bytes in use through the tracked operator new and malloc family "                    \
      "(memscope_allocated_bytes).")                                                        \
    X(std::size_t, committed_bytes, gauge, ,                                                \
      "Memory the allocator committed (memscope_process_committed_bytes).")                 \
    X(std::size_t, resident_bytes, gauge, ,                                                 \
      "Resident set size of the process (memscope_process_resident_bytes).")                \
    X(std::int64_t, unattributed_bytes, gauge, memscope_unattributed_bytes,                 \
      "Tracked bytes minus reported bytes: memory no subsystem reports (negative when the " \
      "subsystems report more than goes through the tracked allocator).")                   \
    X(std::int64_t, memscope_bytes, gauge, memscope_self_bytes,                             \
      "memscope's own footprint: its threads' live allocations plus its history buffers.")  \
    X(std::int64_t, memscope_thread_bytes, gauge, memscope_self_thread_bytes,               \
      "Live bytes allocated by memscope's own threads (server, sampler).")                  \
    X(std::size_t, history_bytes, gauge, memscope_self_history_bytes,                       \
      "Bytes held by the history ring of samples.")

namespace memscope {
class History;
}

namespace memscope::web {

/// Reported, tracked, committed and resident memory side by side.
struct Reconciliation {
#define MEMSCOPE_X_(type, field, kind, metric, help) type field = 0;
    MEMSCOPE_RECONCILIATION_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
};

/// Everything the read-only endpoints show, read at one moment.
struct Figures {
    std::int64_t unix_ms = 0;                   ///< when it was read
    AllocationStats allocator;                  ///< allocation_stats()
    AllocationSources sources;                  ///< allocation_sources(), read just after
    ProcessMemory process;                      ///< process_memory()
    std::vector<SubsystemSnapshot> subsystems;  ///< budget.snapshot(), sorted by name
    BudgetTotals totals;                        ///< budget.totals()
    float warning_threshold = 0.0f;             ///< budget.warning_threshold()
    std::uint64_t last_event_sequence = 0;      ///< budget.last_event_sequence()
    std::uint64_t last_mark_id = 0;             ///< the server's newest mark (0: none)
    EventCounts event_counts;                   ///< budget.event_counts()
    FrameStats frames;                          ///< budget.frame_stats()
    Reconciliation reconciliation;              ///< derived from the above
};

/// One family of allocation functions as exported: its name, the JSON key and the value of
/// the `source` label of /metrics, and its figures.
struct NamedSource {
    std::string_view name;
    const SourceStats& stats;
};

/// The families of `s` in the order they are exported.
inline std::array<NamedSource, 2> named_sources(const AllocationSources& s) {
    return {{{"operators", s.operators}, {"malloc", s.malloc_family}}};
}

/// Reads every figure. `history` may be null (its footprint then counts as 0).
[[nodiscard]] Figures read_figures(const MemoryBudget& budget, const History* history);

/// Milliseconds since the Unix epoch, now.
[[nodiscard]] std::int64_t unix_ms_now();

/// True for the fields exported as byte figures (named "..._bytes"): these get a
/// formatted string beside the integer.
constexpr bool is_byte_field(std::string_view name) {
    return name.ends_with("_bytes");
}

}  // namespace memscope::web

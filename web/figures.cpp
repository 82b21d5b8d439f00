// SPDX-License-Identifier: MIT
// read_figures(): one consistent-enough reading of the allocator, the process and the
// budget. Each source is read under its own lock, one after the other; the game is never
// held while JSON is written.

#include "figures.hpp"

#include <chrono>

#include "memscope/history.hpp"
#include "memscope/internal.hpp"

namespace memscope::web {

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Figures read_figures(const MemoryBudget& budget, const History* history) {
    Figures f;
    f.unix_ms = unix_ms_now();
    f.subsystems = budget.snapshot();
    f.totals = budget.totals();
    f.warning_threshold = budget.warning_threshold();
    f.last_event_sequence = budget.last_event_sequence();
    f.event_counts = budget.event_counts();
    f.frames = budget.frame_stats();
    f.allocator = allocation_stats();
    f.sources = allocation_sources();
    f.process = process_memory();

    Reconciliation& r = f.reconciliation;
    r.reported_bytes = f.totals.current_bytes;
    r.tracked_bytes = f.allocator.total_allocated_bytes;
    r.committed_bytes = f.process.committed_bytes;
    r.resident_bytes = f.process.resident_bytes;
    r.unattributed_bytes =
        static_cast<std::int64_t>(r.tracked_bytes) - static_cast<std::int64_t>(r.reported_bytes);
    r.memscope_thread_bytes = detail::internal_bytes();
    r.history_bytes = history != nullptr ? history->footprint_bytes() : 0;
    r.memscope_bytes = r.memscope_thread_bytes + static_cast<std::int64_t>(r.history_bytes);
    return f;
}

}  // namespace memscope::web

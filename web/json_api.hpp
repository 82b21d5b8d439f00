// SPDX-License-Identifier: MIT
#pragma once
// The JSON documents of /api/v1/, written from the X-macro lists of fields.hpp, budget.hpp
// and figures.hpp, so that a field added to a list appears in the C++ struct, the JSON
// and /metrics at once.
//
// Conventions of every document: byte figures are integers; an object that has byte
// figures also has a "formatted" object with the same keys holding human-readable strings
// ("512.0 MB"), beside the integers, never instead; fractions are plain numbers (0.87).

#include <cstdint>
#include <string>
#include <vector>

#include "figures.hpp"
#include "memscope/json.hpp"

namespace memscope {
class Sampler;
struct TrendResult;
}  // namespace memscope

namespace memscope::web {

/// How much of an object to write: everything, or the bare figures (history samples).
enum class Detail { full, compact };

/// The allocator's figures (plus, in full: tracking_enabled, backend, peak tolerance and
/// `sources`, the totals split by family of allocation functions; `sources` is read in full
/// only).
void write_allocator(JsonWriter& w, const AllocationStats& stats, const AllocationSources& sources,
                     Detail detail = Detail::full);
/// `{"malloc_counted": bool, "operators": {...}, "malloc": {...}}`: each family's figures.
void write_sources(JsonWriter& w, const AllocationSources& sources);
/// The process's resident and committed memory.
void write_process(JsonWriter& w, const ProcessMemory& process, Detail detail = Detail::full);
/// One row of the subsystem table, with its `source`; `reported_bytes` and
/// `reported_count` on rows with a report (reported, both), `estimate_error_bytes` on
/// `both` rows.
void write_subsystem(JsonWriter& w, const SubsystemSnapshot& row);
/// The totals against the total budget, with the warning threshold.
void write_totals(JsonWriter& w, const BudgetTotals& totals, float warning_threshold);
/// Reported, tracked, committed, resident, unattributed and memscope's own bytes, then
/// `subsystems`: per row of `rows`, its measured and reported bytes and their difference.
void write_reconciliation(JsonWriter& w, const Reconciliation& r,
                          const std::vector<SubsystemSnapshot>& rows);
/// One budget event.
void write_event(JsonWriter& w, const BudgetEvent& event);
/// One trend result (without a name).
void write_trend_fields(JsonWriter& w, const TrendResult& trend);
/// The global trend and one per subsystem in `rows`.
void write_trends(JsonWriter& w, const Sampler& sampler,
                  const std::vector<SubsystemSnapshot>& rows);

/// A `both` row's report minus its measurement: > 0 when the game's estimate is too high.
/// 0 on the other rows.
[[nodiscard]] std::int64_t estimate_error_bytes(const SubsystemSnapshot& row);

// Whole documents, one per endpoint.

/// GET /api/v1/allocator
[[nodiscard]] std::string allocator_document(const Figures& f);
/// GET /api/v1/process
[[nodiscard]] std::string process_document(const Figures& f);
/// GET /api/v1/subsystems
[[nodiscard]] std::string subsystems_document(const Figures& f);
/// GET /api/v1/totals
[[nodiscard]] std::string totals_document(const Figures& f);
/// GET /api/v1/reconciliation
[[nodiscard]] std::string reconciliation_document(const Figures& f);
/// GET /api/v1/events?since=SEQ
[[nodiscard]] std::string events_document(const MemoryBudget& budget, std::uint64_t since);
/// GET /api/v1/frames?since=SEQ
[[nodiscard]] std::string frames_document(const MemoryBudget& budget, std::uint64_t since);
/// GET /api/v1/history?since=SEQ
[[nodiscard]] std::string history_document(const Sampler& sampler, std::uint64_t since);
/// GET /api/v1/trends
[[nodiscard]] std::string trends_document(const Sampler& sampler, const Figures& f);
/// GET /api/v1/snapshot: all of the above but the history samples, and `events` as the
/// event list (null leaves the key out: the live stream sends events one by one instead).
[[nodiscard]] std::string snapshot_document(const Sampler& sampler, const Figures& f,
                                            const std::vector<BudgetEvent>* events);

/// "2026-11-21T10:00:00.123Z" for a time in milliseconds since the Unix epoch.
[[nodiscard]] std::string iso8601_utc(std::int64_t unix_ms);

}  // namespace memscope::web

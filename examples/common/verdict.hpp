// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// A budget verdict for CI pipelines: did a run stay within its memory budgets? Reads a
/// MemoryBudget (peaks, time over the threshold and over budget, events) and gives a
/// pass/fail with reasons and a JSON report. The voxel demo writes it with `--verdict FILE`
/// and serves it at GET /api/v1/verdict; any game can do the same:
///
///     memscope_examples::VerdictRecorder verdict(budget, {.program = "my_game"});
///     server.set_verdict_provider([&] { return verdict.evaluate().json; });
///     ... each frame: verdict.poll();
///     ... at exit:    auto v = verdict.evaluate();  write v.json;  return v.exit_code();
///
/// The document (version 1) is described in docs/demo.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "frame_times.hpp"

namespace memscope {
class MemoryBudget;
}

namespace memscope_examples {

/// What the verdict reports and what makes it fail.
struct VerdictOptions {
    std::string program = "game";  ///< written into the report
    /// A leak_suspect event fails the verdict too (by default only budgets do: leak
    /// suspicion is a heuristic, a budget is a hard figure).
    bool fail_on_leak = false;
};

/// One subsystem's (or the total's) line of the verdict.
struct BudgetLine {
    std::string name;                       ///< subsystem name, or "(total)"
    std::size_t current_bytes = 0;          ///< as last reported
    std::size_t peak_bytes = 0;             ///< highest ever reported
    std::size_t budget_bytes = 0;           ///< 0: unbudgeted
    double peak_usage = 0.0;                ///< peak / budget (0 when unbudgeted)
    double seconds_over_threshold = 0.0;    ///< time above the warning threshold
    double seconds_over_budget = 0.0;       ///< time above 100% of the budget
    std::uint64_t warning_events = 0;       ///< warning events seen
    std::uint64_t over_budget_events = 0;   ///< over_budget events seen
    std::uint64_t leak_suspect_events = 0;  ///< leak_suspect events seen
    bool exceeded = false;  ///< the peak went over the budget (or an over_budget event fired)
};

/// The outcome of evaluate().
struct Verdict {
    bool pass = true;                    ///< no failure
    std::vector<std::string> failures;   ///< one sentence per reason, empty when passing
    std::vector<BudgetLine> subsystems;  ///< sorted by name
    BudgetLine total;                    ///< all subsystems against the total budget
    std::string json;                    ///< the report document
    /// 0 when passing, 1 when failing: what a CI step should exit with.
    [[nodiscard]] int exit_code() const { return pass ? 0 : 1; }
};

/// Follows a MemoryBudget's events so that the verdict counts every one of them, even when
/// more fired than the budget keeps in its list. Thread-safe: poll() from the game loop,
/// evaluate() from any thread (the dashboard's verdict route calls it on a server thread).
class VerdictRecorder {
  public:
    /// A recorder of `budget`, which must outlive it.
    explicit VerdictRecorder(const memscope::MemoryBudget& budget, VerdictOptions options = {});

    /// Counts the events fired since the last call. Cheap when none fired; call it every
    /// frame (or at least more often than the budget's event list overflows).
    void poll();

    /// Progress figures written into the report: frames run and the time they represent.
    void set_progress(std::uint64_t frames, double simulated_seconds);

    /// Records the game thread's work time on frame `frame` (see FrameTimes), and how much
    /// of it the thread spent waiting for a CPU (CpuWaitClock); the report carries the
    /// figures under "frame_time" and, less the waits, "frame_time_without_cpu_wait".
    /// Cheap: call it every frame.
    void record_frame(std::uint64_t frame, std::chrono::nanoseconds work,
                      std::chrono::nanoseconds cpu_wait = std::chrono::nanoseconds(0));

    /// The frame times recorded so far.
    [[nodiscard]] FrameTimes::Summary frame_times() const;
    /// The same, less each frame's wait for a CPU.
    [[nodiscard]] FrameTimes::Summary frame_times_without_cpu_wait() const;

    /// Polls, then judges the budget as it stands now.
    [[nodiscard]] Verdict evaluate();

  private:
    struct Counts {
        std::uint64_t warning = 0, over_budget = 0, leak_suspect = 0;
    };
    void poll_locked();

    const memscope::MemoryBudget& budget_;
    const VerdictOptions options_;
    mutable std::mutex mutex_;
    std::uint64_t last_sequence_ = 0;
    std::uint64_t missed_events_ = 0;  // fell out of the budget's list before a poll
    std::map<std::string, Counts, std::less<>> counts_;
    std::uint64_t frames_ = 0;
    double simulated_seconds_ = 0.0;
    FrameTimes frame_times_;
    FrameTimes frame_times_without_cpu_wait_;
};

}  // namespace memscope_examples

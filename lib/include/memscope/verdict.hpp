// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The budget verdict, for CI pipelines: did a run stay within its memory budgets, and did
/// any subsystem's peak rise over an earlier run's? Reads a MemoryBudget (peaks, time over
/// the threshold and over budget, events) and gives a pass/fail with reasons, a JSON
/// document and a JUnit XML report. Any game can gate its CI on it:
///
///     memscope::VerdictRecorder verdict(budget, {.program = "my_game",
///                                                .baseline_path = "baseline.json"});
///     server.set_verdict_provider([&] { return verdict.evaluate().json; });
///     ... each frame: verdict.poll();
///     ... at exit:    auto v = verdict.evaluate();  write v.json and v.junit_xml();
///                     return v.exit_code();
///
/// The formats and exit codes are described in docs/verdict.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "memscope/frame_times.hpp"

namespace memscope {

class MemoryBudget;

/// What the verdict reports and what makes it fail.
struct VerdictOptions {
    std::string program = "game";  ///< written into the report
    /// A leak_suspect event fails the verdict too (by default only budgets do: leak
    /// suspicion is a heuristic, a budget is a hard figure).
    bool fail_on_leak = false;
    /// The verdict document of an earlier run: each subsystem's peak may not rise over its
    /// peak there by more than the tolerance. Empty: no baseline (unless baseline_json).
    std::string baseline_path{};
    /// The same document given as text; used instead of baseline_path when not empty.
    std::string baseline_json{};
    /// How far a peak may rise over (or fall below) the baseline's without being reported,
    /// as a fraction of the baseline peak; the larger of this and baseline_tolerance_bytes.
    double baseline_tolerance = 0.05;
    std::size_t baseline_tolerance_bytes = 0;  ///< the same allowance in bytes
};

/// One subsystem's (or the total's) line of the verdict.
struct VerdictLine {
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
    std::string failure;    ///< why it failed its budget (a sentence); empty when within
};

/// How a subsystem's peak compares with the baseline's.
enum class BaselineStatus : std::uint8_t {
    within,  ///< within the tolerance either way
    rose,    ///< rose by more than the tolerance: a failure
    fell,    ///< fell by more than the tolerance: the baseline can be lowered
    added,   ///< not in the baseline: reported, not a failure
};

/// "within", "rose", "fell", "new" (a subsystem absent from the baseline).
[[nodiscard]] const char* to_string(BaselineStatus status) noexcept;

/// One subsystem against the baseline.
struct BaselineLine {
    std::string name;                                ///< subsystem name
    std::size_t baseline_peak_bytes = 0;             ///< its peak in the baseline (0 when added)
    std::size_t peak_bytes = 0;                      ///< its peak in this run
    std::size_t tolerance_bytes = 0;                 ///< the allowance either way
    BaselineStatus status = BaselineStatus::within;  ///< the comparison
};

/// A rule beyond the budgets ("no leak suspicion", "baseline: Meshes", "frame budget:
/// Entities", one per frame budget, failed by any frame over it): one JUnit test case.
struct VerdictRule {
    std::string name;     ///< the test case's name
    std::string failure;  ///< why it failed; empty when it passed
    bool error = false;   ///< the rule could not be checked (an unusable baseline)
};

/// The outcome of evaluate().
struct Verdict {
    bool pass = true;                     ///< no failure
    std::vector<std::string> failures;    ///< one sentence per reason, empty when passing
    std::vector<std::string> notes;       ///< not failures: peaks that fell, new subsystems
    std::vector<VerdictLine> subsystems;  ///< sorted by name
    VerdictLine total;                    ///< all subsystems against the total budget
    std::vector<VerdictRule> rules;       ///< the rules checked beyond the budgets
    std::vector<BaselineLine> baseline;   ///< one per subsystem when a baseline was given
    std::string baseline_error;           ///< why the baseline could not be used; else empty
    std::string program;                  ///< VerdictOptions::program
    double elapsed_seconds = 0.0;         ///< wall time since the recorder was created
    std::string json;                     ///< the report document

    /// What a CI step should exit with: 0 passing, 1 a budget or rule failed, 2 the
    /// baseline could not be read (whatever else failed: the run was not fully judged).
    [[nodiscard]] int exit_code() const { return !baseline_error.empty() ? 2 : pass ? 0 : 1; }

    /// The verdict as a JUnit XML report: one <testsuite name="memscope"> holding a test
    /// case per subsystem and for the total (classname "memscope.budget"), and one per rule
    /// (classname "memscope.rule"). Valid XML 1.0 whatever the names hold.
    [[nodiscard]] std::string junit_xml() const;
};

/// Follows a MemoryBudget's events so that the verdict counts every one of them, even when
/// more fired than the budget keeps in its list. Thread-safe: poll() from the game loop,
/// evaluate() from any thread (the dashboard's verdict route calls it on a server thread).
class VerdictRecorder {
  public:
    /// A recorder of `budget`, which must outlive it. Reads the baseline, if any, now.
    explicit VerdictRecorder(const MemoryBudget& budget, VerdictOptions options = {});

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

    /// Why the baseline given in the options cannot be used; empty when it can, or when
    /// none was given. A program may check it at start instead of after its run.
    [[nodiscard]] const std::string& baseline_error() const { return baseline_error_; }

    /// Polls, then judges the budget as it stands now.
    [[nodiscard]] Verdict evaluate();

  private:
    struct Counts {
        std::uint64_t warning = 0, over_budget = 0, leak_suspect = 0;
    };
    void poll_locked();
    void collect_lines(Verdict& v) const;
    void judge_budgets(Verdict& v) const;
    void judge_frames(Verdict& v) const;
    void judge_baseline(Verdict& v) const;
    void write_document(Verdict& v) const;

    const MemoryBudget& budget_;
    const VerdictOptions options_;
    const std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
    std::map<std::string, std::size_t, std::less<>> baseline_peaks_;  // name -> peak_bytes
    std::string baseline_error_;  // why the baseline is unusable; empty when fine or none
    bool has_baseline_ = false;
    mutable std::mutex mutex_;
    std::uint64_t last_sequence_ = 0;
    std::uint64_t missed_events_ = 0;  // fell out of the budget's list before a poll
    std::map<std::string, Counts, std::less<>> counts_;
    std::uint64_t frames_ = 0;
    double simulated_seconds_ = 0.0;
    FrameTimes frame_times_;
    FrameTimes frame_times_without_cpu_wait_;
};

}  // namespace memscope

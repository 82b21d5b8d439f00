// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Allocations per frame: what each frame allocated, per subsystem and in total, and frame
/// budgets that catch churn, the frames that make thousands of allocations while the bytes
/// stay flat. The game ends each frame with one call; the rest is MemoryBudget's:
///
///     memscope::MemoryBudget budget;
///     budget.set_frame_budget("Entities", {.max_allocations = 5000});
///     budget.set_frame_budget(memscope::kTotalName, {.max_allocations = 20000});
///     budget.on_frame_over_budget([](const memscope::FrameBudgetEvent& e) { ... });
///     for (std::uint64_t frame = 1; running; ++frame) {
///         simulate();                 // allocations inside MEMSCOPE_SCOPE("Entities")...
///         budget.end_frame(frame);    // ...are this frame's Entities allocations
///     }
///
/// A frame is the time between two end_frame() calls, and it counts what every thread
/// allocated in that time (a job system's workers included), per tag (see scope.hpp): a
/// subsystem's frame figures are those of the tag of its name. memscope's own allocations
/// (its server and sampler threads) are in no frame. The allocation path does nothing for
/// frames: end_frame() reads the running sums the counters keep anyway.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

/// What one frame allocated, of one subsystem or of the whole program.
struct FrameCounts {
    std::uint64_t allocations = 0;      ///< blocks allocated during the frame
    std::uint64_t frees = 0;            ///< blocks freed during the frame (whenever allocated)
    std::uint64_t bytes_allocated = 0;  ///< usable bytes of the blocks allocated
};

/// A frame budget: the most one frame may allocate. A field at 0 sets no limit; a budget
/// with both at 0 is none.
struct FrameBudget {
    std::uint64_t max_allocations = 0;  ///< allocations per frame (0: no limit)
    std::uint64_t max_bytes = 0;        ///< bytes allocated per frame (0: no limit)
    /// True when `counts` breaks the budget.
    [[nodiscard]] bool exceeded_by(const FrameCounts& counts) const noexcept {
        return (max_allocations != 0 && counts.allocations > max_allocations) ||
               (max_bytes != 0 && counts.bytes_allocated > max_bytes);
    }
    /// True when neither field sets a limit.
    [[nodiscard]] bool none() const noexcept { return max_allocations == 0 && max_bytes == 0; }
};

/// One subsystem's part of a frame.
struct FrameSubsystem {
    std::string name;          ///< the tag's name; "(untagged)" for allocations outside any scope
    FrameCounts counts;        ///< what it allocated and freed in the frame
    bool over_budget = false;  ///< it broke its frame budget in this frame
};

/// One frame, as end_frame() recorded it.
struct FrameRecord {
    std::uint64_t sequence = 0;                  ///< 1, 2, 3... in the order end_frame() was called
    std::uint64_t frame = 0;                     ///< the number the game passed to end_frame()
    std::chrono::system_clock::time_point time;  ///< when it ended
    double duration_ms = 0.0;  ///< since the previous end_frame(); 0 for the first
    FrameCounts total;         ///< every tag but memscope's own
    bool over_budget = false;  ///< the total broke its frame budget (kTotalName)
    /// The tags that allocated or freed anything in the frame, in id order.
    std::vector<FrameSubsystem> subsystems;
};

/// Upper bounds of the buckets of the allocations-per-frame histogram (FrameStats), the
/// Prometheus histogram `memscope_frame_allocations`; one more bucket holds the rest.
inline constexpr std::array<std::uint64_t, 14> kFrameAllocationBuckets = {
    0,      10,     30,      100,     300,       1'000,     3'000,
    10'000, 30'000, 100'000, 300'000, 1'000'000, 3'000'000, 10'000'000};

/// One frame budget and how often it was broken.
struct FrameBudgetStatus {
    std::string name;                   ///< the subsystem, or kTotalName
    FrameBudget budget;                 ///< the budget in force
    std::uint64_t frames_over = 0;      ///< frames that broke it since it was set
    std::uint64_t last_frame_over = 0;  ///< the number of the last such frame (0: none)
};

/// Frames since the MemoryBudget was made.
struct FrameStats {
    std::uint64_t frames = 0;                    ///< end_frame() calls
    std::uint64_t last_frame = 0;                ///< the last frame number passed
    std::uint64_t allocations = 0;               ///< total allocations over every frame
    std::uint64_t bytes_allocated = 0;           ///< total bytes allocated over every frame
    std::uint64_t worst_allocations = 0;         ///< the most allocations one frame made
    std::uint64_t worst_frame = 0;               ///< its frame number
    std::uint64_t frames_over_total_budget = 0;  ///< frames over the total frame budget
    /// Frames per bucket of allocations (not cumulative): bucket i holds frames with at
    /// most kFrameAllocationBuckets[i] allocations and more than the bound before; the
    /// last holds the rest.
    std::array<std::uint64_t, kFrameAllocationBuckets.size() + 1> allocation_histogram{};
    std::vector<FrameBudgetStatus> budgets;  ///< every frame budget, by name
};

/// Passed to frame budget callbacks, and what the `frame_over_budget` event says.
struct FrameBudgetEvent {
    std::string_view subsystem;  ///< the subsystem, or kTotalName
    std::uint64_t frame = 0;     ///< the frame that broke the budget
    FrameCounts counts;          ///< what the subsystem allocated in it
    FrameBudget budget;          ///< the budget it broke
    /// Frames that broke this budget since the last announced one, without an event of
    /// their own (the announcements are rate-limited; see BudgetOptions).
    std::uint64_t unannounced_frames = 0;
};

/// A frame budget callback. Runs on the thread that called end_frame(), outside every
/// memscope lock.
using FrameBudgetCallback = std::function<void(const FrameBudgetEvent&)>;

}  // namespace memscope

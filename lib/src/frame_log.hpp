// SPDX-License-Identifier: MIT
#pragma once
// FrameLog: the per-frame books behind MemoryBudget::end_frame(). It turns the counters'
// running sums per tag, read at the end of each frame, into what each frame allocated;
// keeps the last frames in a ring whose slots are reused (no allocation once it is full);
// and checks the frame budgets, deciding which breaches are announced under the rate
// limit. Not thread-safe: MemoryBudget calls it under its lock, with sums read before.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "counters.hpp"
#include "memscope/frames.hpp"

namespace memscope::detail {

/// A frame budget breach to announce: `event.subsystem` is left empty, to point at `name`
/// once the alarm has a fixed place.
struct FrameAlarm {
    std::string name;
    FrameBudgetEvent event;
};

class FrameLog {
  public:
    using Clock = std::chrono::steady_clock;

    FrameLog(std::size_t capacity, std::chrono::milliseconds alarm_interval);
    FrameLog() : FrameLog(600, std::chrono::milliseconds(1000)) {}

    /// The counters' sums at the start line (what the first frame is counted from).
    void start(const TagSums* sums, std::size_t count);

    /// Records frame `frame` from the sums per tag id read at its end (`count` ids, index
    /// == id), checks the budgets, and appends to `announce` the breaches to announce now.
    void record(std::uint64_t frame, Clock::time_point now,
                std::chrono::system_clock::time_point wall, const TagSums* sums, std::size_t count,
                std::vector<FrameAlarm>& announce);

    void set_budget(std::string_view name, FrameBudget budget);
    [[nodiscard]] FrameBudget budget(std::string_view name) const;

    [[nodiscard]] std::vector<FrameRecord> frames(std::uint64_t after_sequence) const;
    [[nodiscard]] FrameStats stats() const;

  private:
    struct Counted {
        std::uint64_t allocations = 0;
        std::uint64_t frees = 0;
        std::uint64_t bytes_allocated = 0;
    };
    struct TagPart {
        TagId id = 0;
        bool over_budget = false;
        FrameCounts counts;
    };
    struct Slot {
        std::uint64_t sequence = 0;
        std::uint64_t frame = 0;
        std::chrono::system_clock::time_point wall;
        double duration_ms = 0.0;
        FrameCounts total;
        bool over_budget = false;
        std::vector<TagPart> parts;  // cleared and refilled: keeps its capacity
    };
    struct Budget {
        std::string name;
        FrameBudget budget;
        TagId id = 0;  // the tag of `name` once interned (0: not yet); unused for the total
        bool total = false;
        std::uint64_t frames_over = 0;
        std::uint64_t last_frame_over = 0;
        bool announced = false;
        Clock::time_point last_announced;
        std::uint64_t unannounced = 0;
    };

    // Announces a breach of `b` by frame `frame` if the rate limit allows, else counts it.
    void breach(Budget& b, std::uint64_t frame, const FrameCounts& counts, Clock::time_point now,
                std::vector<FrameAlarm>& announce);

    std::size_t capacity_;
    std::chrono::milliseconds alarm_interval_;
    std::vector<Counted> previous_;  // the sums at the end of the last frame, per tag id
    std::vector<Slot> ring_;         // grows to capacity_, then wraps
    std::size_t next_slot_ = 0;
    std::uint64_t sequence_ = 0;
    Clock::time_point last_end_;
    std::vector<Budget> budgets_;
    FrameStats stats_;  // budgets left empty: filled by stats()
};

}  // namespace memscope::detail

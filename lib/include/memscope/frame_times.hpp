// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Frame work time: how long the game thread worked on each frame (simulation, reports,
/// memscope's calls; not the sleep that paces it). Kept as a histogram since start, so
/// that any percentile can be read at any time in constant memory, and so that a script
/// can subtract two readings to get the frames of one stretch of time. The verdict
/// (memscope/verdict.hpp) carries them; a game may also keep its own.
///
///     memscope::FrameTimes times;
///     ... each frame: auto t0 = clock::now(); work(); times.add(frame, clock::now() - t0);
///     auto s = times.summary();   // s.p99_ms, s.worst_ms, s.histogram

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace memscope {

/// How long the calling thread has waited, runnable, for a CPU since it started: the
/// scheduler's run-queue delay, from /proc/thread-self/schedstat (Linux). A frame's time
/// less this wait is its own work plus any wait it was made to do (a lock, I/O), without
/// the time other threads and programs had the CPU: what tells a stall from a busy machine.
/// Always zero where the kernel does not say. Create and read it on the thread it measures.
class CpuWaitClock {
  public:
    CpuWaitClock();
    ~CpuWaitClock();
    CpuWaitClock(const CpuWaitClock&) = delete;
    CpuWaitClock& operator=(const CpuWaitClock&) = delete;

    /// The total wait so far (one pread() of a few bytes).
    [[nodiscard]] std::chrono::nanoseconds now() const;

  private:
    int fd_ = -1;
};

/// The frame times of a run. Not thread-safe: the owner synchronises (VerdictRecorder).
class FrameTimes {
  public:
    /// Histogram buckets: bucket i holds times up to kFirstBucketMs * 2^(i/4), so that a
    /// percentile read from it is at most 19% above the true value; the last bucket holds
    /// everything longer (about 10 s and more).
    static constexpr double kFirstBucketMs = 0.01;
    static constexpr std::size_t kBuckets = 81;
    /// A frame of a 60 Hz game: work beyond this misses the frame.
    static constexpr double kFrameBudgetMs = 1000.0 / 60.0;

    /// One non-empty bucket of the histogram.
    struct Bucket {
        double le_ms = 0;         ///< upper bound (inclusive); infinity for the last bucket
        std::uint64_t count = 0;  ///< frames in this bucket (not cumulative)
    };

    /// What summary() reads.
    struct Summary {
        std::uint64_t frames = 0;       ///< frames measured
        double mean_ms = 0;             ///< exact
        double p50_ms = 0;              ///< upper bound of the bucket holding the median
        double p99_ms = 0;              ///< upper bound of the bucket holding the 99th percentile
        double worst_ms = 0;            ///< exact
        std::uint64_t worst_frame = 0;  ///< the frame number of the worst
        std::uint64_t over_budget_frames = 0;  ///< frames whose work took over kFrameBudgetMs
        std::vector<Bucket> histogram;         ///< the non-empty buckets, shortest first
    };

    /// Records frame `frame`, whose work took `work`.
    void add(std::uint64_t frame, std::chrono::nanoseconds work);

    /// The figures so far.
    [[nodiscard]] Summary summary() const;

    /// The upper bound of bucket `i`, in milliseconds.
    [[nodiscard]] static double bucket_bound_ms(std::size_t i);

  private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t frames_ = 0;
    std::uint64_t over_budget_ = 0;
    double total_ms_ = 0;
    double worst_ms_ = 0;
    std::uint64_t worst_frame_ = 0;
};

}  // namespace memscope

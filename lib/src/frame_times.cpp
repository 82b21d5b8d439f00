// SPDX-License-Identifier: MIT
// Frame work times: a histogram of quarter-octave buckets, the exact mean and worst; and the
// scheduler's account of a thread's waits for a CPU.

#include "memscope/frame_times.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace memscope {

CpuWaitClock::CpuWaitClock() : fd_(::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) {}

CpuWaitClock::~CpuWaitClock() {
    if (fd_ >= 0) ::close(fd_);
}

std::chrono::nanoseconds CpuWaitClock::now() const {
    // "<ns on a CPU> <ns runnable, waiting for one> <time slices>\n"
    char text[96];
    const ssize_t n = fd_ >= 0 ? ::pread(fd_, text, sizeof text - 1, 0) : -1;
    if (n <= 0) return std::chrono::nanoseconds(0);
    text[n] = '\0';
    char* end = nullptr;
    std::strtoull(text, &end, 10);
    const unsigned long long waited = std::strtoull(end, nullptr, 10);
    return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(waited));
}

double FrameTimes::bucket_bound_ms(std::size_t i) {
    if (i + 1 >= kBuckets) return std::numeric_limits<double>::infinity();
    return kFirstBucketMs * std::exp2(static_cast<double>(i) / 4.0);
}

void FrameTimes::add(std::uint64_t frame, std::chrono::nanoseconds work) {
    const double ms = std::chrono::duration<double, std::milli>(work).count();
    // The first bucket whose bound holds `ms`: 4 * log2(ms / first), rounded up.
    std::size_t bucket = 0;
    if (ms > kFirstBucketMs) {
        const double index = std::ceil(4.0 * std::log2(ms / kFirstBucketMs) - 1e-9);
        bucket = index >= static_cast<double>(kBuckets - 1) ? kBuckets - 1
                                                            : static_cast<std::size_t>(index);
    }
    ++counts_[bucket];
    ++frames_;
    total_ms_ += ms;
    if (ms > kFrameBudgetMs) ++over_budget_;
    if (ms > worst_ms_ || frames_ == 1) {
        worst_ms_ = ms;
        worst_frame_ = frame;
    }
}

FrameTimes::Summary FrameTimes::summary() const {
    Summary s;
    s.frames = frames_;
    s.mean_ms = frames_ ? total_ms_ / static_cast<double>(frames_) : 0.0;
    s.worst_ms = worst_ms_;
    s.worst_frame = worst_frame_;
    s.over_budget_frames = over_budget_;
    // The smallest bucket bound below which at least `fraction` of the frames lie; the
    // worst frame where the last bucket is reached (it has no finite bound).
    const auto percentile = [this](double fraction) {
        const double wanted = std::ceil(fraction * static_cast<double>(frames_));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (static_cast<double>(seen) >= wanted && seen > 0)
                return i + 1 == kBuckets ? worst_ms_ : std::min(bucket_bound_ms(i), worst_ms_);
        }
        return worst_ms_;
    };
    if (frames_ > 0) {
        s.p50_ms = percentile(0.50);
        s.p99_ms = percentile(0.99);
    }
    for (std::size_t i = 0; i < kBuckets; ++i)
        if (counts_[i] > 0) s.histogram.push_back({bucket_bound_ms(i), counts_[i]});
    return s;
}

}  // namespace memscope

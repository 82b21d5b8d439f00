// SPDX-License-Identifier: MIT
// The process-wide log sink, and the periodic statistics line.

#include "memscope/log.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "fork_safety.hpp"
#include "memscope/allocator.hpp"
#include "seed_figures.hpp"

namespace memscope {
namespace {

void default_sink(LogLevel level, std::string_view message) {
    // One fprintf per line, so lines from several threads do not interleave.
    std::fprintf(stderr, "[memscope] %.*s: %.*s\n", static_cast<int>(to_string(level).size()),
                 to_string(level).data(), static_cast<int>(message.size()), message.data());
}

// The sink is swapped rarely and read on every message: readers copy the shared_ptr
// under a short lock and call the sink with no lock held.
std::mutex g_sink_mutex;
std::shared_ptr<const LogSink> g_sink;  // null: default_sink
std::atomic<LogLevel> g_min_level{LogLevel::info};

// fork(): a child must be able to log even if another thread was reading the sink. log()
// is called under none of the locks fork_safety.hpp holds, and only the counter registry's
// (locked last) is taken under this one, so its place in the fork order does not matter.
struct SinkForkHandler final : detail::ForkHandler {
    SinkForkHandler() { detail::add_fork_handler(*this); }
    ~SinkForkHandler() { detail::remove_fork_handler(*this); }
    void prepare() noexcept override { g_sink_mutex.lock(); }
    void parent() noexcept override { g_sink_mutex.unlock(); }
    void child() noexcept override { g_sink_mutex.unlock(); }
};
SinkForkHandler g_sink_fork_handler;

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warning:
            return "warning";
        case LogLevel::error:
            return "error";
    }
    return "unknown";
}

void set_log_sink(LogSink sink) {
    auto next = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
    std::lock_guard lock(g_sink_mutex);
    g_sink = std::move(next);
}

void set_log_level(LogLevel minimum) noexcept {
    g_min_level.store(minimum);
}

LogLevel log_level() noexcept {
    return g_min_level.load();
}

void log(LogLevel level, std::string_view message) {
    if (level < g_min_level.load(std::memory_order_relaxed)) return;
    std::shared_ptr<const LogSink> sink;
    {
        std::lock_guard lock(g_sink_mutex);
        sink = g_sink;
    }
    if (sink)
        (*sink)(level, message);
    else
        default_sink(level, message);
}

bool log_periodic_stats(std::uint64_t frame, std::uint64_t every_frames) {
    if (every_frames == 0 || frame % every_frames != 0) return false;
    const AllocationStats stats = allocation_stats();
    log(LogLevel::info, "Frame " + std::to_string(frame) + ": Memory " +
                            detail::format_frame_figure(stats.total_allocated_bytes) + " (peak " +
                            detail::format_frame_figure(stats.peak_allocated_bytes) +
                            "), Allocs: " + std::to_string(stats.net_allocations) + " net");
    return true;
}

}  // namespace memscope

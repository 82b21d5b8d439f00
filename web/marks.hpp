// SPDX-License-Identifier: MIT
#pragma once
// Named marks ("level2-loaded") and the diff between two of them, or a mark and now:
// what changed per subsystem and globally.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "figures.hpp"
#include "memscope/json.hpp"

namespace memscope::web {

/// The figures of one moment, under a name.
struct Mark {
    std::uint64_t id = 0;                ///< 1, 2, 3... in the order marks were added; 0 for "now"
    std::string name;                    ///< as given; not necessarily unique
    std::optional<std::uint64_t> frame;  ///< the game's frame number, when it gave one
    std::int64_t unix_ms = 0;
    std::chrono::steady_clock::time_point taken;  ///< for the seconds between two marks
    AllocationStats allocator;
    ProcessMemory process;
    std::size_t reported_bytes = 0;                                   ///< sum of subsystems
    std::vector<std::pair<std::string, SubsystemMemory>> subsystems;  ///< sorted by name
};

/// A mark of the figures `f` (id 0 until added to a MarkList).
[[nodiscard]] Mark make_mark(const Figures& f, std::string name);

/// The bounded list of marks. Thread-safe.
class MarkList {
  public:
    /// How many marks are kept by default: each holds every subsystem's figures.
    static constexpr std::size_t kDefaultCapacity = 64;

    explicit MarkList(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

    /// Numbers the mark, keeps it (dropping the oldest beyond capacity), returns it.
    Mark add(Mark mark);
    /// Every kept mark, oldest first.
    [[nodiscard]] std::vector<Mark> list() const;
    /// The newest mark called `name`, or nullopt.
    [[nodiscard]] std::optional<Mark> find(std::string_view name) const;
    /// At most this many marks are kept.
    [[nodiscard]] std::size_t capacity() const { return capacity_; }
    /// The id of the newest mark, 0 before the first: a page that saw a smaller one
    /// reloads the list.
    [[nodiscard]] std::uint64_t last_id() const { return next_id_.load() - 1; }

  private:
    mutable std::mutex mutex_;
    std::deque<Mark> marks_;
    std::atomic<std::uint64_t> next_id_{1};  // written under mutex_, read without
    std::size_t capacity_;
};

/// A mark's summary: id, name, time, reported and tracked bytes (the subsystems are in
/// diffs only).
void write_mark(JsonWriter& w, const Mark& mark);

/// GET /api/v1/diff: `to` minus `from`, globally and per subsystem.
[[nodiscard]] std::string diff_document(const Mark& from, const Mark& to);

}  // namespace memscope::web

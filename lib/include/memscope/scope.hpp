// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Scoped attribution: every block allocated through `operator new` is charged to the tag
/// that was innermost on the allocating thread, and its free credits that same tag,
/// whichever thread frees it. So a subsystem's figures are what it holds, measured, not
/// what it reports.
///
/// ```cpp
/// void MeshSystem::rebuild(Chunk& c) {
///     MEMSCOPE_SCOPE("Meshes");      // everything allocated below is charged to Meshes
///     c.mesh = build_mesh(c);        // ...even when another thread frees it later
/// }
/// // A job system carries the tag to its workers:
/// const memscope::TagId id = memscope::current_tag();
/// pool.submit([id] { memscope::Scope scope(id); work(); });
/// ```
///
/// A tag whose name is a subsystem's feeds that subsystem's row of MemoryBudget (see
/// `MemoryBudget::update()`). In a build without tracking (`MEMSCOPE_TRACKING=OFF`) scopes
/// compile and do nothing, and `tag_stats()` is empty.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "memscope/build_config.hpp"

namespace memscope {

/// A tag's id: 0 for untagged allocations, then ids in the order names were first seen.
using TagId = std::uint16_t;

/// How many ids there are, reserved ones included: id 0 (untagged), id 1 (memscope's own
/// allocations) and up to 510 named tags. A name seen after the ids run out is charged to
/// the tag `Other`, which takes the last id, with one warning.
inline constexpr std::size_t kMaxTags = 512;

/// Interns `name` and returns its id: the same name gets the same id for the life of the
/// process. Looking up a known name is lock-free and allocates nothing; the first sight of
/// a name takes a lock and, once, may log. A name that could not name a subsystem (empty,
/// longer than 128 bytes, with a control character: see `name_problem()`) and names past
/// the limit are charged to `Other`, with one warning each. Returns 0 when tracking is off.
[[nodiscard]] TagId tag(std::string_view name);

/// The calling thread's innermost scope: the tag its allocations are charged to now; 0
/// outside any scope (and always 0 when tracking is off).
[[nodiscard]] TagId current_tag() noexcept;

/// Charges the calling thread's allocations to a tag until the scope ends. Scopes nest and
/// the innermost wins; leaving one restores the tag that was current when it was entered.
/// Entering and leaving never lock, allocate nor log. A scope belongs to the thread that
/// made it: destroy it on that thread, in reverse order of construction (RAII does both).
class Scope {
  public:
    /// Interns `name` (see `tag()`) and enters it.
    explicit Scope(std::string_view name);
    /// Enters a known tag: how a job system hands `current_tag()` to a worker. An id that
    /// was never handed out counts as untagged.
    explicit Scope(TagId id) noexcept;
    /// Restores the tag that was current when this scope was entered.
    ~Scope();

    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

  private:
    TagId previous_;
};

/// One tag's figures, summed over every thread that allocated or freed its blocks.
struct TagStats {
    std::string name;                      ///< the interned name ("" for id 0, untagged)
    std::size_t current_bytes = 0;         ///< usable bytes of the tag's live blocks
    std::size_t peak_bytes = 0;            ///< highest current_bytes seen (see below)
    std::uint64_t allocation_count = 0;    ///< blocks charged to the tag since start
    std::uint64_t deallocation_count = 0;  ///< frees credited to the tag since start
};

/// Every id handed out so far, in id order, so `tag_stats()[id]` is the tag `id`:
/// [0] the untagged allocations (name ""), [1] memscope's own ("memscope"), then the named
/// tags. With no allocation in flight, the `current_bytes` of all entries add up to
/// `allocation_stats().total_allocated_bytes` exactly. Each peak follows the global
/// peak's rule: within `peak_tolerance_bytes()` of the true peak of that tag. Takes the
/// registry lock (never held by the allocation path) and allocates the result only.
/// Empty when tracking is off.
[[nodiscard]] std::vector<TagStats> tag_stats();

/// The usable size of a block from `operator new`, as the books count it (what
/// `current_bytes` adds up): at least the size asked for. 0 for null. With tracking off,
/// the allocator's usable size of the block.
[[nodiscard]] std::size_t usable_size(const void* p) noexcept;

}  // namespace memscope

#define MEMSCOPE_SCOPE_CONCAT2_(a, b) a##b
#define MEMSCOPE_SCOPE_CONCAT_(a, b) MEMSCOPE_SCOPE_CONCAT2_(a, b)
/// A `memscope::Scope` named `name` with a variable name of its own, to the end of the
/// enclosing block: `MEMSCOPE_SCOPE("Meshes");`.
#define MEMSCOPE_SCOPE(name) \
    const ::memscope::Scope MEMSCOPE_SCOPE_CONCAT_(memscope_scope_, __COUNTER__)(name)

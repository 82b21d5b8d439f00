// SPDX-License-Identifier: MIT
// Tags and scopes: the table of interned names, the calling thread's current tag, and the
// per-tag figures.
//
// The name table is static and fixed in size, so neither a lookup nor an insertion ever
// calls the allocator being counted. Lookups are lock-free: a slot is published with a
// release store only after the name it points at is written, and a name is never changed
// afterwards. Insertions take a mutex, which the allocation path never touches.

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "counters.hpp"
#include "memscope/budget.hpp"  // kMaxNameBytes, name_problem
#include "memscope/log.hpp"
#include "memscope/scope.hpp"

namespace memscope::detail {
namespace {

struct TagName {
    std::uint8_t length = 0;
    char text[kMaxNameBytes] = {};
};

// Open addressing over twice as many slots as ids, so a probe is short even when full.
// A slot holds (16 bits of the name's hash) << 16 | (id + 1); 0 is empty.
constexpr std::size_t kSlots = 2 * kMaxTags;
constinit std::array<std::atomic<std::uint32_t>, kSlots> g_slots{};
constinit TagName g_names[kMaxTags]{};
constinit std::atomic<TagId> g_count{kFirstNamedTag};  // ids handed out so far
std::mutex g_intern_mutex;  // guards insertions and the two warnings' flags
constinit bool g_warned_full = false;
constinit bool g_warned_bad = false;

constexpr std::string_view kOtherName = "Other";
constexpr std::string_view kInternalName = "memscope";

std::uint64_t hash_name(std::string_view name) noexcept {
    // FNV-1a, 64 bits: names are short, and this needs no table and no allocation.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : name) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::uint32_t hash_tag(std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>(h >> 48) << 16;
}

// The id of a name already in the table; 0 (never a named tag's id) when it is not.
TagId find(std::string_view name, std::uint64_t h) noexcept {
    const std::uint32_t want = hash_tag(h);
    for (std::size_t i = h & (kSlots - 1), probes = 0; probes < kSlots;
         i = (i + 1) & (kSlots - 1), ++probes) {
        const std::uint32_t slot = g_slots[i].load(std::memory_order_acquire);
        if (slot == 0) return 0;
        if ((slot & 0xffff0000U) != want) continue;
        const auto id = static_cast<TagId>((slot & 0xffffU) - 1);
        if (name_of(id) == name) return id;
    }
    return 0;
}

// Adds `name` under the next id. Under g_intern_mutex; the caller checked it is absent,
// valid, and that an id is left.
TagId insert_locked(std::string_view name, std::uint64_t h) noexcept {
    const TagId id = g_count.load(std::memory_order_relaxed);
    TagName& entry = g_names[id];
    std::memcpy(entry.text, name.data(), name.size());
    entry.length = static_cast<std::uint8_t>(name.size());
    std::size_t i = h & (kSlots - 1);
    while (g_slots[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & (kSlots - 1);
    g_slots[i].store(hash_tag(h) | (std::uint32_t{id} + 1), std::memory_order_release);
    // Published after the slot: a thread that sees the new count may enter the id at once.
    g_count.store(static_cast<TagId>(id + 1), std::memory_order_release);
    return id;
}

// Other's id, interning it if needed: it may take the last id, which no other name can.
TagId other_locked() noexcept {
    const std::uint64_t h = hash_name(kOtherName);
    if (const TagId id = find(kOtherName, h); id != 0) return id;
    return insert_locked(kOtherName, h);
}

}  // namespace

std::string_view name_of(TagId id) noexcept {
    if (id == kUntaggedTag) return {};
    if (id == kInternalTag) return kInternalName;
    return {g_names[id].text, g_names[id].length};
}

TagId find_tag(std::string_view name) noexcept {
    return find(name, hash_name(name));
}

TagId tags_in_use() noexcept {
    return g_count.load(std::memory_order_acquire);
}

}  // namespace memscope::detail

namespace memscope {

TagId tag(std::string_view name) {
    if constexpr (!MEMSCOPE_TRACKING) {
        static_cast<void>(name);
        return 0;
    } else {
        using namespace detail;
        const std::uint64_t h = hash_name(name);
        if (const TagId id = find(name, h); id != 0) return id;
        if (name == kInternalName) return kInternalTag;

        // First sight of the name: whatever is allocated from here on is memscope's own.
        const Scope internal(kInternalTag);
        const std::string problem = name_problem(name);
        std::string warning;
        TagId id = 0;
        {
            std::lock_guard lock(g_intern_mutex);
            if (id = find(name, h); id != 0) return id;
            const bool full =
                g_count.load(std::memory_order_relaxed) >= kMaxTags - 1 && name != kOtherName;
            if (problem.empty() && !full) return insert_locked(name, h);
            id = other_locked();
            if (!problem.empty() && !g_warned_bad) {
                g_warned_bad = true;
                warning = "tag name " + std::string(name.substr(0, 64)) +
                          (name.size() > 64 ? "..." : "") + " " + problem +
                          ": its allocations are charged to the tag Other (later bad names "
                          "are not reported)";
            } else if (problem.empty() && !g_warned_full) {
                g_warned_full = true;
                warning = "more than " + std::to_string(kMaxTags - 3) + " tags: '" +
                          std::string(name) +
                          "' and every later new name are charged to the tag Other";
            }
        }
        if (!warning.empty()) log(LogLevel::warning, warning);
        return id;
    }
}

TagId current_tag() noexcept {
#if MEMSCOPE_TRACKING
    return detail::t_counters.tag;
#else
    return 0;
#endif
}

Scope::Scope(std::string_view name) : Scope(tag(name)) {}

Scope::Scope(TagId id) noexcept {
#if MEMSCOPE_TRACKING
    detail::ThreadCounters& t = detail::t_counters;
    previous_ = t.tag;
    // Ids only grow, so one that was handed out is below the count from then on.
    t.tag = id < detail::tags_in_use() ? id : detail::kUntaggedTag;
#else
    static_cast<void>(id);
    previous_ = 0;
#endif
}

Scope::~Scope() {
#if MEMSCOPE_TRACKING
    detail::t_counters.tag = previous_;
#endif
}

std::vector<TagStats> tag_stats() {
    std::vector<TagStats> out;
    if constexpr (MEMSCOPE_TRACKING) {
        using namespace detail;
        std::array<TagSums, kMaxTags> sums{};
        const TagId count = tags_in_use();
        if (!sum_tags(sums.data(), count)) return out;
        // The result is allocated as memscope's own, like everything memscope allocates
        // for itself: reading the figures inside a scope leaves that scope's alone.
        const Scope internal(kInternalTag);
        out.reserve(count);
        for (TagId id = 0; id < count; ++id) {
            TagStats s;
            s.name = std::string(name_of(id));
            s.current_bytes = static_cast<std::size_t>(sums[id].bytes);
            s.peak_bytes = static_cast<std::size_t>(sums[id].peak);
            s.allocation_count = sums[id].allocations;
            s.deallocation_count = sums[id].frees;
            out.push_back(std::move(s));
        }
    }
    return out;
}

}  // namespace memscope

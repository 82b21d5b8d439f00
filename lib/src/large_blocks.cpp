// SPDX-License-Identifier: MIT
// The table of large blocks (large_blocks.hpp): lock-free linear probing over a fixed array.

#include "large_blocks.hpp"

#include <atomic>

namespace memscope::detail {
namespace {

constexpr std::size_t kLargeSlots = std::size_t{1} << 18;  // 4 MiB of zero pages, touched as used
constexpr std::uintptr_t kEmpty = 0;
constexpr std::uintptr_t kDeleted = 1;  // never a block address (they are 64 KiB-aligned)

// key: the block's address, kEmpty or kDeleted. value: counted << 16 | tag, written by the
// inserting thread before operator new returns, read by the freeing thread after the
// program handed the pointer over. Plain zero-initialised integers reached through
// std::atomic_ref: static storage needs no initialiser to run (and clang would refuse to
// evaluate a constant initialiser of a quarter of a million atomics).
struct Slot {
    std::uintptr_t key;
    std::uint64_t value;
    std::atomic_ref<std::uintptr_t> k() noexcept { return std::atomic_ref<std::uintptr_t>(key); }
    std::atomic_ref<std::uint64_t> v() noexcept { return std::atomic_ref<std::uint64_t>(value); }
};
Slot g_slots[kLargeSlots];                     // zero: every key kEmpty
constinit std::atomic<std::size_t> g_live{0};  // blocks in the table, to refuse at half full

std::size_t home_of(std::uintptr_t key) noexcept {
    // Addresses are multiples of 64 KiB: mix the rest so neighbours spread out.
    std::uint64_t h = key >> 16;
    h *= 0x9e3779b97f4a7c15ULL;
    return static_cast<std::size_t>(h >> 48) & (kLargeSlots - 1);
}

Slot* find_slot(std::uintptr_t key) noexcept {
    for (std::size_t i = home_of(key), n = 0; n < kLargeSlots;
         i = (i + 1) & (kLargeSlots - 1), ++n) {
        const std::uintptr_t k = g_slots[i].k().load(std::memory_order_acquire);
        if (k == key) return &g_slots[i];
        if (k == kEmpty) return nullptr;
    }
    return nullptr;
}

}  // namespace

bool large_insert(const void* p, std::size_t counted, TagId tag) noexcept {
    const auto key = reinterpret_cast<std::uintptr_t>(p);
    if (g_live.fetch_add(1, std::memory_order_relaxed) >= kLargeSlots / 2) {
        g_live.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    const std::uint64_t value = (std::uint64_t{counted} << 16) | tag;
    for (std::size_t i = home_of(key);; i = (i + 1) & (kLargeSlots - 1)) {
        std::uintptr_t k = g_slots[i].k().load(std::memory_order_relaxed);
        // A deleted slot may be taken: the key is unique among live blocks, so no other
        // slot further along can hold it. The value is written after the claim; only the
        // block's own free reads it, and the program's hand-over of the pointer orders that
        // read after this write.
        while (k == kEmpty || k == kDeleted) {
            if (g_slots[i].k().compare_exchange_weak(k, key, std::memory_order_acq_rel,
                                                     std::memory_order_relaxed)) {
                g_slots[i].v().store(value, std::memory_order_relaxed);
                return true;
            }
        }
    }
}

bool large_remove(const void* p, std::size_t& counted, TagId& tag) noexcept {
    Slot* s = find_slot(reinterpret_cast<std::uintptr_t>(p));
    if (s == nullptr) return false;
    const std::uint64_t value = s->v().load(std::memory_order_relaxed);
    counted = static_cast<std::size_t>(value >> 16);
    tag = static_cast<TagId>(value & 0xffff);
    s->k().store(kDeleted, std::memory_order_release);
    g_live.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

bool large_find(const void* p, std::size_t& counted, TagId& tag) noexcept {
    Slot* s = find_slot(reinterpret_cast<std::uintptr_t>(p));
    if (s == nullptr) return false;
    const std::uint64_t value = s->v().load(std::memory_order_relaxed);
    counted = static_cast<std::size_t>(value >> 16);
    tag = static_cast<TagId>(value & 0xffff);
    return true;
}

}  // namespace memscope::detail

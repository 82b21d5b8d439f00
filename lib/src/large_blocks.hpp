// SPDX-License-Identifier: MIT
#pragma once
// Large blocks: the ones that carry no header.
//
// Every block from operator new has a 16-byte header in front of it (allocator_hook.cpp),
// except large ones. mimalloc spaces its size classes 25 to 50% apart above 128 KiB, so 16
// more bytes on a request of exactly a class size (1 MiB, 256 KiB: the buffers games ask
// for) would take the next class: 1.5 MiB for 1 MiB. So a request above kLargeMin bytes gets
// a block of exactly its own size, and its tag and counted size go in this table instead.
//
// How a free tells the two apart without a lookup: a large block always starts on a
// kLargeAlign boundary (mimalloc puts its large blocks at the start of their pages, which
// are 64 KiB slices; the system backend asks for that alignment), and the allocation path
// never hands out a headed block at such an address (it moves the rare one that would land
// there). So `(p & (kLargeAlign - 1)) == 0` means "look in the table", at the cost of one
// test on every free, and the table is touched only by large blocks.
//
// The table is a fixed, lock-free open-addressing array: an insertion claims a free slot
// with a compare-and-swap, a removal marks its slot deleted. A block is inserted before
// operator new returns it and removed only by its free, which happens after, on whatever
// thread: the program's own hand-over of the pointer orders the two. When the table is full
// (more than 131072 large blocks alive: 16 GiB at the least), large blocks get a header
// like any other.
//
// A headed block that would land on a kLargeAlign boundary (rare: its allocator block must
// start 16 bytes before one) is entered in the table too, with kHeadedEntry set in its tag:
// the free then reads its header as for any headed block.

#include <cstddef>
#include <cstdint>

#include "memscope/scope.hpp"

namespace memscope::detail {

/// Requests above this many bytes are large: no header (mimalloc's medium size limit).
inline constexpr std::size_t kLargeMin = 128 * 1024;
/// A large block's address is a multiple of this; a headed block's user address never is.
inline constexpr std::uintptr_t kLargeAlign = 64 * 1024;

/// Set in an entry's tag: the block has a header; read it (see above).
inline constexpr TagId kHeadedEntry = 0x8000;

/// True when `p` is where a large block, and never a headed one, may start.
[[nodiscard]] inline bool is_large_address(const void* p) noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) & (kLargeAlign - 1)) == 0;
}

/// Records a large block. False when the table is full (the caller then uses a header).
[[nodiscard]] bool large_insert(const void* p, std::size_t counted, TagId tag) noexcept;

/// Takes a large block out of the table, giving back its figures. False if absent.
[[nodiscard]] bool large_remove(const void* p, std::size_t& counted, TagId& tag) noexcept;

/// The figures of a large block still in the table. False if absent.
[[nodiscard]] bool large_find(const void* p, std::size_t& counted, TagId& tag) noexcept;

}  // namespace memscope::detail

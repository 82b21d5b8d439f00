// SPDX-License-Identifier: MIT
// The replacement of every global operator new / operator delete (and, with mimalloc, of
// the aligned C allocation functions). Kept alone in this file so that it is one object
// the linker pulls in as a whole: lib/CMakeLists.txt makes every program that links the
// core ask for the symbol memscope_allocator_hook, which only this file defines.
//
// The allocation path never locks, never allocates and never logs: it calls the backend,
// then adds to the calling thread's own counters (counters.hpp).

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <new>

#include "backend.hpp"
#include "counters.hpp"

// Referenced by the link option that keeps this object in every program linking memscope.
extern "C" {
[[gnu::used]] int memscope_allocator_hook = 1;
}

namespace memscope::detail {
namespace {

#if MEMSCOPE_TRACKING

// The calling thread's counters. initial-exec: a fixed offset from the thread pointer, no
// call to __tls_get_addr, also when memscope ends up inside a shared object.
[[gnu::tls_model("initial-exec")]] constinit thread_local ThreadCounters t_counters;

#if MEMSCOPE_BACKEND_MIMALLOC
// The bytes a block occupies, by request size, copied from mi_good_size() before the first
// thread counts. For requests up to mimalloc's medium size limit, the usable size of
// mi_malloc(n) is the size of n's size class, which is exactly mi_good_size(n) (proved for
// every such n by tests/test_allocator.cpp). Counting from a table when the size is known
// (at new, and at sized delete) saves an out-of-line mi_usable_size() lookup, about half
// the cost of counting; unsized delete still asks mimalloc and gets the same figure.
//
// Small requests are looked up by 8-byte word, medium ones by 128-byte step: above 1 KiB
// every mimalloc size class is a multiple of 256 bytes, so a step never straddles two
// classes. prepare_size_classes() checks that, and turns the tables off if a future
// mimalloc breaks it.
constexpr std::size_t kSmallMax = 1024;
constexpr std::size_t kMediumMax = 128 * 1024;
constexpr std::size_t kMediumStep = 128;
// One table: entries [0, 128] by 8-byte word up to 1 KiB, then by 128-byte step up to
// 128 KiB. Entries hold the class size in 8-byte units (all classes are multiples of 8),
// which keeps the table at 2.3 KiB, in a few cache lines.
constexpr std::size_t kMediumBase = kSmallMax / 8 + 1 - kSmallMax / kMediumStep;
constinit std::uint16_t g_size_class[kMediumBase + kMediumMax / kMediumStep] = {};
// Requests below this size are counted from the table: 0 until it is filled (and forever
// if it fails its check), then kMediumMax + 1.
constinit std::size_t g_table_limit = 0;

inline std::size_t counted_size(void* p, std::size_t requested) noexcept {
    if (requested < g_table_limit) [[likely]] {
        // Branch-free choice of the index: sizes in real workloads switch between the
        // small and the medium range unpredictably, and a mispredicted branch here costs
        // more than everything else memscope adds to an allocation.
        const std::size_t small = (requested + 7) / 8;
        const std::size_t medium = kMediumBase + (requested - 1) / kMediumStep;
        const std::size_t is_medium = std::size_t{0} - std::size_t{requested > kSmallMax};
        return std::size_t{g_size_class[(small & ~is_medium) | (medium & is_medium)]} * 8;
    }
    return backend::usable_size(p);
}
#else
inline std::size_t counted_size(void* p, std::size_t) noexcept {
    return backend::usable_size(p);
}
#endif

inline void note_new(void* p, std::size_t requested) noexcept {
    count_allocation(t_counters, counted_size(p, requested));
}
inline void note_delete(void* p) noexcept {
    count_free(t_counters, backend::usable_size(p));
}
inline void note_delete_sized(void* p, std::size_t requested) noexcept {
    count_free(t_counters, counted_size(p, requested));
}
inline void note_new_aligned(void* p) noexcept {
    count_allocation(t_counters, backend::usable_size(p));
}

#else  // tracking compiled out: mimalloc (or the system allocator) with no counting at all

inline void note_new(void*, std::size_t) noexcept {}
inline void note_delete(void*) noexcept {}
inline void note_delete_sized(void*, std::size_t) noexcept {}
inline void note_new_aligned(void*) noexcept {}

#endif

// The failure path of [new.delete.single]: call the new_handler until it gives up, then
// throw. Kept out of line so the fast path stays small.
[[gnu::noinline]] void* allocate_slow(std::size_t size, std::size_t alignment) {
    for (;;) {
        void* p =
            alignment == 0 ? backend::allocate(size) : backend::allocate_aligned(size, alignment);
        if (p != nullptr) return p;
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
    }
}

[[gnu::noinline]] void* allocate_slow_nothrow(std::size_t size, std::size_t alignment) noexcept {
    try {
        return allocate_slow(size, alignment);
    } catch (...) {  // the handler threw bad_alloc (or gave up): nothrow new returns null
        return nullptr;
    }
}

[[gnu::always_inline]] inline void* new_impl(std::size_t size) {
    void* p = backend::allocate(size);
    if (p == nullptr) [[unlikely]]
        p = allocate_slow(size, 0);
    note_new(p, size);
    return p;
}

[[gnu::always_inline]] inline void* new_impl_nothrow(std::size_t size) noexcept {
    void* p = backend::allocate(size);
    if (p == nullptr) [[unlikely]] {
        p = allocate_slow_nothrow(size, 0);
        if (p == nullptr) return nullptr;
    }
    note_new(p, size);
    return p;
}

[[gnu::always_inline]] inline void* new_aligned_impl(std::size_t size, std::align_val_t al) {
    const auto alignment = static_cast<std::size_t>(al);
    void* p = backend::allocate_aligned(size, alignment);
    if (p == nullptr) [[unlikely]]
        p = allocate_slow(size, alignment);
    note_new_aligned(p);
    return p;
}

[[gnu::always_inline]] inline void* new_aligned_impl_nothrow(std::size_t size,
                                                             std::align_val_t al) noexcept {
    const auto alignment = static_cast<std::size_t>(al);
    void* p = backend::allocate_aligned(size, alignment);
    if (p == nullptr) [[unlikely]] {
        p = allocate_slow_nothrow(size, alignment);
        if (p == nullptr) return nullptr;
    }
    note_new_aligned(p);
    return p;
}

[[gnu::always_inline]] inline void delete_impl(void* p) noexcept {
    if (p == nullptr) return;
    note_delete(p);
    backend::release(p);
}

[[gnu::always_inline]] inline void delete_sized_impl(void* p, std::size_t size) noexcept {
    if (p == nullptr) return;
    note_delete_sized(p, size);
    backend::release(p);
}

}  // namespace

void mark_thread_internal() noexcept {
#if MEMSCOPE_TRACKING
    set_internal(t_counters);
#endif
}

void prepare_size_classes() noexcept {
#if MEMSCOPE_TRACKING && MEMSCOPE_BACKEND_MIMALLOC
    // mi_good_size() never decreases with the size, so a table entry is right for every
    // size it covers when the first and the last size of its range agree.
    bool valid = true;
    auto fill = [&](std::size_t index, std::size_t first, std::size_t last) {
        const std::size_t size = mi_good_size(last);
        g_size_class[index] = static_cast<std::uint16_t>(size / 8);
        valid = valid && size % 8 == 0 && size / 8 <= 0xffff && mi_good_size(first) == size;
    };
    fill(0, 0, 0);
    for (std::size_t words = 1; words <= kSmallMax / 8; ++words)
        fill(words, words * 8 - 7, words * 8);
    for (std::size_t step = kSmallMax / kMediumStep; step < kMediumMax / kMediumStep; ++step)
        fill(kMediumBase + step, step * kMediumStep + 1, (step + 1) * kMediumStep);
    g_table_limit = valid ? kMediumMax + 1 : 0;
#endif
}

}  // namespace memscope::detail

using memscope::detail::delete_impl;
using memscope::detail::delete_sized_impl;
using memscope::detail::new_aligned_impl;
using memscope::detail::new_aligned_impl_nothrow;
using memscope::detail::new_impl;
using memscope::detail::new_impl_nothrow;

// The eight replaceable allocation functions.
void* operator new(std::size_t size) {
    return new_impl(size);
}
void* operator new[](std::size_t size) {
    return new_impl(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return new_impl_nothrow(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return new_impl_nothrow(size);
}
void* operator new(std::size_t size, std::align_val_t al) {
    return new_aligned_impl(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al) {
    return new_aligned_impl(size, al);
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return new_aligned_impl_nothrow(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return new_aligned_impl_nothrow(size, al);
}

// The twelve replaceable deallocation functions. Aligned blocks are always counted by
// their usable size, so the aligned forms ignore the alignment (mi_free finds the block).
void operator delete(void* p) noexcept {
    delete_impl(p);
}
void operator delete[](void* p) noexcept {
    delete_impl(p);
}
void operator delete(void* p, std::size_t size) noexcept {
    delete_sized_impl(p, size);
}
void operator delete[](void* p, std::size_t size) noexcept {
    delete_sized_impl(p, size);
}
void operator delete(void* p, std::align_val_t) noexcept {
    delete_impl(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    delete_impl(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    delete_impl(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    delete_impl(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    delete_impl(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    delete_impl(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    delete_impl(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    delete_impl(p);
}

#if MEMSCOPE_BACKEND_MIMALLOC
// Linking libmimalloc makes it the process's malloc, and with it its aligned C functions,
// which have the alignment bug that backend::allocate_aligned works around. Definitions in
// the executable come first in symbol lookup, so these fix them for every caller. They
// are not counted: only the C++ operators are (see README, "What is counted").
extern "C" {
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    // POSIX: a power of two, and a multiple of sizeof(void*).
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void* p = memscope::detail::backend::allocate_aligned(size, alignment);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return nullptr;
    }
    void* p = memscope::detail::backend::allocate_aligned(size, alignment);
    if (p == nullptr) errno = ENOMEM;
    return p;
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
    return aligned_alloc(alignment, size);
}
}
#endif

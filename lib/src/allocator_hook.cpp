// The replacement of every global operator new / operator delete (and, with mimalloc, of
// the aligned C allocation functions). Kept alone in this file so that it is one object
// the linker pulls in as a whole: see MEMSCOPE_HOOK_SYMBOL in CMakeLists.txt.
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
// Bytes a block of a small request occupies, by request size in 8-byte words, filled from
// mi_good_size() before the first thread counts. For these sizes mimalloc's usable size of
// mi_malloc(n) is the size of n's size class, which is exactly mi_good_size(n) (proved for
// every n by tests/test_allocator.cpp). Counting from the table when the size is known (at
// new, and at sized delete) saves one out-of-line mi_usable_size() lookup per call on the
// hottest sizes; unsized delete still asks mimalloc, and gets the same figure.
constexpr std::size_t kTableMax = 1024;
constinit std::uint32_t g_size_class[kTableMax / 8 + 1] = {};
constinit bool g_size_table_valid = false;

inline std::size_t counted_size(void* p, std::size_t requested) noexcept {
    if (requested <= kTableMax && g_size_table_valid) [[likely]]
        return g_size_class[(requested + 7) / 8];
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
inline void note_delete(void* p) noexcept { count_free(t_counters, backend::usable_size(p)); }
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
        void* p = alignment == 0 ? backend::allocate(size)
                                 : backend::allocate_aligned(size, alignment);
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

void prepare_size_classes() noexcept {
#if MEMSCOPE_TRACKING && MEMSCOPE_BACKEND_MIMALLOC
    for (std::size_t words = 0; words <= kTableMax / 8; ++words)
        g_size_class[words] = static_cast<std::uint32_t>(mi_good_size(words * 8));
    // The table is indexed by words: use it only if every byte size inside a word agrees.
    bool valid = true;
    for (std::size_t n = 0; n <= kTableMax; ++n)
        valid = valid && mi_good_size(n) == g_size_class[(n + 7) / 8];
    g_size_table_valid = valid;
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
void* operator new(std::size_t size) { return new_impl(size); }
void* operator new[](std::size_t size) { return new_impl(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return new_impl_nothrow(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return new_impl_nothrow(size);
}
void* operator new(std::size_t size, std::align_val_t al) { return new_aligned_impl(size, al); }
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
void operator delete(void* p) noexcept { delete_impl(p); }
void operator delete[](void* p) noexcept { delete_impl(p); }
void operator delete(void* p, std::size_t size) noexcept { delete_sized_impl(p, size); }
void operator delete[](void* p, std::size_t size) noexcept { delete_sized_impl(p, size); }
void operator delete(void* p, std::align_val_t) noexcept { delete_impl(p); }
void operator delete[](void* p, std::align_val_t) noexcept { delete_impl(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { delete_impl(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { delete_impl(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { delete_impl(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { delete_impl(p); }
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

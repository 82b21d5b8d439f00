// SPDX-License-Identifier: MIT
// The replacement of every global operator new / operator delete (and, with mimalloc, of
// the aligned C allocation functions). Kept alone in this file so that it is one object
// the linker pulls in as a whole: lib/CMakeLists.txt makes every program that links the
// core ask for the symbol memscope_allocator_hook, which only this file defines.
//
// The allocation path never locks, never allocates and never logs: it calls the backend,
// writes the block's 16-byte header (its counted size and its tag), then adds to the
// calling thread's own row of that tag (counters.hpp).

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "backend.hpp"
#include "counters.hpp"
#include "large_blocks.hpp"

// Referenced by the link option that keeps this object in every program linking memscope.
extern "C" {
[[gnu::used]] int memscope_allocator_hook = 1;
}

namespace memscope::detail {

#if MEMSCOPE_TRACKING
// The calling thread's counters (counters.hpp). The TLS model is said again here: GCC 12
// drops a declaration's tls_model when the definition has none, and this file then
// compiled every access as a call to __tls_get_addr. The link rewrote the call away, but
// not the registers saved around it: two pushes and pops and a stack adjustment on every
// operator delete (tests: core_tls_model).
[[gnu::tls_model("initial-exec")]] constinit thread_local ThreadCounters t_counters;
#endif

namespace {

#if MEMSCOPE_TRACKING

// Every block handed out by operator new starts 16 bytes after its allocator block, and
// those 16 bytes are its header:
//   user - 8:  counted << 16 | flags | row
//              counted: the usable bytes the books charged (user's share of the block)
//              row:     the counter row charged (bits 0-9): the tag (bits 0-8; kMaxTags
//              is 512), plus kMallocRows for a block of the malloc family
//              kOffsetFlag: the allocator block does not start at user - 16 (a block
//              aligned beyond what the allocator can align at an offset)
//   user - 16: with kOffsetFlag, the distance from the allocator block to user; else
//              whatever the allocator left there
// So a free finds its size and its tag without asking the allocator, whichever thread and
// whichever form of delete frees it: no pointer map, no lock. For ordinary blocks
// user - 8 is on the cache line mimalloc touches anyway (its free-list link sits at the
// block's start). The header keeps raw mimalloc's alignment: its 8-aligned size classes
// (24, 40, 56 B) serve requests that are not multiples of 16, as they would raw.
constexpr std::size_t kHeaderBytes = 16;
constexpr std::uint64_t kOffsetFlag = 0x8000;
constexpr unsigned kCountedShift = 16;
static_assert(kRowMask < kOffsetFlag, "the row field overlaps the flags");
// The rows of the two families: a block of operator new is charged to row `tag`, one of
// the malloc family to row `tag | kMalloc`.
constexpr RowId kOperators = 0;
#if MEMSCOPE_COUNT_MALLOC
constexpr RowId kMalloc = kMallocRows;
#endif

[[gnu::always_inline]] inline void write_header(void* user, std::size_t counted, RowId row,
                                                std::uint64_t flags) noexcept {
    const std::uint64_t word = (std::uint64_t{counted} << kCountedShift) | flags | row;
    std::memcpy(static_cast<char*>(user) - 8, &word, sizeof word);
}
[[gnu::always_inline]] inline std::uint64_t read_header(const void* user) noexcept {
    std::uint64_t word;
    std::memcpy(&word, static_cast<const char*>(user) - 8, sizeof word);
    return word;
}
// The allocator block that holds `user`.
[[gnu::always_inline]] inline void* block_of(void* user, std::uint64_t word) noexcept {
    char* p = static_cast<char*>(user);
    if ((word & kOffsetFlag) == 0) [[likely]]
        return p - kHeaderBytes;
    std::uint64_t offset;
    std::memcpy(&offset, p - 16, sizeof offset);
    return p - offset;
}
// The request for `size` user bytes; if that overflows, PTRDIFF_MAX, which no allocator
// grants (it is larger than any object may be).
[[gnu::always_inline]] inline std::size_t with_header(std::size_t size) noexcept {
    const std::size_t request = size + kHeaderBytes;
    return request < size ? static_cast<std::size_t>(PTRDIFF_MAX) : request;
}

#if MEMSCOPE_BACKEND_MIMALLOC
// The bytes a block occupies, by request size, copied from mi_good_size() before the first
// thread counts. For requests up to mimalloc's medium size limit, the usable size of
// mi_malloc(n) is the size of n's size class, which is exactly mi_good_size(n) (proved for
// every such n by tests/test_allocator.cpp). Counting from a table saves an out-of-line
// mi_usable_size() lookup, about half the cost of counting. It is read at allocation only:
// a free reads the figure from the block's header.
//
// Two loads: the request's 8-byte word gives a class index (one byte: mimalloc has fewer
// than 256 classes up to 128 KiB), the index gives the class size. 16 KiB of indexes, of
// which a program touches the lines of the sizes it asks for. prepare_size_classes()
// checks that every request of a word has the same class, and turns the table off if a
// future mimalloc breaks that.
constexpr std::size_t kMediumMax = 128 * 1024;
constexpr std::size_t kTableWords = kMediumMax / 8 + 1;
constinit std::uint8_t g_class_of[kTableWords] = {};
constinit std::uint32_t g_class_size[256] = {};
// Requests below this size are counted from the table: 0 until it is filled (and forever
// if it fails its check), then kMediumMax + 1.
constinit std::size_t g_table_limit = 0;
// operator new takes its fast path for sizes below this: 0 until the table is filled, then
// the largest size whose request, header included, the table covers (and never a large
// one, nor one whose request would overflow).
constinit std::size_t g_fast_limit = 0;

// The size class of a request below g_table_limit, from the table.
[[gnu::always_inline]] inline std::size_t table_size(std::size_t request) noexcept {
    return g_class_size[g_class_of[(request + 7) / 8]];
}

// The allocator's usable size of `block`, given for a request of `request` bytes.
inline std::size_t block_size(void* block, std::size_t request) noexcept {
    if (request < g_table_limit) [[likely]]
        return table_size(request);
    return backend::usable_size(block);
}
// Alignments mimalloc 2.0.9 can serve at an offset (MI_ALIGNMENT_MAX): beyond, it refuses.
constexpr std::size_t kAlignAtMax = std::size_t{16} << 20;

// An allocator block for `size` user bytes aligned to `alignment` (a power of two > 16)
// behind a header. Sets `offset` to the distance from the block to the user bytes.
inline void* allocate_aligned_block(std::size_t size, std::size_t alignment,
                                    std::size_t& offset) noexcept {
    if (alignment <= kAlignAtMax) {
        // mi_malloc_aligned_at aligns base + 16, and (unlike mi_malloc_aligned) has no
        // small-size shortcut that assumes a size class is aligned: it checks at run time.
        void* block = mi_malloc_aligned_at(with_header(size), alignment, kHeaderBytes);
        if (block == nullptr) return nullptr;
        if (((reinterpret_cast<std::uintptr_t>(block) + kHeaderBytes) & (alignment - 1)) == 0) {
            offset = kHeaderBytes;
            return block;
        }
        mi_free(block);  // never seen: fall back to the generic way below
    }
    const std::size_t request = size + alignment;
    if (request < size) return nullptr;
    void* block = backend::allocate_aligned(request, alignment);
    offset = alignment;
    return block;
}
#else
inline std::size_t block_size(void* block, std::size_t) noexcept {
    return backend::usable_size(block);
}
inline void* allocate_aligned_block(std::size_t size, std::size_t alignment,
                                    std::size_t& offset) noexcept {
    if (alignment < kHeaderBytes) alignment = kHeaderBytes;
    const std::size_t request = size + alignment;
    if (request < size) return nullptr;
    offset = alignment;
    return backend::allocate_aligned(request, alignment);
}
#endif

// The rare ends of charge() and release_counted(), out of line and reached by a tail
// call, so that the fast paths save no registers: a thread's first call, a row's first
// use, a batch to publish, a thread in the shared state.
// A headed block whose user address fell on a large block's boundary: entered in the
// large table as headed, so its free reads the header (large_blocks.hpp). If the table is
// full too, which takes over 131072 live large blocks and this one-in-thousands address,
// memscope cannot tell this block from a large one: it says so and stops the program
// rather than corrupt the heap later.
[[gnu::noinline]] void* enter_headed(void* user, std::size_t counted, RowId row) noexcept {
    if (!large_insert(user, counted, static_cast<TagId>(row | kHeadedEntry))) {
        static const char message[] =
            "memscope: the large-block table is full and a block fell on its boundary\n";
        [[maybe_unused]] const auto written = ::write(2, message, sizeof message - 1);
        std::abort();
    }
    return user;
}

[[gnu::noinline]] void* charge_slow(void* block, std::size_t counted, RowId row) noexcept {
    count_allocation_slow(t_counters, row, counted);
    void* user = static_cast<char*>(block) + kHeaderBytes;
    if (is_large_address(user)) [[unlikely]]
        return enter_headed(user, counted, row);
    return user;
}
[[gnu::noinline]] void release_slow(void* user, std::uint64_t word) noexcept {
    count_free_slow(t_counters, static_cast<RowId>(word & kRowMask), word >> kCountedShift);
    backend::release(block_of(user, word));
}

// Writes the header of a fresh block of `counted` usable bytes, charges it to the thread's
// current tag in the rows of `family` (kOperators or kMalloc), and returns the user bytes.
// The row is reached from the TLS fields directly (no address of the thread's block is
// formed unless the slow path needs it).
[[gnu::always_inline]] inline void* charge_counted(void* block, std::size_t counted,
                                                   RowId family) noexcept {
    void* user = static_cast<char*>(block) + kHeaderBytes;
    const auto row = static_cast<RowId>(t_counters.tag | family);
    write_header(user, counted, row, 0);
    if (!count_allocation_fast(t_counters.rows[row], counted)) [[unlikely]]
        return charge_slow(block, counted, row);
    if (is_large_address(user)) [[unlikely]]
        return enter_headed(user, counted, row);
    return user;
}

// The same for a block given for `request` bytes, header included.
[[gnu::always_inline]] inline void* charge(void* block, std::size_t request,
                                           RowId family) noexcept {
    return charge_counted(block, block_size(block, request) - kHeaderBytes, family);
}

[[gnu::always_inline]] inline void* charge_aligned(void* block, std::size_t offset,
                                                   RowId family) noexcept {
    void* user = static_cast<char*>(block) + offset;
    const std::size_t counted = backend::usable_size(block) - offset;
    const auto tag = static_cast<RowId>(t_counters.tag | family);
    std::uint64_t flags = 0;
    if (offset != kHeaderBytes) {
        const std::uint64_t distance = offset;
        std::memcpy(static_cast<char*>(user) - 16, &distance, sizeof distance);
        flags = kOffsetFlag;
    }
    write_header(user, counted, tag, flags);
    count_allocation(t_counters, tag, counted);
    if (is_large_address(user)) [[unlikely]]
        return enter_headed(user, counted, tag);
    return user;
}

// The free of a block at a large block's boundary: a large block, or a headed one that
// fell there (entered with kHeadedEntry).
[[gnu::noinline]] void release_large(void* user) noexcept {
    std::size_t counted = 0;
    TagId tag = 0;
    if (!large_remove(user, counted, tag)) {
        // Not memscope's: every block it hands out at such an address is in the table. Give
        // it back to the allocator, which knows its own blocks, and count nothing.
        backend::release(user);
        return;
    }
    count_free(t_counters, static_cast<RowId>(tag & kRowMask), counted);
    if ((tag & kHeadedEntry) != 0)
        backend::release(block_of(user, read_header(user)));
    else
        backend::release(user);
}

// A block for a large request (or a large alignment) with no header, entered in the large
// table; a headed block when the allocator's block is off the boundary or the table is
// full. Null when the allocator refuses.
// `zero`: the block's bytes must be zero (calloc), which mimalloc knows how to do without
// touching pages the kernel gave zeroed.
void* try_large(std::size_t size, std::size_t alignment, RowId family, bool zero = false) noexcept {
    void* p = alignment > kLargeAlign ? backend::allocate_aligned(size, alignment)
              : zero                  ? backend::allocate_zeroed(size)
                                      : backend::allocate_large(size);
    if (p == nullptr) return nullptr;
    if (is_large_address(p)) {
        const std::size_t counted = backend::usable_size(p);
        const auto row = static_cast<RowId>(t_counters.tag | family);
        if (large_insert(p, counted, row)) {
            count_allocation(t_counters, row, counted);
            return p;
        }
    }
    backend::release(p);
    if (alignment == 0) {
        const std::size_t request = with_header(size);
        void* block = zero ? backend::allocate_zeroed(request) : backend::allocate(request);
        return block == nullptr ? nullptr : charge(block, request, family);
    }
    std::size_t offset = 0;
    void* block = allocate_aligned_block(size, alignment, offset);
    return block == nullptr ? nullptr : charge_aligned(block, offset, family);
}

[[gnu::always_inline]] inline void release_counted(void* user) noexcept {
    if (is_large_address(user)) [[unlikely]]
        return release_large(user);
    const std::uint64_t word = read_header(user);
    if (!count_free_fast(t_counters.rows[word & kRowMask], word >> kCountedShift)) [[unlikely]]
        return release_slow(user, word);
    backend::release(block_of(user, word));
}

#endif  // MEMSCOPE_TRACKING

// The failure path of [new.delete.single]: call the new_handler until it gives up, then
// throw. Kept out of line so the fast path stays small. `alignment` 0: an ordinary block.
[[gnu::noinline]] void* allocate_slow(std::size_t size, std::size_t alignment,
                                      std::size_t& offset) {
    for (;;) {
#if MEMSCOPE_TRACKING
        void* p = alignment == 0 ? backend::allocate(with_header(size))
                                 : allocate_aligned_block(size, alignment, offset);
#else
        static_cast<void>(offset);
        void* p =
            alignment == 0 ? backend::allocate(size) : backend::allocate_aligned(size, alignment);
#endif
        if (p != nullptr) return p;
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
    }
}

[[gnu::noinline]] void* allocate_slow_nothrow(std::size_t size, std::size_t alignment,
                                              std::size_t& offset) noexcept {
    try {
        return allocate_slow(size, alignment, offset);
    } catch (...) {  // the handler threw bad_alloc (or gave up): nothrow new returns null
        return nullptr;
    }
}

#if MEMSCOPE_TRACKING

// What new does when the allocator refused: the new_handler loop, then the charge.
[[gnu::noinline]] void* new_failed(std::size_t size) {
    std::size_t unused = 0;
    return charge(allocate_slow(size, 0, unused), with_header(size), kOperators);
}
[[gnu::noinline]] void* new_failed_nothrow(std::size_t size) noexcept {
    std::size_t unused = 0;
    void* block = allocate_slow_nothrow(size, 0, unused);
    return block == nullptr ? nullptr : charge(block, with_header(size), kOperators);
}

// Large requests and alignments: try_large, with the new_handler loop of a failure.
[[gnu::noinline]] void* new_large(std::size_t size, std::size_t alignment) {
    for (;;) {
        if (void* p = try_large(size, alignment, kOperators)) return p;
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
    }
}
[[gnu::noinline]] void* new_large_nothrow(std::size_t size, std::size_t alignment) noexcept {
    try {
        return new_large(size, alignment);
    } catch (...) {
        return nullptr;
    }
}

#if MEMSCOPE_BACKEND_MIMALLOC
// new for a size off the fast path: a large one, the process's very first call (before the
// table is filled), one the table does not cover (a table that failed its check; the last
// 16 bytes below kLargeMin): the usable size comes from the allocator.
[[gnu::noinline]] void* new_untabled(std::size_t size) {
    if (size > kLargeMin) return new_large(size, 0);
    const std::size_t request = size + kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) return new_failed(size);
    return charge(block, request, kOperators);
}
[[gnu::noinline]] void* new_untabled_nothrow(std::size_t size) noexcept {
    if (size > kLargeMin) return new_large_nothrow(size, 0);
    const std::size_t request = size + kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) return new_failed_nothrow(size);
    return charge(block, request, kOperators);
}
#endif

// The fast path. One compare sends every case but the common one to new_untabled(). The
// counted size is looked up before the allocator is called, so the lookup overlaps
// mimalloc's work and only that one figure stays live across the call.
[[gnu::always_inline]] inline void* new_impl(std::size_t size) {
#if MEMSCOPE_BACKEND_MIMALLOC
    if (size >= g_fast_limit) [[unlikely]]
        return new_untabled(size);
    const std::size_t request = size + kHeaderBytes;
    const std::size_t counted = table_size(request) - kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) [[unlikely]]
        return new_failed(size);
    return charge_counted(block, counted, kOperators);
#else
    if (size > kLargeMin) [[unlikely]]
        return new_large(size, 0);
    const std::size_t request = size + kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) [[unlikely]]
        return new_failed(size);
    return charge(block, request, kOperators);
#endif
}

[[gnu::always_inline]] inline void* new_impl_nothrow(std::size_t size) noexcept {
#if MEMSCOPE_BACKEND_MIMALLOC
    if (size >= g_fast_limit) [[unlikely]]
        return new_untabled_nothrow(size);
    const std::size_t request = size + kHeaderBytes;
    const std::size_t counted = table_size(request) - kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) [[unlikely]]
        return new_failed_nothrow(size);
    return charge_counted(block, counted, kOperators);
#else
    if (size > kLargeMin) [[unlikely]]
        return new_large_nothrow(size, 0);
    const std::size_t request = size + kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) [[unlikely]]
        return new_failed_nothrow(size);
    return charge(block, request, kOperators);
#endif
}

// Any power of two: operator new is called with alignments above 16 by new-expressions,
// and with any alignment by hand.
[[gnu::always_inline]] inline void* new_aligned_impl(std::size_t size, std::align_val_t al) {
    const auto alignment = static_cast<std::size_t>(al);
    if (size > kLargeMin || alignment >= kLargeAlign) return new_large(size, alignment);
    std::size_t offset = 0;
    void* block = allocate_aligned_block(size, alignment, offset);
    if (block == nullptr) [[unlikely]]
        block = allocate_slow(size, alignment, offset);
    return charge_aligned(block, offset, kOperators);
}

[[gnu::always_inline]] inline void* new_aligned_impl_nothrow(std::size_t size,
                                                             std::align_val_t al) noexcept {
    const auto alignment = static_cast<std::size_t>(al);
    if (size > kLargeMin || alignment >= kLargeAlign) return new_large_nothrow(size, alignment);
    std::size_t offset = 0;
    void* block = allocate_aligned_block(size, alignment, offset);
    if (block == nullptr) [[unlikely]] {
        block = allocate_slow_nothrow(size, alignment, offset);
        if (block == nullptr) return nullptr;
    }
    return charge_aligned(block, offset, kOperators);
}

// Every form of delete: the header holds the size and the tag.
[[gnu::always_inline]] inline void delete_impl(void* p) noexcept {
    if (p == nullptr) return;
    release_counted(p);
}

#if MEMSCOPE_COUNT_MALLOC
// The malloc family. The same blocks as operator new's (a header, or the large table),
// charged to the rows of kMalloc; a failure returns null with errno ENOMEM, as C asks.

[[gnu::noinline]] void* malloc_failed() noexcept {
    errno = ENOMEM;
    return nullptr;
}

// malloc for a size off the fast path, or a calloc (`zero`).
[[gnu::noinline]] void* malloc_untabled(std::size_t size, bool zero) noexcept {
    if (size > kLargeMin) {
        void* p = try_large(size, 0, kMalloc, zero);
        return p != nullptr ? p : malloc_failed();
    }
    const std::size_t request = size + kHeaderBytes;
    void* block = zero ? backend::allocate_zeroed(request) : backend::allocate(request);
    if (block == nullptr) return malloc_failed();
    return charge(block, request, kMalloc);
}

[[gnu::always_inline]] inline void* malloc_impl(std::size_t size) noexcept {
    if (size >= g_fast_limit) [[unlikely]]
        return malloc_untabled(size, false);
    const std::size_t request = size + kHeaderBytes;
    const std::size_t counted = table_size(request) - kHeaderBytes;
    void* block = backend::allocate(request);
    if (block == nullptr) [[unlikely]]
        return malloc_failed();
    return charge_counted(block, counted, kMalloc);
}

// An aligned block of the malloc family. `alignment` is a power of two.
[[gnu::noinline]] void* malloc_aligned(std::size_t size, std::size_t alignment) noexcept {
    if (alignment <= alignof(void*)) return malloc_impl(size);  // what malloc gives anyway
    if (size > kLargeMin || alignment >= kLargeAlign) {
        void* p = try_large(size, alignment, kMalloc);
        return p != nullptr ? p : malloc_failed();
    }
    std::size_t offset = 0;
    void* block = allocate_aligned_block(size, alignment, offset);
    if (block == nullptr) return malloc_failed();
    return charge_aligned(block, offset, kMalloc);
}

void* calloc_impl(std::size_t count, std::size_t size) noexcept {
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) return malloc_failed();
    return malloc_untabled(bytes, true);
}

// realloc: a block that still fits its usable size (and is not shrinking below half of
// it) stays where it is and the books do not move; any other is a new block, charged to
// the calling thread's current tag, and a free of the old one, credited to its own.
void* realloc_impl(void* p, std::size_t size) noexcept {
    if (p == nullptr) return malloc_impl(size);
    if (size == 0) {  // glibc frees the block and returns null
        release_counted(p);
        return nullptr;
    }
    const std::size_t old = memscope::usable_size(p);
    if (size <= old && size >= old / 2) return p;
    void* q = malloc_impl(size);
    if (q == nullptr) return nullptr;  // errno is set; the old block stays valid
    std::memcpy(q, p, size < old ? size : old);
    release_counted(p);
    return q;
}

std::size_t page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}
#endif  // MEMSCOPE_COUNT_MALLOC

#else  // tracking compiled out: mimalloc (or the system allocator) with no header at all

[[gnu::always_inline]] inline void* new_impl(std::size_t size) {
    void* p = backend::allocate(size);
    if (p == nullptr) [[unlikely]] {
        std::size_t unused = 0;
        p = allocate_slow(size, 0, unused);
    }
    return p;
}

[[gnu::always_inline]] inline void* new_impl_nothrow(std::size_t size) noexcept {
    void* p = backend::allocate(size);
    if (p == nullptr) [[unlikely]] {
        std::size_t unused = 0;
        p = allocate_slow_nothrow(size, 0, unused);
    }
    return p;
}

[[gnu::always_inline]] inline void* new_aligned_impl(std::size_t size, std::align_val_t al) {
    const auto alignment = static_cast<std::size_t>(al);
    void* p = backend::allocate_aligned(size, alignment);
    if (p == nullptr) [[unlikely]] {
        std::size_t unused = 0;
        p = allocate_slow(size, alignment, unused);
    }
    return p;
}

[[gnu::always_inline]] inline void* new_aligned_impl_nothrow(std::size_t size,
                                                             std::align_val_t al) noexcept {
    const auto alignment = static_cast<std::size_t>(al);
    void* p = backend::allocate_aligned(size, alignment);
    if (p == nullptr) [[unlikely]] {
        std::size_t unused = 0;
        p = allocate_slow_nothrow(size, alignment, unused);
    }
    return p;
}

[[gnu::always_inline]] inline void delete_impl(void* p) noexcept {
    if (p == nullptr) return;
    backend::release(p);
}

#endif

}  // namespace

// memalign() takes any alignment, as glibc's does: one that is not a power of two is
// rounded up to one. 0 for one past the largest power of two.
std::size_t power_of_two_at_least(std::size_t alignment) noexcept {
    if (alignment > (std::size_t{1} << 63)) return 0;
    std::size_t power = 1;
    while (power < alignment) power <<= 1;
    return power;
}

#if MEMSCOPE_BACKEND_MIMALLOC
// The block behind posix_memalign, aligned_alloc and memalign (`alignment` a power of
// two): counted with the malloc family where it is counted, else straight from the
// backend, which works around mimalloc 2.0.9's alignment bug. Null with errno ENOMEM.
void* aligned_c_block(std::size_t size, std::size_t alignment) noexcept {
#if MEMSCOPE_COUNT_MALLOC
    return malloc_aligned(size, alignment);
#else
    void* p = backend::allocate_aligned(size, alignment);
    if (p == nullptr) errno = ENOMEM;
    return p;
#endif
}
#endif

void mark_thread_internal() noexcept {
#if MEMSCOPE_TRACKING
    t_counters.tag = kInternalTag;
#endif
}

void prepare_size_classes() noexcept {
#if MEMSCOPE_TRACKING && MEMSCOPE_BACKEND_MIMALLOC
    // mi_good_size() never decreases with the size, so a word's entry is right for every
    // request in it when the word's first and last byte counts agree.
    bool valid = true;
    std::size_t classes = 0;
    for (std::size_t word = 0; word < kTableWords; ++word) {
        const std::size_t last = word * 8;
        const std::size_t first = word == 0 ? 0 : last - 7;
        const std::size_t size = mi_good_size(last);
        valid = valid && mi_good_size(first) == size && size <= UINT32_MAX;
        if (classes == 0 || g_class_size[classes - 1] != size) {
            if (classes == 256) {
                valid = false;
                break;
            }
            g_class_size[classes++] = static_cast<std::uint32_t>(size);
        }
        g_class_of[word] = static_cast<std::uint8_t>(classes - 1);
    }
    g_table_limit = valid ? kMediumMax + 1 : 0;
    g_fast_limit = valid ? kMediumMax - kHeaderBytes + 1 : 0;
#endif
}

// A program that replaces operator new or operator delete itself, run under memscope-run:
// its definitions come first in symbol lookup, but the forms it did not replace (new[],
// nothrow new, sized delete, delete[]) would be this file's, and must instead come back to
// its own, as the C++ library's defaults do, or a block of its operator new reaches
// memscope's delete. Set once, before main, by adopt_program_operators().
//
// Only memscope-run's library needs this: this file is compiled a second time for it, with
// MEMSCOPE_ADOPT_PROGRAM_OPERATORS (tools/run/CMakeLists.txt). A program that links
// memscope cannot define these operators too (a second definition does not link), so there
// the two pointers are constant nulls and every check below folds away: a game pays
// nothing for it. In the library, internal linkage makes each check one compare with the
// variable itself (no load of its address first).
using ProgramNew = void* (*)(std::size_t);
using ProgramDelete = void (*)(void*);
#ifndef MEMSCOPE_ADOPT_PROGRAM_OPERATORS
#define MEMSCOPE_ADOPT_PROGRAM_OPERATORS 0
#endif
namespace {
#if MEMSCOPE_ADOPT_PROGRAM_OPERATORS
constinit ProgramNew g_program_new = nullptr;
constinit ProgramDelete g_program_delete = nullptr;
#else
constexpr ProgramNew g_program_new = nullptr;
constexpr ProgramDelete g_program_delete = nullptr;
#endif
}  // namespace

void adopt_program_operators() noexcept {
#if MEMSCOPE_ADOPT_PROGRAM_OPERATORS
    Dl_info mine{};
    if (dladdr(reinterpret_cast<void*>(&adopt_program_operators), &mine) == 0) return;
    // The definition the process uses is the first in lookup order; it is not ours when
    // the program (or a library preloaded before memscope) defines its own.
    const auto theirs = [&mine](const char* symbol) -> void* {
        void* found = dlsym(RTLD_DEFAULT, symbol);
        Dl_info where{};
        if (found == nullptr || dladdr(found, &where) == 0) return nullptr;
        return where.dli_fbase == mine.dli_fbase ? nullptr : found;
    };
    g_program_new = reinterpret_cast<ProgramNew>(theirs("_Znwm"));         // new(size_t)
    g_program_delete = reinterpret_cast<ProgramDelete>(theirs("_ZdlPv"));  // delete(void*)
#endif
}

}  // namespace memscope::detail

namespace memscope {

std::size_t usable_size(const void* p) noexcept {
    if (p == nullptr) return 0;
#if MEMSCOPE_TRACKING
    if (detail::is_large_address(p)) {
        std::size_t counted = 0;
        TagId tag = 0;
        if (detail::large_find(p, counted, tag)) return counted;
    }
    return static_cast<std::size_t>(detail::read_header(p) >> detail::kCountedShift);
#else
    return detail::backend::usable_size(p);
#endif
}

}  // namespace memscope

using memscope::detail::delete_impl;
using memscope::detail::g_program_delete;
using memscope::detail::g_program_new;
using memscope::detail::new_aligned_impl;
using memscope::detail::new_aligned_impl_nothrow;
using memscope::detail::new_impl;
using memscope::detail::new_impl_nothrow;

namespace {
// The nothrow forms over a program's own operator new, as the C++ library's are.
void* program_new_nothrow(std::size_t size) noexcept {
    try {
        return g_program_new(size);
    } catch (...) {
        return nullptr;
    }
}
}  // namespace

// The eight replaceable allocation functions. Those a program may expect to reach its own
// operator new and delete do when it has them (adopt_program_operators()).
void* operator new(std::size_t size) {
    return new_impl(size);
}
void* operator new[](std::size_t size) {
    if (g_program_new != nullptr) [[unlikely]]
        return g_program_new(size);
    return new_impl(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    if (g_program_new != nullptr) [[unlikely]]
        return program_new_nothrow(size);
    return new_impl_nothrow(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    if (g_program_new != nullptr) [[unlikely]]
        return program_new_nothrow(size);
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

// The twelve replaceable deallocation functions. Every block's header holds its counted
// size, its tag and where its allocator block starts, so every form does the same thing:
// the size and the alignment a caller passes are not needed.
void operator delete(void* p) noexcept {
    delete_impl(p);
}
void operator delete[](void* p) noexcept {
    if (g_program_delete != nullptr) [[unlikely]]
        return g_program_delete(p);
    delete_impl(p);
}
void operator delete(void* p, std::size_t) noexcept {
    if (g_program_delete != nullptr) [[unlikely]]
        return g_program_delete(p);
    delete_impl(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    if (g_program_delete != nullptr) [[unlikely]]
        return g_program_delete(p);
    delete_impl(p);
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
    if (g_program_delete != nullptr) [[unlikely]]
        return g_program_delete(p);
    delete_impl(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    if (g_program_delete != nullptr) [[unlikely]]
        return g_program_delete(p);
    delete_impl(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    delete_impl(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    delete_impl(p);
}

#if MEMSCOPE_BACKEND_MIMALLOC
// The aligned C functions. Linking libmimalloc makes it the process's malloc, and with it
// its aligned functions, which have the alignment bug that backend::allocate_aligned works
// around; definitions in the executable come first in symbol lookup, so these serve every
// caller, counted where the malloc family is (below) and not otherwise.
using memscope::detail::aligned_c_block;
using memscope::detail::power_of_two_at_least;

extern "C" {
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    // POSIX: a power of two, and a multiple of sizeof(void*).
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
    const int saved = errno;  // posix_memalign reports through its result, not errno
    void* p = aligned_c_block(size, alignment);
    errno = saved;
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return nullptr;
    }
    return aligned_c_block(size, alignment);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
    const std::size_t power = power_of_two_at_least(alignment);
    if (power == 0) {
        errno = EINVAL;
        return nullptr;
    }
    return aligned_c_block(size, power);
}
}
#endif

#if MEMSCOPE_COUNT_MALLOC
// The malloc family, counted. Definitions in the executable come first in symbol lookup,
// ahead of libmimalloc's and glibc's, so every caller in the process lands here: the
// program, its libraries, and glibc's own functions that allocate for their caller
// (strdup, getline, asprintf, ...), which call malloc through the PLT. The __libc_ names
// are defined too, so that a program calling them reaches these and not libmimalloc's,
// which would not know the header.
using memscope::detail::calloc_impl;
using memscope::detail::malloc_aligned;
using memscope::detail::malloc_impl;
using memscope::detail::page_size;
using memscope::detail::realloc_impl;

extern "C" {
void* malloc(std::size_t size) noexcept {
    return malloc_impl(size);
}
void free(void* p) noexcept {
    delete_impl(p);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
    return calloc_impl(count, size);
}
void* realloc(void* p, std::size_t size) noexcept {
    return realloc_impl(p, size);
}
void* reallocarray(void* p, std::size_t count, std::size_t size) noexcept {
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc_impl(p, bytes);
}
void* valloc(std::size_t size) noexcept {
    return malloc_aligned(size, page_size());
}
void* pvalloc(std::size_t size) noexcept {
    const std::size_t page = page_size();
    std::size_t rounded = 0;
    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return nullptr;
    }
    rounded &= ~(page - 1);
    return malloc_aligned(rounded == 0 ? page : rounded, page);
}
std::size_t malloc_usable_size(void* p) noexcept {
    return memscope::usable_size(p);
}
void* __libc_malloc(std::size_t size) noexcept {
    return malloc_impl(size);
}
void __libc_free(void* p) noexcept {
    delete_impl(p);
}
void* __libc_calloc(std::size_t count, std::size_t size) noexcept {
    return calloc_impl(count, size);
}
void* __libc_realloc(void* p, std::size_t size) noexcept {
    return realloc_impl(p, size);
}
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept {
    return memalign(alignment, size);
}
void* __libc_valloc(std::size_t size) noexcept {
    return valloc(size);
}
void* __libc_pvalloc(std::size_t size) noexcept {
    return pvalloc(size);
}
}
#endif

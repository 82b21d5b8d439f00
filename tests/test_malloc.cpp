// SPDX-License-Identifier: MIT
// The malloc family in linked mode: every form counted by usable size in the malloc
// family's figures and charged to the innermost scope; realloc's edge cases (null, to 0,
// in place, moving, to and from large blocks); the aligned C entry points aligned at every
// alignment; glibc's own allocating functions (strdup, getline, asprintf); threads freeing
// each other's blocks. In a build that does not count the malloc family (sanitizers, no
// tracking) the same calls must work and count nothing.

#include <doctest/doctest.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <memscope/allocator.hpp>
#include <memscope/scope.hpp>

namespace {

using memscope::SourceStats;

// The malloc family's books, and the operators', read together.
struct Books {
    SourceStats malloc_family;
    SourceStats operators;
    static Books now() {
        const memscope::AllocationSources s = memscope::allocation_sources();
        return {s.malloc_family, s.operators};
    }
    [[nodiscard]] std::int64_t bytes_since(const Books& b) const {
        return static_cast<std::int64_t>(malloc_family.current_bytes) -
               static_cast<std::int64_t>(b.malloc_family.current_bytes);
    }
    [[nodiscard]] std::int64_t allocations_since(const Books& b) const {
        return static_cast<std::int64_t>(malloc_family.allocation_count -
                                         b.malloc_family.allocation_count);
    }
    [[nodiscard]] std::int64_t frees_since(const Books& b) const {
        return static_cast<std::int64_t>(malloc_family.deallocation_count -
                                         b.malloc_family.deallocation_count);
    }
};

bool counting() {
    return memscope::malloc_counting_enabled();
}

// The usable size of a block of the malloc family: memscope's figure when it counts them,
// else the allocator's.
std::size_t usable(const void* p) {
    return counting() ? memscope::usable_size(p) : ::malloc_usable_size(const_cast<void*>(p));
}

// What the books should have moved by for a block: its usable size when counting, else 0.
std::int64_t counted(const void* p) {
    return counting() ? static_cast<std::int64_t>(usable(p)) : 0;
}
std::int64_t one() {
    return counting() ? 1 : 0;
}

// The calls below go through a volatile pointer so that the compiler cannot pair a malloc
// with its free and drop both (it may, for the library functions it knows).
void* (*volatile g_malloc)(std::size_t) = &std::malloc;
void (*volatile g_free)(void*) = &std::free;
void* (*volatile g_realloc)(void*, std::size_t) = &std::realloc;
void* (*volatile g_calloc)(std::size_t, std::size_t) = &std::calloc;

// Sizes no allocator grants, read at run time so the compiler does not refuse the calls.
volatile std::size_t g_huge = SIZE_MAX / 2;

std::int64_t tag_bytes(memscope::TagId id) {
    const auto stats = memscope::tag_stats();
    return id < stats.size() ? static_cast<std::int64_t>(stats[id].current_bytes) : 0;
}

bool aligned(const void* p, std::size_t alignment) {
    return (reinterpret_cast<std::uintptr_t>(p) & (alignment - 1)) == 0;
}

}  // namespace

TEST_CASE("malloc and free are counted by usable size in the malloc family, not the operators") {
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{24}, std::size_t{100},
          std::size_t{4096}, std::size_t{100000}, std::size_t{128 * 1024},
          std::size_t{128 * 1024 + 1}, std::size_t{3} << 20}) {
        CAPTURE(size);
        const Books before = Books::now();
        void* p = g_malloc(size);
        REQUIRE(p != nullptr);
        const Books during = Books::now();
        CHECK(usable(p) >= size);
        if (counting()) CHECK(::malloc_usable_size(p) == memscope::usable_size(p));
        CHECK(during.bytes_since(before) == counted(p));
        CHECK(during.allocations_since(before) == one());
        CHECK(during.operators.current_bytes == before.operators.current_bytes);
        std::memset(p, 0xab, size);  // every usable byte asked for is writable
        g_free(p);
        const Books after = Books::now();
        CHECK(after.bytes_since(before) == 0);
        CHECK(after.frees_since(before) == one());
    }
    const Books before = Books::now();
    g_free(nullptr);
    CHECK(Books::now().frees_since(before) == 0);
    CHECK(::malloc_usable_size(nullptr) == 0);
}

TEST_CASE("the totals of allocation_stats() are the sums of both families") {
    void* p = g_malloc(1000);
    int* q = new int(7);
    const memscope::AllocationSources s = memscope::allocation_sources();
    const memscope::AllocationStats t = memscope::allocation_stats();
    // Nothing allocates between the two reads.
    CHECK(t.total_allocated_bytes == s.operators.current_bytes + s.malloc_family.current_bytes);
    CHECK(t.allocation_count == s.operators.allocation_count + s.malloc_family.allocation_count);
    delete q;
    g_free(p);
}

TEST_CASE("calloc: zeroed, counted, and an overflowing product is refused") {
    for (const std::size_t n :
         {std::size_t{1}, std::size_t{1000}, std::size_t{200000}, std::size_t{4} << 20}) {
        CAPTURE(n);
        const Books before = Books::now();
        auto* p = static_cast<unsigned char*>(g_calloc(n, 1));
        REQUIRE(p != nullptr);
        CHECK(Books::now().bytes_since(before) == counted(p));
        bool zero = true;
        for (std::size_t i = 0; i < n; ++i) zero = zero && p[i] == 0;
        CHECK(zero);
        g_free(p);
        CHECK(Books::now().bytes_since(before) == 0);
    }
    const Books before = Books::now();
    errno = 0;
    CHECK(g_calloc(g_huge, 3) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(Books::now().allocations_since(before) == 0);
}

TEST_CASE("realloc: null, to 0, in place, moving, shrinking, to and from large blocks") {
    SUBCASE("realloc(nullptr, n) is malloc(n)") {
        const Books before = Books::now();
        void* p = g_realloc(nullptr, 100);
        REQUIRE(p != nullptr);
        CHECK(Books::now().bytes_since(before) == counted(p));
        g_free(p);
    }
    SUBCASE("realloc(p, 0) frees p and returns null, as glibc does") {
        void* p = g_malloc(100);
        const Books before = Books::now();
        const std::int64_t size = counted(p);
        CHECK(g_realloc(p, 0) == nullptr);
        CHECK(Books::now().bytes_since(before) == -size);
        CHECK(Books::now().frees_since(before) == one());
    }
    SUBCASE("growing and shrinking keep the contents and the books exact at every step") {
        const Books before = Books::now();
        auto* p = static_cast<unsigned char*>(g_malloc(16));
        REQUIRE(p != nullptr);
        for (std::size_t i = 0; i < 16; ++i) p[i] = static_cast<unsigned char>(i);
        std::size_t size = 16;
        for (const std::size_t next :
             {std::size_t{17}, std::size_t{64}, std::size_t{1000}, std::size_t{1001},
              std::size_t{100000}, std::size_t{200000}, std::size_t{300000}, std::size_t{2} << 20,
              std::size_t{150000}, std::size_t{5000}, std::size_t{4000}, std::size_t{100},
              std::size_t{8}}) {
            CAPTURE(next);
            auto* q = static_cast<unsigned char*>(g_realloc(p, next));
            REQUIRE(q != nullptr);
            bool kept = true;
            for (std::size_t i = 0; i < 16 && i < next; ++i)
                kept = kept && q[i] == static_cast<unsigned char>(i);
            CHECK(kept);
            CHECK(usable(q) >= next);
            CHECK(Books::now().bytes_since(before) == counted(q));
            std::memset(q + (next < 16 ? next : 16), 0x5a, next - (next < 16 ? next : 16));
            p = q;
            size = next;
        }
        static_cast<void>(size);
        g_free(p);
        CHECK(Books::now().bytes_since(before) == 0);
    }
    SUBCASE("a realloc that fits the block's usable size stays in place and moves no figure") {
        void* p = g_malloc(1000);
        const std::size_t room = usable(p);
        const Books before = Books::now();
        CHECK(g_realloc(p, room) == p);
        CHECK(g_realloc(p, room / 2 + 1) == p);
        const Books after = Books::now();
        CHECK(after.bytes_since(before) == 0);
        CHECK(after.allocations_since(before) == 0);
        g_free(p);
    }
    SUBCASE("a failed realloc leaves the block and the books as they were") {
        void* p = g_malloc(100);
        std::memset(p, 7, 100);
        const Books before = Books::now();
        errno = 0;
        CHECK(g_realloc(p, g_huge) == nullptr);
        CHECK(errno == ENOMEM);
        CHECK(Books::now().bytes_since(before) == 0);
        CHECK(static_cast<unsigned char*>(p)[99] == 7);
        g_free(p);
    }
    SUBCASE("reallocarray refuses an overflowing product") {
        void* p = g_malloc(10);
        errno = 0;
        CHECK(::reallocarray(p, g_huge, 4) == nullptr);
        CHECK(errno == ENOMEM);
        void* q = ::reallocarray(p, 100, 4);
        REQUIRE(q != nullptr);
        CHECK(usable(q) >= 400);
        g_free(q);
    }
}

TEST_CASE("the aligned C functions align at every alignment, sizes that are multiples of it") {
    // mimalloc 2.0.9 returns 128-aligned blocks for 256 to 1024 with such sizes (DESIGN.md).
    std::vector<std::size_t> failures;
    const Books before = Books::now();
    for (std::size_t alignment = 16; alignment <= 8192; alignment *= 2) {
        for (std::size_t size = alignment; size <= 4 * alignment && size <= 16384;
             size += alignment) {
            void* a = nullptr;
            const int rc = ::posix_memalign(&a, alignment, size);
            void* b = ::aligned_alloc(alignment, size);
            void* c = ::memalign(alignment, size);
            if (rc != 0 || !aligned(a, alignment) || !aligned(b, alignment) ||
                !aligned(c, alignment) || usable(a) < size || usable(b) < size || usable(c) < size)
                failures.push_back(alignment * 100000 + size);
            for (void* p : {a, b, c}) {
                if (p != nullptr) std::memset(p, 1, size);
                g_free(p);
            }
        }
    }
    CHECK(failures.empty());
    CHECK(Books::now().bytes_since(before) == 0);
    // Large alignments and sizes, through the large-block path.
    for (const std::size_t alignment : {std::size_t{64} << 10, std::size_t{1} << 20}) {
        void* p = nullptr;
        REQUIRE(::posix_memalign(&p, alignment, 3 * alignment) == 0);
        CHECK(aligned(p, alignment));
        CHECK(Books::now().bytes_since(before) == counted(p));
        g_free(p);
    }
    CHECK(Books::now().bytes_since(before) == 0);
}

TEST_CASE("the aligned C functions refuse what their contracts refuse") {
    void* p = reinterpret_cast<void*>(0x1);
    CHECK(::posix_memalign(&p, 3, 64) == EINVAL);
    CHECK(::posix_memalign(&p, 4, 64) == EINVAL);  // below sizeof(void*)
    CHECK(p == reinterpret_cast<void*>(0x1));      // untouched on failure
    errno = 0;
    CHECK(::aligned_alloc(48, 96) == nullptr);
    CHECK(errno == EINVAL);
    void* q = ::memalign(48, 96);  // glibc rounds the alignment up to 64
    REQUIRE(q != nullptr);
    CHECK(aligned(q, 64));
    g_free(q);
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    void* v = ::valloc(10);
    void* pv = ::pvalloc(10);
    void* pv0 = ::pvalloc(0);
    REQUIRE(v != nullptr);
    REQUIRE(pv != nullptr);
    REQUIRE(pv0 != nullptr);
    CHECK(aligned(v, page));
    CHECK(aligned(pv, page));
    CHECK(usable(pv) >= page);
    CHECK(usable(pv0) >= page);
    g_free(v);
    g_free(pv);
    g_free(pv0);
}

TEST_CASE("glibc's allocating functions are counted and charged to the innermost scope") {
    const memscope::TagId id = memscope::tag("MallocStrings");
    const std::int64_t base = tag_bytes(id);
    const Books before = Books::now();
    char* s = nullptr;
    char* line = nullptr;
    char* formatted = nullptr;
    {
        const memscope::Scope scope(id);
        s = ::strdup("a string glibc copies with malloc");
        std::size_t capacity = 0;
        FILE* f = ::fmemopen(const_cast<char*>("one line\nanother\n"), 17, "r");
        REQUIRE(f != nullptr);
        CHECK(::getline(&line, &capacity, f) == 9);
        std::fclose(f);
        CHECK(::asprintf(&formatted, "%d %s", 42, "formatted") > 0);
    }
    REQUIRE(s != nullptr);
    REQUIRE(line != nullptr);
    REQUIRE(formatted != nullptr);
    const std::int64_t held = counted(s) + counted(line) + counted(formatted);
    CHECK(tag_bytes(id) - base == held);
    CHECK(Books::now().bytes_since(before) == held);
    g_free(s);
    g_free(line);
    g_free(formatted);
    CHECK(tag_bytes(id) == base);
    CHECK(Books::now().bytes_since(before) == 0);
}

TEST_CASE("8 threads over 8 tags, each block freed by another thread: every tag back to base") {
    constexpr int kThreads = 8;
    constexpr int kBlocks = 2000;
    std::vector<memscope::TagId> tags;
    for (int t = 0; t < kThreads; ++t) tags.push_back(memscope::tag("Malloc" + std::to_string(t)));
    std::vector<std::int64_t> base;
    for (const memscope::TagId id : tags) base.push_back(tag_bytes(id));
    std::vector<std::vector<void*>> blocks(kThreads);
    for (auto& b : blocks) b.reserve(kBlocks);
    std::vector<std::int64_t> held(kThreads, 0);
    const Books before = Books::now();

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const memscope::Scope scope(tags[static_cast<std::size_t>(t)]);
            for (int i = 0; i < kBlocks; ++i) {
                const auto size = static_cast<std::size_t>(1 + (i * 37 + t * 11) % 3000);
                void* p = (i % 3 == 0)   ? g_calloc(1, size)
                          : (i % 3 == 1) ? g_malloc(size)
                                         : g_realloc(g_malloc(size / 2 + 1), size);
                blocks[static_cast<std::size_t>(t)].push_back(p);
                held[static_cast<std::size_t>(t)] += counted(p);
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t)
        CHECK(tag_bytes(tags[static_cast<std::size_t>(t)]) - base[static_cast<std::size_t>(t)] ==
              held[static_cast<std::size_t>(t)]);

    // Each thread frees the blocks of the next, under a scope of its own.
    threads.clear();
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const memscope::Scope scope("MallocFreer");
            for (void* p : blocks[static_cast<std::size_t>((t + 1) % kThreads)]) g_free(p);
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t)
        CHECK(tag_bytes(tags[static_cast<std::size_t>(t)]) == base[static_cast<std::size_t>(t)]);
    CHECK(Books::now().bytes_since(before) == 0);
}

TEST_CASE("without malloc counting, the family works and its figures stay at zero") {
    if (counting()) return;
    void* p = g_malloc(100);
    REQUIRE(p != nullptr);
    const memscope::AllocationSources s = memscope::allocation_sources();
    CHECK(s.malloc_family.current_bytes == 0);
    CHECK(s.malloc_family.allocation_count == 0);
    g_free(p);
}

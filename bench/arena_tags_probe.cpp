// SPDX-License-Identifier: MIT
// A probe, not memscope: what option A of docs/design/scoped-attribution.md would cost on
// the overhead benchmark's workloads. Each of 8 tags gets an exclusive mimalloc arena in one
// range memscope reserves, every thread a heap per tag in its arena, and a free finds its
// tag from the block's address (one subtraction and a shift) instead of a header. The
// counting around the calls is the same kind of work memscope's rows do (a thread's own
// row of bytes and counts, with bounds that send it to a slow path), so the probe's ratio
// against raw mimalloc tells what reading no header would buy, measured in the same run.
// It has none of option A's hard parts (more than 64 tags, thread exit, huge and aligned
// blocks, realloc): it only measures.

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "allocators.hpp"
#include "workloads.hpp"

namespace {

constexpr unsigned kTags = 8;
constexpr std::size_t kArenaBytes = std::size_t{4} << 30;  // per tag
constexpr std::size_t kArenaShift = 32;
constexpr std::size_t kAlign = std::size_t{32} << 20;  // mimalloc 2.0.9's segment

std::uintptr_t g_base = 0;
mi_arena_id_t g_arena[kTags];
// The size class of a request up to 128 KiB, as memscope finds it: a byte of class index
// per 8-byte word of request, then the class's size.
std::uint8_t g_class_of[128 * 1024 / 8 + 1];
std::uint32_t g_class_size[256];
// ARENA_TAGS_PROBE_COUNT=request counts the bytes asked for instead, with no lookup: not
// a usable size, but the floor of any counting.
bool g_count_request = false;

void prepare() {
    const std::size_t span = kTags * kArenaBytes;
    void* range =
        mmap(nullptr, span + kAlign, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (range == MAP_FAILED) std::abort();
    g_base = (reinterpret_cast<std::uintptr_t>(range) + kAlign - 1) & ~(kAlign - 1);
    for (unsigned i = 0; i < kTags; ++i) {
        if (!mi_manage_os_memory_ex(reinterpret_cast<void*>(g_base + i * kArenaBytes), kArenaBytes,
                                    false, false, true, -1, true, &g_arena[i]))
            std::abort();
    }
    unsigned index = 0;
    for (std::size_t w = 0; w < sizeof g_class_of; ++w) {
        const auto size = static_cast<std::uint32_t>(mi_good_size(w * 8));
        if (w > 0 && size != g_class_size[index]) ++index;
        if (index >= 256) std::abort();
        g_class_of[w] = static_cast<std::uint8_t>(index);
        g_class_size[index] = size;
    }
    const char* count = std::getenv("ARENA_TAGS_PROBE_COUNT");
    g_count_request = count != nullptr && std::string_view(count) == "request";
}

// A thread's row of one tag: owner-written, bounds as memscope's rows have them.
struct Row {
    std::int64_t bytes = 0, published = 0;
    std::uint64_t allocations = 0, frees = 0;
    std::int64_t upper = 1 << 18, lower = -(1 << 18);
};
struct Thread {
    mi_heap_t* heaps[kTags] = {};
    mi_heap_t* current = nullptr;  // null: the default heap (untagged)
    Row rows[kTags + 1];
};
constinit thread_local Thread t;
std::atomic<std::int64_t> g_published{0};

// What memscope does when a row leaves its bounds: the change since the last publication
// goes to a shared total, and the bounds move.
[[gnu::noinline]] void publish(Row& row) {
    g_published.fetch_add(row.bytes - row.published, std::memory_order_relaxed);
    row.published = row.bytes;
    row.upper = row.bytes + (1 << 18);
    row.lower = row.bytes - (1 << 18);
}

// The row of the block at `p`: its tag from its address, 0 outside the range.
inline Row& row_of(const void* p) {
    const std::uintptr_t offset = reinterpret_cast<std::uintptr_t>(p) - g_base;
    const std::size_t tag = offset < kTags * kArenaBytes ? (offset >> kArenaShift) + 1 : 0;
    return t.rows[tag];
}

inline std::size_t class_of(std::size_t n) {
    if (g_count_request) return n;
    return n <= 128 * 1024 ? g_class_size[g_class_of[(n + 7) / 8]] : mi_good_size(n);
}

struct ArenaTags {
    static constexpr const char* name = "arena_tags_probe";
    struct Tags {
        Tags() { t.current = nullptr; }
        ~Tags() { t.current = nullptr; }
        void enter(unsigned i) {
            mi_heap_t*& heap = t.heaps[i % kTags];
            if (heap == nullptr) heap = mi_heap_new_in_arena(g_arena[i % kTags]);
            t.current = heap;
        }
    };
    static void* allocate(std::size_t n) {
        const std::size_t counted = class_of(n);
        void* p = t.current != nullptr ? mi_heap_malloc(t.current, n) : mi_malloc(n);
        if (p == nullptr) throw std::bad_alloc();
        Row& row = row_of(p);
        row.bytes += static_cast<std::int64_t>(counted);
        ++row.allocations;
        if (row.bytes > row.upper) publish(row);
        return p;
    }
    static void release(void* p, std::size_t n) {
        Row& row = row_of(p);
        row.bytes -= static_cast<std::int64_t>(class_of(n));
        ++row.frees;
        if (row.bytes < row.lower) publish(row);
        mi_free(p);
    }
};

// The same inside one tag for the whole run.
struct ArenaTagsScoped : ArenaTags {
    static constexpr const char* name = "arena_tags_probe_scoped";
    struct Tags : ArenaTags::Tags {
        Tags() { ArenaTags::Tags::enter(3); }
        void enter(unsigned) {}
    };
};

}  // namespace

int main(int argc, char** argv) {
    prepare();
    bench::register_workloads<bench::RawMimalloc>();
    bench::register_workloads<bench::Memscope>();
    bench::register_workloads<bench::MemscopeScoped>();
    bench::register_workloads<ArenaTags>();
    bench::register_workloads<ArenaTagsScoped>();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

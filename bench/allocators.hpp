// SPDX-License-Identifier: MIT
#pragma once
// The four allocators the overhead benchmark compares, each as a policy with
// allocate(size) and release(ptr, size). Workloads are templates over the policy, so every
// allocator runs the same instructions around its calls.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include <optional>
#include <string>

#ifndef MEMSCOPE_BENCH_GLIBC
#include <mimalloc.h>

#include <memscope/scope.hpp>
#endif

namespace bench {

// What a workload does to the current tag, per thread: nothing (every allocator but
// memscope, where a tag means nothing), or memscope scopes. A policy names its own in
// `Tags`; tagged_mixed calls enter(i) to switch to tag i of 8, the other workloads only
// construct it.
struct NoTags {
    void enter(unsigned) {}
};

#ifdef MEMSCOPE_BENCH_GLIBC
// glibc malloc. Built into a separate program that does not link mimalloc: Debian's
// libmimalloc replaces malloc for the whole process as soon as it is linked.
struct GlibcMalloc {
    static constexpr const char* name = "glibc";
    static void* allocate(std::size_t n) { return std::malloc(n); }
    static void release(void* p, std::size_t) { std::free(p); }
};
#else
// mimalloc with nothing around it: the floor every tracker is measured against.
struct RawMimalloc {
    static constexpr const char* name = "mimalloc";
    static void* allocate(std::size_t n) { return mi_malloc(n); }
    static void release(void* p, std::size_t) { mi_free(p); }
};

// memscope: the program's own global operator new / sized delete, which memscope replaces.
// Sized delete is what C++ code emits for `delete p` of a complete type and what
// std::allocator uses, so it is the common case.
struct Memscope {
    static constexpr const char* name = "memscope";
    struct Tags;  // memscope scopes: defined below
    static void* allocate(std::size_t n) { return ::operator new(n); }
    static void release(void* p, std::size_t n) { ::operator delete(p, n); }
};

// Eight memscope tags, entered by a Scope that is replaced at each switch.
struct Memscope::Tags {
    memscope::TagId ids[8];
    std::optional<memscope::Scope> scope;
    Tags() {
        for (unsigned i = 0; i < 8; ++i) ids[i] = memscope::tag("bench-" + std::to_string(i));
    }
    void enter(unsigned i) {
        scope.reset();
        scope.emplace(ids[i % 8]);
    }
};

// memscope with every allocation inside one scope for the whole run: what attribution
// costs when a subsystem's code allocates (the tag is set once per thread; the per-call
// work is the same as outside any scope, which this policy shows).
struct MemscopeScoped {
    static constexpr const char* name = "memscope_scoped";
    struct Tags {
        memscope::Scope scope{"bench-scoped"};  // entered for the whole run
        void enter(unsigned) {}
    };
    static void* allocate(std::size_t n) { return ::operator new(n); }
    static void release(void* p, std::size_t n) { ::operator delete(p, n); }
};

[[gnu::noinline]] inline void* wrapped_alloc(std::size_t n) {
    void* p = mi_malloc(n);
    if (!p) throw std::bad_alloc();
    return p;
}
[[gnu::noinline]] inline void wrapped_free(void* p, std::size_t) {
    if (p) mi_free(p);
}
// mimalloc behind one out-of-line function call, as any operator new replacement around
// a shared libmimalloc must be: the floor below which no tracker can go. Not one of the
// four allocators of the comparison, but it tells the call's cost from the counting's.
[[gnu::noinline]] inline void* call_floor_allocate(std::size_t n) {
    void* p = mi_malloc(n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
[[gnu::noinline]] inline void call_floor_release(void* p) {
    if (p != nullptr) mi_free(p);
}
struct MimallocCall {
    static constexpr const char* name = "mimalloc_call";
    static void* allocate(std::size_t n) { return call_floor_allocate(n); }
    static void release(void* p, std::size_t) { call_floor_release(p); }
};

// memscope through unsized delete (delete of an incomplete type, C-style wrappers): the
// size must be looked up from mimalloc.
struct MemscopeUnsized {
    static constexpr const char* name = "memscope_unsized";
    static void* allocate(std::size_t n) { return ::operator new(n); }
    static void release(void* p, std::size_t) { ::operator delete(p); }
};

// A reference copy of the specification's design, for comparison only: one set of global
// relaxed atomics updated by every thread, and a CAS loop for the peak, around mimalloc.
// Every allocation and free writes the same shared cache lines.
struct SpecDesign {
    static constexpr const char* name = "spec_design";
    static inline std::atomic<std::size_t> allocated{0};
    static inline std::atomic<std::uint64_t> peak{0};
    static inline std::atomic<std::size_t> allocations{0};
    static inline std::atomic<std::size_t> deallocations{0};

    static void* allocate(std::size_t n) {
        void* p = mi_malloc(n);
        if (p != nullptr) {
            const std::size_t total = allocated.fetch_add(n, std::memory_order_relaxed) + n;
            allocations.fetch_add(1, std::memory_order_relaxed);
            std::uint64_t seen = peak.load(std::memory_order_relaxed);
            while (total > seen &&
                   !peak.compare_exchange_weak(seen, total, std::memory_order_relaxed)) {
            }
        }
        return p;
    }
    static void release(void* p, std::size_t n) {
        allocated.fetch_sub(n, std::memory_order_relaxed);
        deallocations.fetch_add(1, std::memory_order_relaxed);
        mi_free(p);
    }
};
#endif

}  // namespace bench

// SPDX-License-Identifier: MIT
// Instructions per allocate+free pair, counted by valgrind's callgrind: deterministic, so
// the figure does not depend on what else the machine does. bench/pair_instructions.sh
// runs it under callgrind, collecting only inside measured_loop(), and divides by the
// number of pairs.
//
// usage: pair_instructions ALLOCATOR WORKLOAD PAIRS
//   ALLOCATOR: mimalloc | memscope | memscope_unsized | memscope_tagged
//   WORKLOAD:  tight64 (new 64 B, delete it) | mixed (the benchmark's mixed_sizes plan)

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "allocators.hpp"
#include "workloads.hpp"

// Out of line with C linkage, so callgrind's --toggle-collect can name it.
extern "C" [[gnu::noinline]] void measured_loop(void (*body)(void*, long), void* ctx, long pairs) {
    body(ctx, pairs);
}

namespace {

template <class Alloc, class Tags>
struct Context {
    Tags* tags;
    const bench::MixedPlan* plan;
    void** live;
    std::size_t* sizes;
    bool switch_tags;
};

template <class Alloc, class Tags>
void tight(void* c, long pairs) {
    auto& ctx = *static_cast<Context<Alloc, Tags>*>(c);
    for (long i = 0; i < pairs; ++i) {
        if (ctx.switch_tags && i % 64 == 0) ctx.tags->enter(static_cast<unsigned>(i / 64));
        void* p = Alloc::allocate(64);
        bench::escape(p);
        Alloc::release(p, 64);
    }
}

template <class Alloc, class Tags>
void mixed(void* c, long pairs) {
    auto& ctx = *static_cast<Context<Alloc, Tags>*>(c);
    std::size_t step = 0;
    for (long i = 0; i < pairs; ++i) {
        if (ctx.switch_tags && i % 64 == 0) ctx.tags->enter(static_cast<unsigned>(i / 64));
        const std::size_t slot = ctx.plan->slots[step];
        Alloc::release(ctx.live[slot], ctx.sizes[slot]);
        ctx.sizes[slot] = ctx.plan->sizes[step];
        ctx.live[slot] = Alloc::allocate(ctx.sizes[slot]);
        bench::escape(ctx.live[slot]);
        step = (step + 1) % bench::MixedPlan::kSteps;
    }
}

template <class Alloc, class Tags>
void run(std::string_view workload, long pairs, Tags& tags, bool switch_tags) {
    const bench::MixedPlan plan(1234u);
    static void* live[bench::MixedPlan::kSlots];
    static std::size_t sizes[bench::MixedPlan::kSlots];
    for (std::size_t i = 0; i < bench::MixedPlan::kSlots; ++i) {
        sizes[i] = plan.sizes[(i * 7) % bench::MixedPlan::kSteps];
        live[i] = Alloc::allocate(sizes[i]);
    }
    Context<Alloc, Tags> ctx{&tags, &plan, live, sizes, switch_tags};
    // Warm up outside the measurement: first-use slow paths, page faults, size classes.
    if (workload == "tight64") {
        tight<Alloc, Tags>(&ctx, 100000);
        measured_loop(tight<Alloc, Tags>, &ctx, pairs);
    } else {
        mixed<Alloc, Tags>(&ctx, 100000);
        measured_loop(mixed<Alloc, Tags>, &ctx, pairs);
    }
    for (std::size_t i = 0; i < bench::MixedPlan::kSlots; ++i) Alloc::release(live[i], sizes[i]);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr,
                     "usage: %s mimalloc|memscope|memscope_unsized|memscope_tagged "
                     "tight64|mixed PAIRS\n",
                     argv[0]);
        return 2;
    }
    const std::string_view allocator = argv[1];
    const std::string_view workload = argv[2];
    const long pairs = std::atol(argv[3]);
    if ((workload != "tight64" && workload != "mixed") || pairs <= 0) {
        std::fprintf(stderr, "bad workload or pair count\n");
        return 2;
    }
    bench::NoTags none;
    bench::Memscope::Tags tags;
    if (allocator == "mimalloc") {
        run<bench::RawMimalloc>(workload, pairs, none, false);
    } else if (allocator == "memscope") {
        run<bench::Memscope>(workload, pairs, none, false);
    } else if (allocator == "memscope_unsized") {
        run<bench::MemscopeUnsized>(workload, pairs, none, false);
    } else if (allocator == "memscope_tagged") {
        run<bench::Memscope>(workload, pairs, tags, true);
    } else {
        std::fprintf(stderr, "unknown allocator '%s'\n", argv[1]);
        return 2;
    }
    return 0;
}

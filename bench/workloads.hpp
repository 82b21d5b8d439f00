// SPDX-License-Identifier: MIT
#pragma once
// The three allocation workloads of the overhead benchmark, templated over an allocator
// policy (allocators.hpp). Random choices are drawn before timing starts, from a fixed
// seed, so every allocator sees the same sequence of sizes and frees.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace bench {

// The policy's tag switcher (allocators.hpp): Alloc::Tags when it has one, else NoTags.
template <class Alloc>
struct TagsOf {
    using type = NoTags;
};
template <class Alloc>
requires requires {
    typename Alloc::Tags;
}
struct TagsOf<Alloc> {
    using type = typename Alloc::Tags;
};
template <class Alloc>
using tags_of = typename TagsOf<Alloc>::type;

// Makes `p` escape to the optimiser, so an allocate/release pair cannot be elided. Input
// only: benchmark::DoNotOptimize's read-write "+m,r" operand, applied to a pointer stored
// in a vector slot, made GCC 12 drop the store of the new pointer into the slot (the slot
// then kept a freed pointer and the next round freed it twice).
inline void escape(void* p) {
    asm volatile("" : : "r"(p) : "memory");
}

// 1. A tight loop of 64-byte allocate/free pairs: pure allocator-call overhead.
template <class Alloc>
void tight_loop_64(benchmark::State& state) {
    const tags_of<Alloc> tags;  // MemscopeScoped: one scope for the run; others: none
    for (auto _ : state) {
        void* p = Alloc::allocate(64);
        escape(p);
        Alloc::release(p, 64);
    }
    state.SetItemsProcessed(state.iterations());
}

// 2. Mixed sizes with a live set: 4096 slots stay allocated; each step frees a random slot
// and refills it with a block of 8 B to 64 KiB (size classes drawn log-uniformly, as in
// real programs where small blocks dominate), writing its first and last byte as a user
// would. Frees therefore happen in random order, not LIFO.
struct MixedPlan {
    static constexpr std::size_t kSlots = 4096;
    static constexpr std::size_t kSteps = 1 << 16;  // the plan repeats after this many steps
    std::vector<std::uint32_t> sizes;
    std::vector<std::uint16_t> slots;
    explicit MixedPlan(unsigned seed) {
        std::mt19937 rng(seed);
        sizes.resize(kSteps);
        slots.resize(kSteps);
        for (std::size_t i = 0; i < kSteps; ++i) {
            const std::uint32_t base = 8u << (rng() % 13);               // 8 B .. 32 KiB
            sizes[i] = base + static_cast<std::uint32_t>(rng() % base);  // .. 64 KiB
            slots[i] = static_cast<std::uint16_t>(rng() % kSlots);
        }
    }
};

template <class Alloc, bool kTouch>
void mixed_sizes(benchmark::State& state) {
    const MixedPlan plan(1234u + static_cast<unsigned>(state.thread_index()));
    const tags_of<Alloc> tags;  // MemscopeScoped: one scope for the run; others: none
    struct Slot {
        unsigned char* p;
        std::size_t size;
    };
    std::vector<Slot> live(MixedPlan::kSlots);
    for (std::size_t i = 0; i < live.size(); ++i) {
        live[i].size = plan.sizes[(i * 7) % MixedPlan::kSteps];
        live[i].p = static_cast<unsigned char*>(Alloc::allocate(live[i].size));
    }
    std::size_t step = 0;
    for (auto _ : state) {
        Slot& s = live[plan.slots[step]];
        Alloc::release(s.p, s.size);
        s.size = plan.sizes[step];
        s.p = static_cast<unsigned char*>(Alloc::allocate(s.size));
        if constexpr (kTouch) {
            s.p[0] = 1;
            s.p[s.size - 1] = 1;
        }
        escape(s.p);
        step = (step + 1) % MixedPlan::kSteps;
    }
    for (Slot& s : live) Alloc::release(s.p, s.size);
    state.SetItemsProcessed(state.iterations());
}

// 3. Producer/consumer: every thread allocates batches of blocks (16 B to 1 KiB, the sizes
// of messages and jobs) and hands each batch to the next thread, which frees it. With two
// threads every block is freed by the thread that did not allocate it; with one, the
// thread consumes its own batches: the same work without the cross-thread free.
//
// Each thread puts one batch and takes one batch per iteration. Google Benchmark gives
// every thread the same iteration count, so puts and takes pair up exactly and no thread
// leaves the timed loop (where it waits at a barrier) with a batch still owed to it.
struct Batch {
    static constexpr std::size_t kBlocks = 64;
    void* blocks[kBlocks];
    std::size_t sizes[kBlocks];
};

// Single-producer single-consumer ring of batches between two neighbouring threads.
struct alignas(64) Mailbox {
    static constexpr std::size_t kSlots = 8;
    alignas(64) std::atomic<std::size_t> head{0};  // next slot to take (consumer)
    alignas(64) std::atomic<std::size_t> tail{0};  // next slot to fill (producer)
    Batch slots[kSlots];

    template <class Alloc>
    void put(const void* const* blocks, const std::size_t* sizes) {
        const std::size_t t = tail.load(std::memory_order_relaxed);
        while (t - head.load(std::memory_order_acquire) == kSlots) std::this_thread::yield();
        Batch& b = slots[t % kSlots];
        for (std::size_t i = 0; i < Batch::kBlocks; ++i) {
            b.blocks[i] = const_cast<void*>(blocks[i]);
            b.sizes[i] = sizes[i];
        }
        tail.store(t + 1, std::memory_order_release);
    }

    template <class Alloc>
    void take_and_free() {
        const std::size_t h = head.load(std::memory_order_relaxed);
        while (tail.load(std::memory_order_acquire) == h) std::this_thread::yield();
        Batch& b = slots[h % kSlots];
        for (std::size_t i = 0; i < Batch::kBlocks; ++i) Alloc::release(b.blocks[i], b.sizes[i]);
        head.store(h + 1, std::memory_order_release);
    }
};

inline constexpr int kMaxThreads = 8;
inline Mailbox g_mailboxes[kMaxThreads];

template <class Alloc>
void producer_consumer(benchmark::State& state) {
    const int self = state.thread_index();
    Mailbox& inbox = g_mailboxes[self];
    Mailbox& outbox = g_mailboxes[(self + 1) % state.threads()];
    std::minstd_rand rng(99u + static_cast<unsigned>(self));
    const tags_of<Alloc> tags;  // MemscopeScoped: one scope for the run; others: none
    std::size_t sizes[Batch::kBlocks];
    for (auto& s : sizes) s = 16 + rng() % 1009;
    void* batch[Batch::kBlocks];
    for (auto _ : state) {
        for (std::size_t i = 0; i < Batch::kBlocks; ++i) {
            batch[i] = Alloc::allocate(sizes[i]);
            static_cast<unsigned char*>(batch[i])[0] = 1;
        }
        outbox.put<Alloc>(batch, sizes);
        inbox.take_and_free<Alloc>();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(Batch::kBlocks));
}

// 4. Tagged mixed: the mixed workload's sizes and live set, under 8 tags, the scope
// changing every 64 allocations; every other new block goes to the next thread, which
// frees it (in batches of 64, through the producer/consumer mailboxes), so half the blocks
// are freed by a thread that did not allocate them, under whatever scope it is in. At one
// thread the thread takes its own batches. An iteration is one allocation and one free.
template <class Alloc>
void tagged_mixed(benchmark::State& state) {
    const int self = state.thread_index();
    Mailbox& inbox = g_mailboxes[self];
    Mailbox& outbox = g_mailboxes[(self + 1) % state.threads()];
    const MixedPlan plan(4321u + static_cast<unsigned>(self));
    tags_of<Alloc> tags;
    struct Slot {
        void* p;
        std::size_t size;
    };
    std::vector<Slot> live(MixedPlan::kSlots);
    for (std::size_t i = 0; i < live.size(); ++i) {
        live[i].size = plan.sizes[(i * 7) % MixedPlan::kSteps];
        live[i].p = Alloc::allocate(live[i].size);
    }
    void* batch[Batch::kBlocks];
    std::size_t batch_sizes[Batch::kBlocks];
    std::size_t in_batch = 0;
    std::size_t step = 0;
    unsigned tag = 0;
    for (auto _ : state) {
        if (step % 64 == 0) tags.enter(tag++);
        const std::size_t size = plan.sizes[step];
        void* p = Alloc::allocate(size);
        escape(p);
        if (step % 2 == 0) {
            Slot& s = live[plan.slots[step]];
            Alloc::release(s.p, s.size);
            s = {p, size};
        } else {
            batch[in_batch] = p;
            batch_sizes[in_batch] = size;
            if (++in_batch == Batch::kBlocks) {
                // The other thread's batch is freed here: 64 frees for the 64 allocations
                // sent, so the iteration count stays one allocation and one free.
                outbox.put<Alloc>(batch, batch_sizes);
                inbox.take_and_free<Alloc>();
                in_batch = 0;
            }
        }
        step = (step + 1) % MixedPlan::kSteps;
    }
    for (std::size_t i = 0; i < in_batch; ++i) Alloc::release(batch[i], batch_sizes[i]);
    for (Slot& s : live) Alloc::release(s.p, s.size);
    state.SetItemsProcessed(state.iterations());
}

// Registers the four workloads for one allocator at 1 and 2 threads. Real time, so that
// a contended shared counter shows as the wall-clock cost it is.
template <class Alloc>
void register_workloads() {
    const std::string a = Alloc::name;
    benchmark::RegisterBenchmark(("tight_loop_64/" + a).c_str(), tight_loop_64<Alloc>)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("mixed_sizes/" + a).c_str(), mixed_sizes<Alloc, false>)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("mixed_touch/" + a).c_str(), mixed_sizes<Alloc, true>)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("producer_consumer/" + a).c_str(), producer_consumer<Alloc>)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("tagged_mixed/" + a).c_str(), tagged_mixed<Alloc>)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
}

}  // namespace bench

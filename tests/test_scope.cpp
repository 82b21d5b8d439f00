// SPDX-License-Identifier: MIT
// Scoped attribution: tags, Scope, tag_stats(). Every check compares exact byte figures
// against memscope::usable_size() of the blocks involved.

#include <doctest/doctest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <memscope/allocator.hpp>
#include <memscope/scope.hpp>

#include "test_support.hpp"

namespace {

using memscope::Scope;
using memscope::TagId;
using memscope::TagStats;

// One tag's figures now (zeros for an id past the table, as for a tag never used).
TagStats stats_of(TagId id) {
    const auto all = memscope::tag_stats();
    return id < all.size() ? all[id] : TagStats{};
}

std::int64_t bytes_of(TagId id) {
    return static_cast<std::int64_t>(stats_of(id).current_bytes);
}

struct alignas(64) Line {
    unsigned char bytes[64];
};
struct alignas(4096) Page {
    unsigned char bytes[4096];
};

}  // namespace

TEST_CASE("tag interns names: same name, same id; ids in naming order") {
    if (!memscope::tracking_enabled()) {
        CHECK(memscope::tag("Meshes") == 0);
        CHECK(memscope::tag_stats().empty());
        return;
    }
    const TagId a = memscope::tag("scope-test-A");
    const TagId b = memscope::tag("scope-test-B");
    CHECK(a >= 2);
    CHECK(b == a + 1);
    CHECK(memscope::tag("scope-test-A") == a);
    CHECK(memscope::tag(std::string("scope-test-") + "B") == b);
    const auto all = memscope::tag_stats();
    REQUIRE(all.size() > b);
    CHECK(all[0].name.empty());
    CHECK(all[1].name == "memscope");
    CHECK(all[a].name == "scope-test-A");
    CHECK(all[b].name == "scope-test-B");
}

TEST_CASE("scopes nest, the innermost wins, and leaving restores the outer tag") {
    if (!memscope::tracking_enabled()) return;
    const TagId outer_id = memscope::tag("nest-outer");
    const TagId inner_id = memscope::tag("nest-inner");
    CHECK(memscope::current_tag() == 0);
    const auto outer0 = bytes_of(outer_id);
    const auto inner0 = bytes_of(inner_id);
    std::unique_ptr<char[]> a, b, c;
    {
        const Scope outer("nest-outer");
        CHECK(memscope::current_tag() == outer_id);
        a.reset(new char[100]);
        {
            MEMSCOPE_SCOPE("nest-inner");
            CHECK(memscope::current_tag() == inner_id);
            b.reset(new char[1000]);
        }
        CHECK(memscope::current_tag() == outer_id);
        c.reset(new char[10]);
    }
    CHECK(memscope::current_tag() == 0);
    const auto au = static_cast<std::int64_t>(memscope::usable_size(a.get()));
    const auto bu = static_cast<std::int64_t>(memscope::usable_size(b.get()));
    const auto cu = static_cast<std::int64_t>(memscope::usable_size(c.get()));
    CHECK(bytes_of(outer_id) - outer0 == au + cu);
    CHECK(bytes_of(inner_id) - inner0 == bu);
    a.reset();
    b.reset();
    c.reset();
    CHECK(bytes_of(outer_id) == outer0);
    CHECK(bytes_of(inner_id) == inner0);
}

TEST_CASE("a block's free credits its own tag, whatever scope frees it") {
    if (!memscope::tracking_enabled()) return;
    const TagId meshes = memscope::tag("free-Meshes");
    const TagId audio = memscope::tag("free-Audio");
    std::vector<int>* v = nullptr;
    const auto m0 = stats_of(meshes);
    const auto a0 = stats_of(audio);
    {
        const Scope s(meshes);
        v = new std::vector<int>();
        for (int i = 0; i < 10000; ++i) v->push_back(i);  // grows (and frees) in the scope
    }
    const auto m1 = stats_of(meshes);
    CHECK(m1.current_bytes - m0.current_bytes ==
          memscope::usable_size(v) + memscope::usable_size(v->data()));
    CHECK(m1.allocation_count - m0.allocation_count ==
          m1.deallocation_count - m0.deallocation_count + 2);
    {
        const Scope s(audio);  // destroyed under another tag
        delete v;
    }
    const auto m2 = stats_of(meshes);
    const auto a2 = stats_of(audio);
    CHECK(m2.current_bytes == m0.current_bytes);
    CHECK(m2.allocation_count - m0.allocation_count ==
          m2.deallocation_count - m0.deallocation_count);
    CHECK(a2.current_bytes == a0.current_bytes);
    CHECK(a2.deallocation_count == a0.deallocation_count);
}

TEST_CASE("every form of new and delete, aligned ones included, balances inside scopes") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("forms");
    const Scope s(id);
    const auto base = bytes_of(id);
    auto check_block = [&](void* p, std::size_t size, std::size_t alignment) {
        REQUIRE(p != nullptr);
        CHECK(reinterpret_cast<std::uintptr_t>(p) % alignment == 0);
        CHECK(memscope::usable_size(p) >= size);
        CHECK(bytes_of(id) - base == static_cast<std::int64_t>(memscope::usable_size(p)));
    };
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{24}, std::size_t{64},
                                   std::size_t{1009}, std::size_t{70000}, std::size_t{3} << 20}) {
        void* p = ::operator new(size);
        check_block(p, size, size % 16 == 0 && size ? 16 : 8);
        ::operator delete(p);
        p = ::operator new[](size);
        check_block(p, size, 8);
        ::operator delete[](p, size);
        p = ::operator new(size, std::nothrow);
        check_block(p, size, 8);
        ::operator delete(p, std::nothrow);
        p = ::operator new[](size, std::nothrow);
        check_block(p, size, 8);
        ::operator delete[](p, std::nothrow);
        p = ::operator new(size);
        check_block(p, size, 8);
        ::operator delete(p, size);
        for (std::size_t al = 16; al <= (std::size_t{1} << 20); al *= 4) {
            const auto a = static_cast<std::align_val_t>(al);
            p = ::operator new(size, a);
            check_block(p, size, al);
            ::operator delete(p, a);
            p = ::operator new[](size, a);
            check_block(p, size, al);
            ::operator delete[](p, size, a);
            p = ::operator new(size, a, std::nothrow);
            check_block(p, size, al);
            ::operator delete(p, a, std::nothrow);
            p = ::operator new[](size, a, std::nothrow);
            check_block(p, size, al);
            ::operator delete[](p, a, std::nothrow);
            p = ::operator new(size, a);
            check_block(p, size, al);
            ::operator delete(p, size, a);
        }
        CHECK(bytes_of(id) == base);
    }
    // New-expressions of over-aligned types.
    auto line = std::make_unique<Line>();
    auto page = std::make_unique<Page[]>(3);
    CHECK(reinterpret_cast<std::uintptr_t>(line.get()) % 64 == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(page.get()) % 4096 == 0);
    CHECK(bytes_of(id) - base == static_cast<std::int64_t>(memscope::usable_size(line.get()) +
                                                           memscope::usable_size(page.get())));
    line.reset();
    page.reset();
    CHECK(bytes_of(id) == base);
}

TEST_CASE("Scope(TagId) carries a tag to another thread; an unknown id counts as untagged") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("job-tag");
    const auto base = bytes_of(id);
    const auto untagged0 = bytes_of(0);
    char* from_worker = nullptr;
    TagId seen_in_worker = 0;
    {
        const Scope s(id);
        const TagId handed = memscope::current_tag();
        std::thread worker([&] {
            CHECK(memscope::current_tag() == 0);  // a new thread starts untagged
            const Scope job(handed);
            seen_in_worker = memscope::current_tag();
            from_worker = new char[5000];
        });
        worker.join();
    }
    CHECK(seen_in_worker == id);
    CHECK(bytes_of(id) - base == static_cast<std::int64_t>(memscope::usable_size(from_worker)));
    delete[] from_worker;  // freed by another thread, outside any scope
    CHECK(bytes_of(id) == base);

    {
        const Scope bogus(static_cast<TagId>(memscope::kMaxTags - 2));  // never handed out
        CHECK(memscope::current_tag() == 0);
        auto block = std::make_unique<char[]>(300);
        CHECK(bytes_of(0) - untagged0 >=
              static_cast<std::int64_t>(memscope::usable_size(block.get())));
    }
}

TEST_CASE("the sum over tags equals allocation_stats() exactly") {
    if (!memscope::tracking_enabled()) return;
    const Scope s("sum-check");
    std::vector<std::unique_ptr<char[]>> held;
    for (int i = 0; i < 100; ++i) held.emplace_back(new char[static_cast<std::size_t>(i) * 37]);
    // No other thread allocates in this process now: the figures are exact.
    const auto all = memscope::tag_stats();
    const auto total = memscope::allocation_stats();
    std::size_t sum = 0;
    std::uint64_t allocations = 0, frees = 0;
    for (const auto& t : all) {
        sum += t.current_bytes;
        allocations += t.allocation_count;
        frees += t.deallocation_count;
    }
    // tag_stats() allocated its own result (charged to memscope) after reading the sums,
    // and allocation_stats() sees that vector: take it off.
    std::size_t result_bytes = memscope::usable_size(all.data());
    for (const auto& t : all)
        if (t.name.capacity() > 15) result_bytes += memscope::usable_size(t.name.data());
    CHECK(total.total_allocated_bytes == sum + result_bytes);
    CHECK(total.allocation_count >= allocations);
}

TEST_CASE("interning and reading inside a scope leave that scope's bytes alone") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("reader-scope");
    const Scope s(id);
    const auto before = stats_of(id);
    for (int i = 0; i < 50; ++i) {
        static_cast<void>(memscope::tag("interned-inside-" + std::to_string(i % 5)));
        const auto all = memscope::tag_stats();  // allocated, as memscope's own
        CHECK(all.size() > id);
    }
    const auto after = stats_of(id);
    // The std::string temporaries above are the test's own, made in the scope: they are
    // charged to it and freed, so only the counts move.
    CHECK(after.current_bytes == before.current_bytes);
    CHECK(after.allocation_count - before.allocation_count ==
          after.deallocation_count - before.deallocation_count);
}

TEST_CASE("entering and leaving scopes allocates nothing") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("no-alloc");
    static_cast<void>(memscope::tag("no-alloc-by-name"));
    const auto before = memscope::allocation_stats();
    for (int i = 0; i < 100000; ++i) {
        const Scope a(id);
        const Scope b("no-alloc-by-name");  // a known name: a lookup, no lock
    }
    const auto after = memscope::allocation_stats();
    CHECK(after.allocation_count == before.allocation_count);
    CHECK(after.total_allocated_bytes == before.total_allocated_bytes);
}

TEST_CASE("8 threads, 8 tags, cross-thread frees: every tag returns exactly to its baseline") {
    if (!memscope::tracking_enabled()) return;
    constexpr int kThreads = 8;
    constexpr int kRounds = 200;
    constexpr int kBlocks = 64;
    TagId ids[kThreads];
    for (int i = 0; i < kThreads; ++i) ids[i] = memscope::tag("cross-" + std::to_string(i));
    std::vector<TagStats> base;
    for (int i = 0; i < kThreads; ++i) base.push_back(stats_of(ids[i]));

    // Thread t allocates under tag (t + round) % 8 and hands its blocks to thread t + 1,
    // which frees them under a scope of its own.
    std::vector<std::vector<void*>> mailbox(kThreads);
    std::vector<std::mutex> locks(kThreads);
    std::barrier sync(kThreads);
    std::atomic<std::uint64_t> expected_allocations[kThreads] = {};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < kRounds; ++round) {
                const int tag_index = (t + round) % kThreads;
                std::vector<void*> made;
                made.reserve(kBlocks);  // the test's own vector, outside the scope
                {
                    const Scope s(ids[tag_index]);
                    for (int b = 0; b < kBlocks; ++b)
                        made.push_back(
                            ::operator new(static_cast<std::size_t>(16 + (b * 97 + round) % 5000)));
                }
                expected_allocations[tag_index] += kBlocks;
                {
                    std::lock_guard lock(locks[(t + 1) % kThreads]);
                    auto& box = mailbox[(t + 1) % kThreads];
                    box.insert(box.end(), made.begin(), made.end());
                }
                sync.arrive_and_wait();
                std::vector<void*> mine;
                {
                    std::lock_guard lock(locks[t]);
                    mine.swap(mailbox[t]);
                }
                const Scope other(ids[(t + 3) % kThreads]);
                for (void* p : mine) ::operator delete(p);
                sync.arrive_and_wait();
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int i = 0; i < kThreads; ++i) {
        const auto now = stats_of(ids[i]);
        CHECK(now.current_bytes == base[i].current_bytes);
        CHECK(now.allocation_count - base[i].allocation_count == expected_allocations[i].load());
        CHECK(now.deallocation_count - base[i].deallocation_count ==
              expected_allocations[i].load());
        CHECK(now.peak_bytes >= now.current_bytes);
    }
}

TEST_CASE("a thread that exits inside a scope leaves its blocks charged to the scope's tag") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("exits-in-scope");
    const auto base = bytes_of(id);
    std::vector<void*> left;
    left.reserve(20);  // the test's own vector, outside the scope
    std::size_t held = 0;
    std::thread worker([&] {
        static thread_local std::vector<int> dies_with_thread;  // freed at thread exit
        const Scope s(id);
        dies_with_thread.resize(1000);
        for (int i = 0; i < 20; ++i) left.push_back(::operator new(1000));
        for (void* p : left) held += memscope::usable_size(p);
        // The scope is still open when the thread ends, and the thread_local vector is
        // freed after it, by the thread's exit: its free credits the tag too.
    });
    worker.join();
    CHECK(bytes_of(id) - base == static_cast<std::int64_t>(held));
    for (void* p : left) ::operator delete(p);
    CHECK(bytes_of(id) == base);
}

TEST_CASE("a tag's peak follows its own high-water mark within the documented tolerance") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("peak-tag");
    const auto base = stats_of(id);
    std::vector<std::unique_ptr<char[]>> blocks;
    blocks.reserve(64);  // the test's own vector, outside the scope
    std::size_t held = 0;
    {
        const Scope s(id);
        for (int i = 0; i < 64; ++i) {
            blocks.emplace_back(new char[64 * 1024]);
            held += memscope::usable_size(blocks.back().get());
        }
    }
    blocks.clear();
    const auto after = stats_of(id);
    CHECK(after.current_bytes == base.current_bytes);
    CHECK(after.peak_bytes + memscope::kPeakBatchBytes >= base.current_bytes + held);
    CHECK(after.peak_bytes <= base.current_bytes + held + memscope::kPeakBatchBytes);
}

TEST_CASE("large blocks carry no header: a 1 MiB request costs 1 MiB, and is charged exactly") {
    if (!memscope::tracking_enabled()) return;
    const TagId id = memscope::tag("large-blocks");
    const auto base = bytes_of(id);
    std::vector<void*> blocks;
    blocks.reserve(8);
    std::size_t held = 0;
    {
        const Scope s(id);
        for (const std::size_t size :
             {std::size_t{128} * 1024 + 1, std::size_t{256} * 1024, std::size_t{1} << 20,
              std::size_t{3} << 20, std::size_t{40} << 20}) {
            void* p = ::operator new(size);
            CHECK(reinterpret_cast<std::uintptr_t>(p) % (64 * 1024) == 0);
            CHECK(memscope::usable_size(p) >= size);
            if (std::string_view(memscope::allocator_backend()) == "mimalloc" &&
                (size & (size - 1)) == 0)
                CHECK(memscope::usable_size(p) == size);  // no size class step for a header
            held += memscope::usable_size(p);
            blocks.push_back(p);
        }
    }
    CHECK(bytes_of(id) - base == static_cast<std::int64_t>(held));
    // Freed by another thread, inside another scope.
    std::thread other([&] {
        const Scope s("large-blocks-freer");
        for (void* p : blocks) ::operator delete(p);
    });
    other.join();
    CHECK(bytes_of(id) == base);
}

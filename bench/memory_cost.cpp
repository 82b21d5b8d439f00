// SPDX-License-Identifier: MIT
// What attribution costs in memory: the allocator blocks behind the benchmark workloads'
// live sets, with memscope's operator new (a 16-byte header on blocks up to 128 KiB) and
// with raw mi_malloc, measured from mimalloc's own usable size of every block.
//
// usage: memory_cost   (prints a Markdown table for BENCHMARKS.md)

#include <mimalloc.h>

#include <cstdint>
#include <cstdio>
#include <new>
#include <string_view>
#include <vector>

#include <memscope/allocator.hpp>
#include <memscope/scope.hpp>

#include "allocators.hpp"
#include "workloads.hpp"

namespace {

struct Cost {
    std::size_t requested = 0;  // what the program asked for
    std::size_t raw = 0;        // mimalloc blocks of mi_malloc(n)
    std::size_t memscope = 0;   // mimalloc blocks behind memscope's operator new(n)
    std::size_t counted = 0;    // what memscope's books count (usable_size)
};

// The allocator block behind a pointer from operator new: 16 bytes before it, or the
// pointer itself for a large block (64 KiB-aligned, no header).
std::size_t block_of(void* p) {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    if (address % (64 * 1024) == 0) return mi_usable_size(p);
    return mi_usable_size(static_cast<char*>(p) - 16);
}

Cost measure(const std::vector<std::size_t>& sizes) {
    Cost c;
    std::vector<void*> raw(sizes.size()), ours(sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        raw[i] = mi_malloc(sizes[i]);
        ours[i] = ::operator new(sizes[i]);
        c.requested += sizes[i];
        c.raw += mi_usable_size(raw[i]);
        c.memscope += block_of(ours[i]);
        c.counted += memscope::usable_size(ours[i]);
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        mi_free(raw[i]);
        ::operator delete(ours[i]);
    }
    return c;
}

void row(const char* name, std::size_t blocks, const Cost& c) {
    const double extra = static_cast<double>(c.memscope) - static_cast<double>(c.raw);
    std::printf("| %s | %zu | %.2f | %.2f | %.2f | %+.2f MiB (%+.1f%%) | %+.1f |\n", name, blocks,
                static_cast<double>(c.requested) / 1048576.0,
                static_cast<double>(c.raw) / 1048576.0, static_cast<double>(c.memscope) / 1048576.0,
                extra / 1048576.0, 100.0 * extra / static_cast<double>(c.raw),
                extra / static_cast<double>(blocks));
}

}  // namespace

int main() {
    if (!memscope::tracking_enabled()) {
        std::puts("tracking is compiled out: no header, nothing to measure");
        return 0;
    }
    if (std::string_view(memscope::allocator_backend()) != "mimalloc") {
        std::puts("operator new is the system allocator here: nothing to compare with mimalloc");
        return 0;
    }
    std::puts(
        "| live set | blocks | requested MiB | raw mimalloc MiB | memscope MiB | "
        "memscope - raw | per block, bytes |");
    std::puts("|---|---|---|---|---|---|---|");
    const bench::MixedPlan plan(1234u);
    std::vector<std::size_t> mixed(bench::MixedPlan::kSlots);
    for (std::size_t i = 0; i < mixed.size(); ++i)
        mixed[i] = plan.sizes[(i * 7) % bench::MixedPlan::kSteps];
    row("mixed_sizes (4096 blocks, 8 B - 64 KiB)", mixed.size(), measure(mixed));
    row("64-byte loop's block, 100000 live", 100000, measure(std::vector<std::size_t>(100000, 64)));
    for (const std::size_t n : {std::size_t{24}, std::size_t{48}, std::size_t{4096},
                                std::size_t{65536}, std::size_t{1} << 20}) {
        char name[64];
        std::snprintf(name, sizeof name, "%zu-byte blocks, 1000 live", n);
        row(name, 1000, measure(std::vector<std::size_t>(1000, n)));
    }
    std::printf(
        "\nPer thread: %zu bytes of counter rows per tag in use (a block of %zu rows, "
        "%zu KiB of address space, mapped at a thread's first allocation).\n",
        std::size_t{40}, memscope::kMaxTags, memscope::kMaxTags * 40 / 1024);
    return 0;
}

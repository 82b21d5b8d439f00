// SPDX-License-Identifier: MIT
// Links the core alone (memscope::core), as a tool without the dashboard would: counting,
// budgets and formatting work, and no dashboard header or library is needed.
#include <cstdio>

#include <memscope/allocator.hpp>
#include <memscope/budget.hpp>
#include <memscope/format.hpp>

char* volatile g_block = nullptr;

int main() {
    memscope::MemoryBudget budget;
    budget.set_budget("Chunks", 1 << 20);
    const auto before = memscope::allocation_stats();
    g_block = new char[10000];
    const auto during = memscope::allocation_stats();
    delete[] g_block;
    const std::size_t counted = during.total_allocated_bytes - before.total_allocated_bytes;
    budget.report("Chunks", counted, 1);
    std::printf("memscope core alone: %s counted for a 10000-byte block\n",
                memscope::format_memory(counted).c_str());
    return memscope::tracking_enabled() && counted < 10000 ? 1 : 0;
}

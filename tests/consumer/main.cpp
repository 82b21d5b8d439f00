// SPDX-License-Identifier: MIT
// Links memscope like a game would and checks that its operator new is the one in use.
#include <cstdio>

#include <memscope/memscope.hpp>

// Written through a volatile pointer so the optimiser cannot elide the new/delete pair.
char* volatile g_block = nullptr;

int main() {
    const auto before = memscope::allocation_stats();
    g_block = new char[10000];
    const auto during = memscope::allocation_stats();
    delete[] g_block;
    std::printf("memscope %s, backend %s, tracking %d: %zu bytes counted for a 10000-byte block\n",
                MEMSCOPE_VERSION, memscope::allocator_backend(),
                memscope::tracking_enabled() ? 1 : 0,
                during.total_allocated_bytes - before.total_allocated_bytes);
    if (memscope::tracking_enabled() &&
        during.total_allocated_bytes - before.total_allocated_bytes < 10000) {
        std::fputs("the program's operator new is not memscope's\n", stderr);
        return 1;
    }
    return 0;
}

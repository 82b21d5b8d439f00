// SPDX-License-Identifier: MIT
// The doctest runner shared by every test program.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <thread>
#include <vector>

int main(int argc, char** argv) {
    // glibc keeps the stacks of exited threads for reuse (up to 40 MiB of them), each with
    // the TLS vector it malloc'ed for its thread. With the malloc family counted, the first
    // threads a program starts leave those vectors behind in the books. Fill the cache
    // first, so that a test that starts and joins threads finds the figures it started
    // from: later threads reuse the cached stacks and their vectors.
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) threads.emplace_back([] {});
    for (std::thread& t : threads) t.join();
    return doctest::Context(argc, argv).run();
}

// SPDX-License-Identifier: MIT
// process_memory(): resident and committed figures of the whole process.

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>

#include <memscope/allocator.hpp>

TEST_CASE("process memory figures are present and ordered") {
    const auto m = memscope::process_memory();
    CHECK(m.resident_bytes > 0);
    CHECK(m.peak_resident_bytes >= m.resident_bytes);
    CHECK(m.peak_committed_bytes >= m.committed_bytes);
}

TEST_CASE("touching 64 MiB shows in resident and committed memory") {
    constexpr std::size_t kSize = 64u << 20;
    const auto before = memscope::process_memory();
    auto block = std::make_unique<unsigned char[]>(kSize);
    std::memset(block.get(), 0x5a, kSize);  // touch every page so it becomes resident
    const auto during = memscope::process_memory();
    CHECK(during.resident_bytes >= before.resident_bytes + kSize / 2);
    CHECK(during.peak_resident_bytes >= during.resident_bytes);
    if (MEMSCOPE_BACKEND_MIMALLOC) CHECK(during.committed_bytes >= kSize);
    CHECK(during.peak_committed_bytes >= during.committed_bytes);
    block.reset();
    const auto after = memscope::process_memory();
    CHECK(after.peak_resident_bytes >= during.resident_bytes);
    CHECK(after.peak_committed_bytes >= during.committed_bytes);
}

TEST_CASE("the backend is named") {
    const std::string backend = memscope::allocator_backend();
    CHECK((backend == "mimalloc" || backend == "system"));
    CHECK((backend == "mimalloc") == (MEMSCOPE_BACKEND_MIMALLOC != 0));
}

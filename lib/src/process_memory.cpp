// SPDX-License-Identifier: MIT
// What the operating system and the allocator say about the whole process.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "backend.hpp"
#include "memscope/allocator.hpp"

namespace memscope {
namespace {

// Resident pages from /proc/self/statm, read with plain syscalls: no stdio buffer, no
// allocation, so it is safe from any thread at any time.
std::size_t resident_bytes_now() noexcept {
    const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    // Fields: size resident shared text lib data dt (in pages). Take the second.
    char* end = nullptr;
    std::strtoull(buf, &end, 10);
    const unsigned long long pages = std::strtoull(end, nullptr, 10);
    return static_cast<std::size_t>(pages) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t peak_resident_bytes_now() noexcept {
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return static_cast<std::size_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

ProcessMemory process_memory() noexcept {
    ProcessMemory m;
    m.resident_bytes = resident_bytes_now();
    m.peak_resident_bytes = peak_resident_bytes_now();
#if MEMSCOPE_BACKEND_MIMALLOC
    std::size_t elapsed = 0, user = 0, system = 0, rss = 0, peak_rss = 0, faults = 0;
    mi_process_info(&elapsed, &user, &system, &rss, &peak_rss, &m.committed_bytes,
                    &m.peak_committed_bytes, &faults);
#else
    // glibc keeps no peak of its own: keep the highest value any call has seen. (Under
    // ASan or TSan the sanitizer's allocator answers mallinfo2 with zeros.)
    static constinit std::atomic<std::size_t> peak_committed{0};
    const struct mallinfo2 info = ::mallinfo2();
    m.committed_bytes = info.arena + info.hblkhd;
    std::size_t committed_seen = peak_committed.load(std::memory_order_relaxed);
    while (m.committed_bytes > committed_seen &&
           !peak_committed.compare_exchange_weak(committed_seen, m.committed_bytes)) {
    }
    m.peak_committed_bytes =
        m.committed_bytes > committed_seen ? m.committed_bytes : committed_seen;
#endif
    // The kernel updates ru_maxrss lazily, so it can lag behind a resident figure an
    // earlier call already returned: keep the highest resident value seen as a floor.
    static constinit std::atomic<std::size_t> resident_seen{0};
    std::size_t seen = resident_seen.load(std::memory_order_relaxed);
    while (m.resident_bytes > seen &&
           !resident_seen.compare_exchange_weak(seen, m.resident_bytes)) {
    }
    if (m.peak_resident_bytes < seen) m.peak_resident_bytes = seen;
    if (m.peak_resident_bytes < m.resident_bytes) m.peak_resident_bytes = m.resident_bytes;
    if (m.peak_committed_bytes < m.committed_bytes) m.peak_committed_bytes = m.committed_bytes;
    return m;
}

const char* allocator_backend() noexcept {
    return MEMSCOPE_BACKEND_MIMALLOC ? "mimalloc" : "system";
}

}  // namespace memscope

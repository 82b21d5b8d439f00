// SPDX-License-Identifier: MIT
#pragma once
// The core's internal contract with the dashboard layer: the few things a server needs
// that are not the game's business. Nothing else of lib/src is visible to web/, and this
// header is neither installed nor on a game's include path.
//
// What the dashboard may rely on:
// - its threads can be told apart from the game's (their live bytes are memscope's own
//   footprint, shown beside the game's figures instead of hidden in them), and named;
// - every object that holds locks or threads takes part in fork() through ForkHandler.

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "memscope/log.hpp"

namespace memscope::detail {

/// 'A'..'Z' to 'a'..'z'; every other byte as it is (no locale: protocol text is ASCII).
[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Equal but for ASCII case: header names, units, media types.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

/// True when `text` starts with `prefix`, ASCII case aside.
[[nodiscard]] constexpr bool istarts_with(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

/// '0'..'9' (no locale).
[[nodiscard]] constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// The value of a hexadecimal digit, or -1.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// How read_small_file() went.
struct FileRead {
    bool ok = false;         ///< the whole file is in `out`
    bool too_large = false;  ///< larger than the limit (what was read is in `out`)
    int error_code = 0;      ///< errno when it could not be opened or read
};

/// Appends the file at `path` to `out`, reading at most `max_bytes` + 1 bytes: enough to
/// tell a file that is too large without reading a huge one. A directory fails (EISDIR).
[[nodiscard]] FileRead read_small_file(const std::string& path, std::size_t max_bytes,
                                       std::string& out);

/// Marks the calling thread as one of memscope's own. Its allocations still count in
/// allocation_stats(), and are also summed apart by internal_bytes(). Never allocates.
void mark_thread_internal() noexcept;

/// Bytes held now by blocks allocated minus freed on memscope's own threads (0 when
/// tracking is off). A block allocated on a memscope thread and freed on a game thread,
/// or the reverse, shifts bytes between the two figures; memscope hands out no such blocks.
[[nodiscard]] std::int64_t internal_bytes() noexcept;

/// Runs one round of the work of a memscope thread (`thread`: "sampler", "recorder"),
/// from which nothing may escape: std::terminate would end the game. An exception is
/// logged as "memscope <thread> thread: <what>"; if even that fails (out of memory), the
/// round is dropped in silence.
template <class Work>
void run_guarded(const char* thread, Work&& work) noexcept {
    try {
        work();
    } catch (const std::exception& ex) {
        try {
            log(LogLevel::error, std::string("memscope ") + thread + " thread: " + ex.what());
        } catch (...) {
        }
    } catch (...) {
    }
}

/// For memscope-run's library, before main: when the program defines operator new(size_t)
/// or operator delete(void*) itself, memscope's array, nothrow and sized forms call the
/// program's instead of allocating or freeing themselves, as the C++ library's defaults
/// would. Once, before any thread of the program starts. Does nothing in the core library:
/// only memscope-run's copy of the allocator hook can forward (allocator_hook.cpp).
void adopt_program_operators() noexcept;

/// Names the calling thread for debuggers and profilers (`ms-http`, `ms-poll`,
/// `ms-sample`): at most 15 characters, the rest is cut. Never fails the caller.
void name_this_thread(const char* name) noexcept;

/// While it lives, the calling thread blocks every signal but the faults a thread causes
/// itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), and a thread it starts keeps
/// that mask. memscope's threads are started under one (start_thread()): a signal sent to
/// the process then always reaches one of the program's threads, whose handlers, sigwait()
/// or signalfd expect it, and never runs a default action on a thread of memscope's (a
/// program that blocks SIGUSR1 to sigwait() for it would otherwise be killed by it).
class ProgramSignalsBlocked {
  public:
    ProgramSignalsBlocked() noexcept;
    ~ProgramSignalsBlocked();
    ProgramSignalsBlocked(const ProgramSignalsBlocked&) = delete;
    ProgramSignalsBlocked& operator=(const ProgramSignalsBlocked&) = delete;

  private:
    sigset_t saved_;  // the caller's mask, restored on destruction
};

/// A thread of memscope's own: `work` runs with the program's signals blocked
/// (ProgramSignalsBlocked). Throws what std::thread throws.
template <class Work>
[[nodiscard]] std::thread start_thread(Work&& work) {
    const ProgramSignalsBlocked blocked;
    return std::thread(std::forward<Work>(work));
}

/// An object's part in fork(). fork() copies only the calling thread: every lock another
/// thread held stays locked in the child, and every wait it left stays queued. So each
/// object that holds locks or threads registers one of these:
/// - prepare(), in the parent before the copy: lock what other threads may hold;
/// - parent(), in the parent after the copy: unlock;
/// - child(), in the child: unlock, and forget what the absent threads left behind.
/// The three calls run with the fork list locked, must not allocate, and must not throw.
/// prepare() runs newest object first, so an object that locks an older one inside its own
/// lock (a Sampler and its MemoryBudget) is locked before it.
class ForkHandler {
  public:
    virtual void prepare() noexcept = 0;  ///< parent, before the copy: lock
    virtual void parent() noexcept = 0;   ///< parent, after the copy: unlock
    virtual void child() noexcept = 0;    ///< child: unlock and forget absent threads

  protected:
    ForkHandler() = default;
    virtual ~ForkHandler() = default;
    ForkHandler(const ForkHandler&) = delete;
    ForkHandler& operator=(const ForkHandler&) = delete;

  private:
    friend struct ForkList;
    ForkHandler* prev_ = nullptr;  // links of the fork list, guarded by its mutex
    ForkHandler* next_ = nullptr;
};

/// Adds `handler` to the fork list (call it once the object is fully constructed).
void add_fork_handler(ForkHandler& handler) noexcept;

/// Removes `handler` (call it first thing in the object's destructor).
void remove_fork_handler(ForkHandler& handler) noexcept;

}  // namespace memscope::detail

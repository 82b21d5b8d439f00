// SPDX-License-Identifier: MIT
#pragma once
// What memscope does around fork().
//
// fork() copies only the thread that calls it. Every lock another thread held at that
// instant stays locked in the child, with no owner to release it, and every condition
// variable keeps the waiters that thread left in it (glibc's notify and destroy then wait
// for waiters that will never come: a child that only exits would hang in a destructor).
// So each memscope object a game holds (MemoryBudget, History, Sampler, Server,
// ConfigWatcher, and the log sink) registers a ForkHandler:
//
// - prepare(), in the parent before the copy: lock what other threads may hold, so the
//   copy is taken between two critical sections;
// - parent(), in the parent after the copy: unlock;
// - child(), in the child: unlock, and forget what the threads that do not exist in the
//   child left behind (their waits, their std::thread handles, the server's sockets).
//
// One pthread_atfork() registration drives every handler, so the order is fixed: prepare
// locks the newest objects first (a Sampler before the History and the MemoryBudget it
// locks inside its own sample lock, a ConfigWatcher before the MemoryBudget it applies a
// file to), then the counter registry last, since any of them may
// allocate (and register a new thread) while holding its lock. The registry lock is a leaf.

#include "memscope/internal.hpp"  // ForkHandler, add_fork_handler, remove_fork_handler

namespace memscope::detail {

/// Installs the pthread_atfork() handlers, once per process; called by the counter
/// registry at the first allocation and by add_fork_handler().
void install_fork_handlers() noexcept;

// The counter registry's part (counters.cpp): locked last, released first.
void registry_prepare_fork() noexcept;
void registry_after_fork_parent() noexcept;
void registry_after_fork_child() noexcept;

}  // namespace memscope::detail

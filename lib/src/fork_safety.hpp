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

namespace memscope::detail {

/// An object's part in fork(); see the file comment. The three calls run with the fork
/// list locked, must not allocate, and must not throw.
class ForkHandler {
public:
    virtual void prepare() noexcept = 0;
    virtual void parent() noexcept = 0;
    virtual void child() noexcept = 0;

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

/// Installs the pthread_atfork() handlers, once per process; called by the counter
/// registry at the first allocation and by add_fork_handler().
void install_fork_handlers() noexcept;

// The counter registry's part (counters.cpp): locked last, released first.
void registry_prepare_fork() noexcept;
void registry_after_fork_parent() noexcept;
void registry_after_fork_child() noexcept;

}  // namespace memscope::detail

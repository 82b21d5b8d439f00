// SPDX-License-Identifier: MIT
// The fork list and the one pthread_atfork() registration behind it (see fork_safety.hpp).

#include "fork_safety.hpp"

#include <pthread.h>

#include <mutex>

namespace memscope::detail {

struct ForkList {
    // Constant-initialised: objects may register before main() and leave after it.
    static inline std::mutex mutex;
    static inline constinit ForkHandler* head = nullptr;  // oldest first
    static inline constinit ForkHandler* tail = nullptr;

    static void link(ForkHandler& h) noexcept {
        h.prev_ = tail;
        h.next_ = nullptr;
        if (tail != nullptr)
            tail->next_ = &h;
        else
            head = &h;
        tail = &h;
    }

    static void unlink(ForkHandler& h) noexcept {
        if (h.prev_ != nullptr)
            h.prev_->next_ = h.next_;
        else
            head = h.next_;
        if (h.next_ != nullptr)
            h.next_->prev_ = h.prev_;
        else
            tail = h.prev_;
        h.prev_ = h.next_ = nullptr;
    }

    static void prepare() noexcept {
        mutex.lock();
        for (ForkHandler* h = tail; h != nullptr; h = h->prev_) h->prepare();
        registry_prepare_fork();
    }

    static void parent() noexcept {
        registry_after_fork_parent();
        for (ForkHandler* h = head; h != nullptr; h = h->next_) h->parent();
        mutex.unlock();
    }

    static void child() noexcept {
        registry_after_fork_child();
        for (ForkHandler* h = head; h != nullptr; h = h->next_) h->child();
        mutex.unlock();  // the calling thread locked it in prepare(): it owns it here too
    }
};

namespace {

constinit pthread_once_t g_install_once = PTHREAD_ONCE_INIT;

void install() noexcept {
    // Failure (ENOMEM) leaves fork() as unsafe as it is without memscope: nothing to add.
    pthread_atfork(ForkList::prepare, ForkList::parent, ForkList::child);
}

}  // namespace

void install_fork_handlers() noexcept {
    pthread_once(&g_install_once, install);
}

void add_fork_handler(ForkHandler& handler) noexcept {
    install_fork_handlers();
    std::lock_guard lock(ForkList::mutex);
    ForkList::link(handler);
}

void remove_fork_handler(ForkHandler& handler) noexcept {
    std::lock_guard lock(ForkList::mutex);
    ForkList::unlink(handler);
}

}  // namespace memscope::detail

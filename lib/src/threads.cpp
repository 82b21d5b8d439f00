// SPDX-License-Identifier: MIT
// Names for memscope's own threads, so that a debugger or profiler lists them as
// memscope's (ms-http, ms-poll, ms-sample) instead of as more copies of the game.

#include <pthread.h>
#include <signal.h>

#include <cstring>

#include "memscope/internal.hpp"

namespace memscope::detail {

void name_this_thread(const char* name) noexcept {
    // Linux takes at most 15 characters and a NUL, and refuses longer names outright.
    char buf[16];
    std::strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    pthread_setname_np(pthread_self(), buf);
}

ProgramSignalsBlocked::ProgramSignalsBlocked() noexcept {
    sigset_t all;
    sigfillset(&all);
    for (const int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS})
        sigdelset(&all, fault);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
}

ProgramSignalsBlocked::~ProgramSignalsBlocked() {
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
}

}  // namespace memscope::detail

// SPDX-License-Identifier: MIT
// libmemscope_preload.so: memscope inside a program that was never built with it, loaded by
// memscope-run through LD_PRELOAD (docs/run.md). The allocator hook and the rest of
// memscope's core, linked in whole, make this library's malloc, free and operator new the
// process's own, so every process that loads it counts. It depends on nothing the core
// does not (mimalloc, the C++ library): every program the first one starts loads it, and
// pays only for counting. The process that serves also loads libmemscope_run_session.so
// (session.cpp), the dashboard and its HTTP and TLS libraries, from beside this one.

#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "memscope/internal.hpp"
#include "preload.hpp"

namespace {

constexpr const char* kSessionLibrary = "libmemscope_run_session.so";

std::string env_text(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

// The session library sits beside this one, in the build tree as in an installation.
std::string session_library_path() {
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&session_library_path), &self) == 0 ||
        self.dli_fname == nullptr)
        return kSessionLibrary;
    const std::string path = self.dli_fname;
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? kSessionLibrary
                                      : path.substr(0, slash + 1) + kSessionLibrary;
}

// Loads the session library and starts the session in it.
void load_session() {
    const std::string path = session_library_path();
    void* session = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    using Start = void (*)();
    const auto start = session != nullptr
                           ? reinterpret_cast<Start>(dlsym(session, "memscope_run_session_start"))
                           : nullptr;
    if (start == nullptr) {
        const char* why = dlerror();
        std::fprintf(stderr,
                     "memscope-run: cannot load %s (%s): no dashboard and no report; the "
                     "program runs on, counted\n",
                     path.c_str(), why != nullptr ? why : "no memscope_run_session_start");
        return;
    }
    start();
}

}  // namespace

// Called by the library's constructor (preload_start.cpp).
void memscope_run_start() {
    // In every process that loads the library, serving or not.
    memscope::detail::adopt_program_operators();
    const auto run_pid = static_cast<pid_t>(std::atol(env_text("MEMSCOPE_RUN_PID").c_str()));
    const bool serve =
        run_pid != 0 && (getpid() == run_pid || env_text("MEMSCOPE_RUN_CHILDREN") == "serve");
    if (!serve) return;  // a child of the program: it counts, and that is all
    // On a thread of memscope's own, so that what loading the session library allocates
    // (the loader's records, its static objects) is memscope's footprint, not the program's.
    std::thread loader = memscope::detail::start_thread([] {
        memscope::detail::mark_thread_internal();
        load_session();
    });
    loader.join();
}

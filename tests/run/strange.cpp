// SPDX-License-Identifier: MIT
// A program that does what strangers' programs do to an allocator underneath them, for
// tests/run_strangers.sh to run under memscope-run (docs/run.md, "What a program may do").
// It is built without memscope: memscope-run brings memscope in, as it would into any
// program. Each mode prints what it saw on stdout, so that the test compares the output of
// a plain run and of a run under memscope-run; a mode that finds something wrong prints
// "WRONG: ..." and exits with 3.
//
// usage: memscope_strange MODE [ARG]

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void wrong(const std::string& what) {
    std::printf("WRONG: %s\n", what.c_str());
    std::fflush(stdout);
    std::_Exit(3);
}

void expect(bool ok, const char* what) {
    if (!ok) wrong(what);
}

// Memory the program itself allocated before main, in a constructor that runs before
// every other one of the executable (and after those of the libraries it loads).
char* g_early = nullptr;
void* g_early_dl = nullptr;

[[gnu::constructor(101)]] void allocate_early() {
    g_early = static_cast<char*>(std::malloc(100));
    std::strcpy(g_early, "early");
    // dlopen, dlsym and dlerror allocate inside the dynamic linker and libc.
    g_early_dl = dlopen("libm.so.6", RTLD_NOW);
    (void)dlsym(RTLD_DEFAULT, "no_such_symbol_anywhere");
    (void)dlerror();
}

int count_entries(const char* dir) {
    int n = 0;
    if (DIR* d = opendir(dir)) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++n;
        closedir(d);
    }
    return n;
}

// Allocations of every size class, some kept, all freed by the end.
void churn(int rounds, unsigned seed) {
    std::vector<void*> held;
    for (int i = 0; i < rounds; ++i) {
        seed = seed * 1103515245u + 12345u;
        const std::size_t size = 1 + (seed >> 8) % ((seed & 1) ? 256 : 70000);
        void* p = std::malloc(size);
        expect(p != nullptr, "malloc failed");
        std::memset(p, static_cast<int>(i), size);
        held.push_back(p);
        if (held.size() > 64) {
            std::free(held[seed % held.size()]);
            held[seed % held.size()] = held.back();
            held.pop_back();
        }
        if (i % 7 == 0) delete[] new std::string[3]{"a", std::string(100, 'b'), "c"};
    }
    for (void* p : held) std::free(p);
}

int mode_early() {
    expect(g_early != nullptr && std::strcmp(g_early, "early") == 0, "the early block");
    expect(g_early_dl != nullptr, "dlopen(libm.so.6) in a constructor");
    using Cos = double (*)(double);
    const auto cosine = reinterpret_cast<Cos>(dlsym(g_early_dl, "cos"));
    expect(cosine != nullptr && cosine(0.0) == 1.0, "cos from the dlopen'ed libm");
    std::free(g_early);
    dlclose(g_early_dl);
    std::printf("early: ok\n");
    return 0;
}

// The C library's edge cases, as a program relies on them.
int mode_libc() {
    std::free(nullptr);
    void* p = std::malloc(0);
    expect(p != nullptr, "malloc(0) returned NULL");
    std::free(p);
    p = std::realloc(nullptr, 40);
    expect(p != nullptr && malloc_usable_size(p) >= 40, "realloc(NULL, 40)");
    std::memset(p, 1, malloc_usable_size(p));  // all of the usable size is the program's
    p = std::realloc(p, 100000);
    expect(p != nullptr && static_cast<unsigned char*>(p)[39] == 1, "realloc kept the bytes");
    p = std::realloc(p, 0);  // glibc frees and returns NULL
    std::free(p);
    volatile std::size_t huge = SIZE_MAX / 2;  // volatile: no compile-time warning
    errno = 0;
    expect(std::calloc(huge, 4) == nullptr && errno == ENOMEM, "calloc overflow");
    errno = 0;
    expect(std::malloc(huge * 2 - 4096) == nullptr && errno == ENOMEM, "malloc(huge)");
    void* aligned = nullptr;
    expect(posix_memalign(&aligned, 3, 10) == EINVAL, "posix_memalign(3) is EINVAL");
    for (std::size_t alignment = 8; alignment <= (1u << 20); alignment *= 2) {
        expect(posix_memalign(&aligned, alignment, 100) == 0, "posix_memalign");
        expect(reinterpret_cast<std::uintptr_t>(aligned) % alignment == 0, "posix_memalign align");
        std::free(aligned);
        aligned = aligned_alloc(alignment, alignment * 3);
        expect(aligned != nullptr && reinterpret_cast<std::uintptr_t>(aligned) % alignment == 0,
               "aligned_alloc");
        std::free(aligned);
        aligned = memalign(alignment, 1);
        expect(aligned != nullptr && reinterpret_cast<std::uintptr_t>(aligned) % alignment == 0,
               "memalign");
        std::free(aligned);
    }
    aligned = valloc(10);
    expect(aligned != nullptr && reinterpret_cast<std::uintptr_t>(aligned) % 4096 == 0, "valloc");
    std::free(aligned);
    char* copy = strdup("a string glibc copies with malloc");
    expect(copy != nullptr && malloc_usable_size(copy) >= 34, "strdup");
    std::free(copy);
    char* line = nullptr;
    std::size_t capacity = 0;
    FILE* f = fmemopen(const_cast<char*>("one line\n"), 9, "r");
    expect(f != nullptr && getline(&line, &capacity, f) == 9, "getline");
    std::fclose(f);
    std::free(line);
    std::printf("libc: ok\n");
    return 0;
}

// Threads of the program: joined, detached, and one ending with pthread_exit.
int mode_threads() {
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t)
        threads.emplace_back([t, &done] {
            churn(20000, static_cast<unsigned>(t) + 1);
            ++done;
        });
    for (int t = 0; t < 2; ++t)
        std::thread([t, &done] {
            churn(5000, static_cast<unsigned>(t) + 100);
            ++done;
        }).detach();
    pthread_t exiting;
    pthread_create(
        &exiting, nullptr,
        [](void*) -> void* {
            void* kept = std::malloc(1000);
            std::free(kept);
            pthread_exit(nullptr);
        },
        nullptr);
    pthread_join(exiting, nullptr);
    for (auto& t : threads) t.join();
    while (done.load() < 8) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::printf("threads: ok\n");
    return 0;
}

// fork() while other threads allocate; the child allocates, frees and ends by exit() or
// _exit(); a second child execs a program.
int mode_fork() {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([t, &stop] {
            while (!stop.load()) churn(500, static_cast<unsigned>(t) + 7);
        });
    int children_ok = 0;
    for (int i = 0; i < 20; ++i) {
        const pid_t child = fork();
        if (child < 0) wrong("fork failed");
        if (child == 0) {
            churn(2000, static_cast<unsigned>(i));
            if (i % 2) std::exit(0);
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++children_ok;
    }
    const pid_t exec_child = fork();
    if (exec_child == 0) {
        execlp("true", "true", static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    waitpid(exec_child, &status, 0);
    stop = true;
    for (auto& t : threads) t.join();
    expect(children_ok == 20, "a forked child failed");
    expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork and exec of true");
    std::printf("fork: ok\n");
    return 0;
}

// Closes every descriptor but the standard three, as a daemon does, then opens files of its
// own (which get the numbers memscope had) and uses them while it allocates. Its files must
// stay its own, and nothing may spin on a descriptor that went away.
int mode_close_fds() {
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    char name[] = "/tmp/memscope-strange.XXXXXX";
    std::vector<int> files;
    for (int i = 0; i < 8; ++i) {
        const int fd = mkstemp(name);
        expect(fd >= 0, "mkstemp");
        unlink(name);
        std::strcpy(name + std::strlen(name) - 6, "XXXXXX");
        files.push_back(fd);
    }
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    for (int round = 0; round < 20; ++round) {
        churn(1000, static_cast<unsigned>(round));
        for (int fd : files)
            expect(write(fd, "0123456789", 10) == 10, "write to the program's file");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (int fd : files) {
        char text[10 * 20];
        expect(pread(fd, text, sizeof text, 0) == static_cast<ssize_t>(sizeof text) &&
                   std::memcmp(text + 190, "0123456789", 10) == 0 &&
                   lseek(fd, 0, SEEK_CUR) == static_cast<off_t>(sizeof text),
               "the program's file changed under it");
        close(fd);
    }
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    const double cpu = static_cast<double>(after.ru_utime.tv_sec - before.ru_utime.tv_sec +
                                           after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                       (after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec -
                        before.ru_stime.tv_usec) /
                           1e6;
    // One second of sleeping and a little churn: a thread spinning on a closed descriptor
    // would take most of a core.
    if (cpu > 0.6) wrong("the process used " + std::to_string(cpu) + " s of CPU in 1 s");
    std::printf("close-fds: ok\n");
    return 0;
}

volatile sig_atomic_t g_handled = 0;

// Handlers for the signals a program commonly catches, raised while it allocates; then the
// signals a program blocks in every thread and takes with sigwait(): each must reach it.
int mode_signals() {
    struct sigaction action {};
    action.sa_handler = [](int) { g_handled = g_handled + 1; };
    sigemptyset(&action.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR2, SIGPIPE, SIGCHLD})
        sigaction(s, &action, nullptr);
    for (int i = 0; i < 200; ++i) {
        churn(50, static_cast<unsigned>(i));
        raise(i % 2 ? SIGUSR2 : SIGPIPE);
    }
    expect(g_handled == 200, "a raised signal was not handled");

    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &waited, nullptr);
    std::thread worker([] { churn(20000, 5); });  // inherits the mask, as threads do
    for (int i = 0; i < 100; ++i) {
        kill(getpid(), SIGUSR1);  // to the process: any thread that does not block it
        int got = 0;
        expect(sigwait(&waited, &got) == 0 && got == SIGUSR1, "sigwait");
    }
    worker.join();
    std::printf("signals: ok\n");
    return 0;
}

// Reports how many descriptors and threads the process has on entering main: with the
// dashboard's port taken, memscope must have left none of its own.
int mode_count() {
    std::printf("descriptors %d threads %d\n", count_entries("/proc/self/fd"),
                count_entries("/proc/self/task"));
    return 0;
}

int mode_exit(const char* how) {
    void* kept = std::malloc(5000);
    std::printf("exit: %s\n", how);
    std::fflush(stdout);
    const std::string h = how;
    if (h == "_exit") _exit(5);
    if (h == "_Exit") std::_Exit(6);
    if (h == "quick_exit") {
        at_quick_exit([] { std::printf("at_quick_exit ran\n"); });
        std::quick_exit(7);
    }
    if (h == "abort") std::abort();
    if (h == "kill") kill(getpid(), SIGKILL);
    if (h == "segv") raise(SIGSEGV);
    if (h == "thread") {  // exit() from another thread while main allocates
        std::thread([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            std::exit(8);
        }).detach();
        for (;;) churn(100, 1);
    }
    std::free(kept);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "early") return mode_early();
    if (mode == "libc") return mode_libc();
    if (mode == "threads") return mode_threads();
    if (mode == "fork") return mode_fork();
    if (mode == "close-fds") return mode_close_fds();
    if (mode == "signals") return mode_signals();
    if (mode == "count") return mode_count();
    if (mode == "exit" && argc > 2) return mode_exit(argv[2]);
    std::fprintf(stderr,
                 "usage: memscope_strange early|libc|threads|fork|close-fds|signals|count|"
                 "exit HOW\n");
    return 2;
}

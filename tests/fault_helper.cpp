// SPDX-License-Identifier: MIT
// The faults that need a process of their own, run by tests/test_faults.cpp:
//
//     memscope_fault_helper fork [FORKS]   the game forks with the server running and
//                                          threads allocating; each child allocates, starts
//                                          a thread and a server, and exits
//     memscope_fault_helper new-handler    a new_handler frees a reserve and the failing
//                                          allocation is retried and succeeds (under a low
//                                          RLIMIT_AS set here, as `ulimit -v` would)
//     memscope_fault_helper oom            run under `ulimit -v`: allocations fail, with
//                                          exact counters, the server starts or says why,
//                                          and everything goes on once memory is back
//
// Prints one line per check, "ok: ..." or "FAIL: ...", and exits 0 only if every check
// passed. Every wait is bounded: a hang is reported as a failure, not waited out.

#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <memscope/memscope.hpp>

#include "backend.hpp"

#if MEMSCOPE_WITH_SERVER
#include <httplib.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMiB = std::size_t{1} << 20;

// ---------------------------------------------------------------------------------------
// Reporting

std::atomic<int> g_failures{0};

// One line, written with a single write(): lines of parent and children never interleave.
void say(const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    std::size_t len =
        n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 2);
    line[len++] = '\n';
    [[maybe_unused]] const ssize_t written = ::write(STDOUT_FILENO, line, len);
}

bool check(bool ok, const char* what) {
    if (ok) {
        say("ok: %s", what);
    } else {
        say("FAIL: %s", what);
        g_failures.fetch_add(1);
    }
    return ok;
}

// The books that must balance: bytes in use and live blocks.
struct Books {
    std::int64_t bytes = 0;
    std::int64_t net = 0;
    std::uint64_t allocations = 0;
    // The C++ operators' books: the fork checks are about the blocks of operator new. (With
    // the malloc family counted, glibc frees the TLS vectors of the parent's threads in the
    // child when it first starts a thread there, which is exact but not this test's subject.)
    static Books now() {
        const memscope::SourceStats s = memscope::allocation_sources().operators;
        return {static_cast<std::int64_t>(s.current_bytes),
                static_cast<std::int64_t>(s.allocation_count - s.deallocation_count),
                s.allocation_count};
    }
    // The books once the server's threads are idle: unchanged for 100 ms (at most 5 s).
    static Books quiet() {
        Books last = now();
        auto stable_since = Clock::now();
        const auto deadline = Clock::now() + std::chrono::seconds(5);
        while (Clock::now() - stable_since < std::chrono::milliseconds(100) &&
               Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            const Books b = now();
            if (b.bytes != last.bytes || b.net != last.net || b.allocations != last.allocations) {
                last = b;
                stable_since = Clock::now();
            }
        }
        return last;
    }
};

// Checks that the books moved by exactly (bytes, blocks) since `from`.
bool books_moved(const Books& from, std::int64_t bytes, std::int64_t blocks, const char* what) {
    if (!memscope::tracking_enabled()) bytes = blocks = 0;  // every figure reads 0
    const Books now = Books::now();
    const bool ok = now.bytes - from.bytes == bytes && now.net - from.net == blocks;
    if (!ok)
        say("     books moved by %lld bytes in %lld blocks, expected %lld bytes in %lld blocks",
            static_cast<long long>(now.bytes - from.bytes),
            static_cast<long long>(now.net - from.net), static_cast<long long>(bytes),
            static_cast<long long>(blocks));
    return check(ok, what);
}

// Keeps a new-expression whose result is unused from being optimised away (allocation
// elision, [expr.new]): the allocation must really be attempted.
template <class T>
T* opaque(T* p) {
    asm volatile("" : : "g"(p) : "memory");
    return p;
}

// books_moved(), for when memscope's server threads run: what they allocate for a request
// or a sample is in the books while they work, so the books are read until that work is
// done (bounded: five seconds).
bool books_settle(const Books& from, std::int64_t bytes, std::int64_t blocks, const char* what) {
    if (!memscope::tracking_enabled()) return books_moved(from, bytes, blocks, what);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
        const Books now = Books::now();
        if (now.bytes - from.bytes == bytes && now.net - from.net == blocks) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return books_moved(from, bytes, blocks, what);
}

std::int64_t usable(const void* p) {
    return static_cast<std::int64_t>(memscope::usable_size(p));
}

// Address space in use now (VmSize), in bytes.
std::size_t address_space_bytes() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return 0;
    char line[256];
    std::size_t kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::strncmp(line, "VmSize:", 7) == 0) kib = std::strtoull(line + 7, nullptr, 10);
    std::fclose(f);
    return kib * 1024;
}

// Caps the address space at what is mapped now plus `headroom`.
bool limit_address_space(std::size_t headroom) {
    const std::size_t now = address_space_bytes();
    const rlimit limit{static_cast<rlim_t>(now + headroom), RLIM_INFINITY};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) {
        say("FAIL: setrlimit(RLIMIT_AS): %s", std::strerror(errno));
        g_failures.fetch_add(1);
        return false;
    }
    say("info: RLIMIT_AS set to %zu MiB (%zu MiB mapped + %zu MiB)", (now + headroom) / kMiB,
        now / kMiB, headroom / kMiB);
    return true;
}

memscope::MemoryBudget& game_budget() {
    static memscope::MemoryBudget budget;
    return budget;
}

// ---------------------------------------------------------------------------------------
// fork

#if MEMSCOPE_WITH_SERVER
// The game's dashboard: a static object, so that a child that exits runs its destructor.
memscope::Server& dashboard() {
    static memscope::Server server(game_budget(), [] {
        memscope::ServerOptions o;
        o.port = 0;
        o.read_environment = false;
        o.sample_interval = std::chrono::milliseconds(20);
        return o;
    }());
    return server;
}
#endif

// Blocks a parent thread allocated before the forks: each child frees them.
constexpr int kHandoff = 64;
char* g_handoff[kHandoff];
std::int64_t g_handoff_bytes = 0;

// The child's first checks: every allocation form, counted and freed exactly.
void child_allocates_every_form(const Books& start) {
    char* a = new char[100];
    int* b = new int(7);
    auto* c = new (std::nothrow) char[3000];
    auto* d = static_cast<char*>(::operator new (5000, std::align_val_t{256}));
    auto* e = static_cast<char*>(::operator new (70000, std::align_val_t{4096}, std::nothrow));
    auto* f = static_cast<char*>(::operator new(200000));
    const std::int64_t expected =
        usable(a) + usable(b) + usable(c) + usable(d) + usable(e) + usable(f);
    books_moved(start, expected, 6, "child: six allocations of every form are counted exactly");
    delete[] a;
    delete b;
    delete[] c;
    ::operator delete (d, std::align_val_t{256});
    ::operator delete (e, 70000, std::align_val_t{4096});
    ::operator delete(f, 200000);
    books_moved(start, 0, 0, "child: and their frees bring the books back exactly");
}

// The child frees the blocks a parent thread allocated; returns their bytes.
std::int64_t child_frees_the_handoff(const Books& start) {
    std::int64_t handoff_bytes = 0;
    for (char*& p : g_handoff) {
        handoff_bytes += usable(p);
        delete[] p;
        p = nullptr;
    }
    books_moved(start, -handoff_bytes, -kHandoff,
                "child: blocks allocated by a parent thread that does not exist here are freed "
                "exactly");
    return handoff_bytes;
}

// A new thread in the child: it may get the stack (and TLS) of one of the vanished threads.
void child_starts_a_thread(const Books& start, std::int64_t handoff_bytes) {
    std::atomic<bool> done{false};
    std::vector<int*> kept;
    kept.reserve(500);
    std::thread worker([&] {
        std::vector<int*> mine;
        for (int i = 0; i < 1000; ++i) mine.push_back(new int[1 + i % 50]);
        for (int i = 0; i < 1000; ++i) {
            if (i % 2 == 0)
                kept.push_back(mine[static_cast<std::size_t>(i)]);
            else
                delete[] mine[static_cast<std::size_t>(i)];
        }
        done = true;
    });
    worker.join();
    for (int* p : kept) delete[] p;
    kept.clear();
    kept.shrink_to_fit();
    books_moved(start, -handoff_bytes, -kHandoff,
                "child: a thread started in the child allocates and exits with exact books");
    check(done.load(), "child: its thread ran");
}

// The budget in the child: events (a notify of the condition variable server threads
// waited on in the parent), callbacks, snapshots, and the log.
void child_uses_the_budget(int index) {
    memscope::MemoryBudget& budget = game_budget();
    int pressure_calls = 0;
    const auto id =
        budget.on_pressure("Textures", [&](const memscope::PressureEvent&) { ++pressure_calls; });
    const std::uint64_t before = budget.last_event_sequence();
    budget.report("Textures", 600 * kMiB, 1);  // over its 512 MiB
    budget.report("Textures", 10 * kMiB, 1);   // back
    check(budget.last_event_sequence() == before + 2 && pressure_calls == 2,
          "child: the budget fires events and callbacks");
    check(!budget.snapshot().empty(), "child: the budget's snapshot");
    budget.remove_pressure_callback(id);
    memscope::log(memscope::LogLevel::warning, "child " + std::to_string(index) + " logs");
}

#if MEMSCOPE_WITH_SERVER
// One GET in the child, with a time limit: whether it was answered 200.
bool child_gets(int port, const char* path) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(10));
    const auto r = client.Get(path);
    return r && r->status == 200;
}

// A dashboard in the child: even children a server of their own on another port, odd ones
// a new start of the parent's server object, which first releases the parent's.
void child_serves(int index) {
    check(!dashboard().running(), "child: the parent's server is not running here");
    if (index % 2 == 0) {
        memscope::ServerOptions o;
        o.port = 0;
        o.read_environment = false;
        memscope::Server own(game_budget(), o);
        const auto started = own.start();
        const bool served = started && child_gets(started.port, "/healthz");
        own.stop();
        check(started.started && served, "child: a server of the child's own starts and serves");
    } else {
        const auto started = dashboard().start();
        const bool served = started && child_gets(started.port, "/api/v1/totals");
        check(started.started && served,
              "child: the inherited server object starts afresh in the child and serves");
        // Left running: exit() stops it in the static destructor.
    }
}
#endif

// What a child does: every allocation form with exact books, frees of blocks another
// (vanished) thread allocated, a thread of its own, the budget and the log, and a
// dashboard of its own. Returns its exit status; the caller exits with it (static
// destructors and all).
int child_main(int index) {
    g_failures = 0;  // the parent's failures so far are not this child's
    const Books start = Books::now();
    child_allocates_every_form(start);
    const std::int64_t handoff_bytes = child_frees_the_handoff(start);
    child_starts_a_thread(start, handoff_bytes);
    child_uses_the_budget(index);
#if MEMSCOPE_WITH_SERVER
    child_serves(index);
#endif
    return g_failures.load() == 0 ? 0 : 1;
}

constexpr int kGameThreads = 4;

// Blocks a game thread hands to the next one to free.
struct Mailbox {
    std::mutex mutex;
    std::vector<char*> blocks;
};

// What runs in the parent across the forks, until quit: the dashboard's clients and the
// game threads.
struct ParentThreads {
    std::atomic<bool> quit{false};
    std::deque<std::thread> threads;  // (a vector trips a false -Warray-bounds in GCC 12)
    std::vector<Mailbox> mail = std::vector<Mailbox>(kGameThreads);
    std::atomic<int> stream_messages{0};
    std::atomic<int> scrapes{0};
};

#if MEMSCOPE_WITH_SERVER
// A live stream reader, and a scraper that keeps the server's threads in the budget.
void start_dashboard_clients(ParentThreads& run, int port) {
    run.threads.emplace_back([&run, port] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(std::chrono::seconds(30));
        c.Get("/api/v1/stream", [&](const char* data, std::size_t size) {
            for (std::size_t i = 0; i + 6 < size; ++i)
                if (std::memcmp(data + i, "event:", 6) == 0) run.stream_messages.fetch_add(1);
            return !run.quit.load();
        });
    });
    run.threads.emplace_back([&run, port] {
        httplib::Client c("127.0.0.1", port);
        c.set_keep_alive(true);
        while (!run.quit.load()) {
            for (const char* path : {"/api/v1/snapshot", "/metrics"})
                if (auto r = c.Get(path); r && r->status == 200) run.scrapes.fetch_add(1);
        }
    });
}
#endif

// Game threads: an allocation storm, with blocks freed by the next thread, and reports
// that cross the warning threshold back and forth (events, notifies).
void start_game_threads(ParentThreads& run, memscope::MemoryBudget& budget) {
    for (int t = 0; t < kGameThreads; ++t) {
        run.threads.emplace_back([&run, &budget, t] {
            std::vector<Mailbox>& mail = run.mail;
            const std::string name = t == 0 ? "Audio" : "Game" + std::to_string(t);
            std::uint64_t i = 0;
            while (!run.quit.load()) {
                ++i;
                char* p = new char[16 + (i * 131) % 20000];
                {
                    std::lock_guard lock(
                        mail[static_cast<std::size_t>((t + 1) % kGameThreads)].mutex);
                    mail[static_cast<std::size_t>((t + 1) % kGameThreads)].blocks.push_back(p);
                }
                std::vector<char*> mine;
                {
                    std::lock_guard lock(mail[static_cast<std::size_t>(t)].mutex);
                    mine.swap(mail[static_cast<std::size_t>(t)].blocks);
                }
                for (char* q : mine) delete[] q;
                if (i % 64 == 0) budget.report(name, (i % 256 < 128 ? 120 : 10) * kMiB, i);
            }
        });
    }
}

// The hand-off blocks, from a thread that is gone by the time of the fork.
void hand_off_blocks() {
    std::thread handoff([] {
        for (int i = 0; i < kHandoff; ++i) {
            g_handoff[i] = new char[static_cast<std::size_t>(64 + i * 1000)];
            g_handoff_bytes += usable(g_handoff[i]);
        }
    });
    handoff.join();
}

// Waits for the child `k` (30 s at most, then kills it); whether it exited cleanly.
bool child_exited_cleanly(pid_t pid, int k) {
    int status = 0;
    bool ended = false;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            ended = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!ended) {
        say("FAIL: child %d hung (killed after 30 s)", k);
        g_failures.fetch_add(1);
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    say("FAIL: child %d ended with %s %d", k, WIFSIGNALED(status) ? "signal" : "status",
        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    g_failures.fetch_add(1);
    return false;
}

// Forks `forks` children one after the other, at uneven moments; how many exited cleanly.
int fork_children(int forks) {
    int children_ok = 0;
    for (int k = 0; k < forks; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10 + (k * 37) % 40));
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid < 0) {
            check(false, "fork()");
            break;
        }
        if (pid == 0) std::exit(child_main(k));
        children_ok += child_exited_cleanly(pid, k);
    }
    return children_ok;
}

#if MEMSCOPE_WITH_SERVER
// The parent's server goes on: new clients, and the stream that was open throughout.
void check_dashboard_went_on(const ParentThreads& run, int port) {
    const int messages = run.stream_messages.load();
    const int scraped = run.scrapes.load();
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(10));
    const auto r = c.Get("/api/v1/snapshot");
    check(r && r->status == 200, "parent: the server still serves new clients");
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((run.stream_messages.load() <= messages || run.scrapes.load() <= scraped) &&
           Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    check(run.stream_messages.load() > messages,
          "parent: the live stream open across the forks still receives messages");
    check(run.scrapes.load() > scraped, "parent: the scraper's requests still succeed");
}
#endif

int run_fork(int forks) {
    memscope::MemoryBudget& budget = game_budget();
    budget.configure_default_budgets();
    ParentThreads run;
#if MEMSCOPE_WITH_SERVER
    const auto started = dashboard().start();
    if (!check(started.started, "parent: the dashboard starts")) return 1;
    start_dashboard_clients(run, started.port);
#endif
    start_game_threads(run, budget);
    hand_off_blocks();

    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int children_ok = fork_children(forks);
    say("info: %d of %d children exited cleanly (exit() with static destructors)", children_ok,
        forks);
    check(children_ok == forks, "parent: every child exited cleanly, none hung");
#if MEMSCOPE_WITH_SERVER
    check_dashboard_went_on(run, started.port);
#endif

    run.quit = true;
#if MEMSCOPE_WITH_SERVER
    dashboard().stop();  // ends the live stream
#endif
    for (std::thread& t : run.threads) t.join();
    for (Mailbox& m : run.mail)
        for (char* p : m.blocks) delete[] p;
    for (char* p : g_handoff) delete[] p;
    return g_failures.load() == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------
// new-handler

// The reserve the handler gives back: one big block, or many 1 MiB blocks (which mimalloc
// keeps in its segments once freed, for the retry to reuse).
std::vector<char*> g_reserve;  // capacity reserved up front: the handler never allocates
std::int64_t g_reserve_bytes = 0;
std::atomic<int> g_handler_calls{0};

void release_reserve_handler() {
    g_handler_calls.fetch_add(1);
    if (g_reserve.empty()) {
        std::set_new_handler(nullptr);  // nothing left to give: the next failure throws
        return;
    }
    for (char* p : g_reserve) delete[] p;
    g_reserve.clear();
}

void fill_reserve(std::size_t blocks, std::size_t block_bytes) {
    g_reserve_bytes = 0;
    for (std::size_t i = 0; i < blocks; ++i) {
        g_reserve.push_back(new char[block_bytes]);
        g_reserve_bytes += usable(g_reserve.back());
    }
}

// A handler that cannot free anything: called until it gives up, then bad_alloc (or null),
// and nothing is counted.
void check_handler_that_gives_up() {
    static std::atomic<int> calls{0};
    const Books before = Books::now();
    for (int form = 0; form < 2; ++form) {
        calls = 0;
        std::set_new_handler([] {
            if (calls.fetch_add(1) + 1 == 3) std::set_new_handler(nullptr);
        });
        bool threw = false;
        char* p = nullptr;
        try {
            p = form == 0 ? opaque(new char[std::size_t{1} << 40])
                          : opaque(new (std::nothrow) char[std::size_t{1} << 40]);
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        check(p == nullptr && calls == 3 && threw == (form == 0),
              form == 0 ? "a handler that gives up after 3 calls: bad_alloc after exactly 3"
                        : "the same with nothrow new: null after exactly 3 calls");
    }
    std::set_new_handler([] { throw std::bad_alloc(); });
    char* p = opaque(new (std::nothrow) char[std::size_t{1} << 40]);
    std::set_new_handler(nullptr);
    check(p == nullptr, "a handler that throws bad_alloc: nothrow new returns null");
    books_moved(before, 0, 0, "failed attempts count nothing");
}

int run_new_handler() {
    g_reserve.reserve(4096);
    constexpr std::size_t kRequest = 160 * kMiB;
    if (!limit_address_space(320 * kMiB)) return 1;

    struct Scenario {
        const char* what;
        std::size_t blocks;
        std::size_t block_bytes;
        int form;  // 0: new[], 1: nothrow new[], 2: aligned new
    };
    const Scenario scenarios[] = {
        {"one 224 MiB reserve, new[]", 1, 224 * kMiB, 0},
        {"224 reserve blocks of 1 MiB, new[]", 224, kMiB, 0},
        {"one 224 MiB reserve, nothrow new[]", 1, 224 * kMiB, 1},
        {"224 reserve blocks of 1 MiB, aligned new (4 KiB)", 224, kMiB, 2},
    };
    for (const Scenario& s : scenarios) {
        fill_reserve(s.blocks, s.block_bytes);
        g_handler_calls = 0;
        std::set_new_handler(release_reserve_handler);
        const Books before = Books::now();
        char* p = nullptr;
        try {
            if (s.form == 0) p = new char[kRequest];
            if (s.form == 1) p = new (std::nothrow) char[kRequest];
            if (s.form == 2)
                p = static_cast<char*>(::operator new (kRequest, std::align_val_t{4096}));
        } catch (const std::bad_alloc&) {
            p = nullptr;
        }
        std::set_new_handler(nullptr);
        char what[200];
        std::snprintf(what, sizeof what,
                      "%s: the first attempt fails, the handler frees the reserve (%d call), "
                      "the retry succeeds",
                      s.what, g_handler_calls.load());
        if (!check(p != nullptr && g_handler_calls == 1 && g_reserve.empty(), what)) {
            for (char* q : g_reserve) delete[] q;
            g_reserve.clear();
            continue;
        }
        std::snprintf(what, sizeof what, "%s: books exact (reserve out, the new block in)", s.what);
        books_moved(before, usable(p) - g_reserve_bytes, 1 - static_cast<std::int64_t>(s.blocks),
                    what);
        if (s.form == 2)
            ::operator delete (p, std::align_val_t{4096});
        else
            delete[] p;
    }

    check_handler_that_gives_up();
    return g_failures.load() == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------
// oom

#if MEMSCOPE_WITH_SERVER
// Entries of a /proc/self directory: threads (task) or open descriptors (fd).
std::size_t proc_entries(const char* dir) {
    std::size_t n = 0;
    if (DIR* d = ::opendir(dir)) {
        while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
        ::closedir(d);
    }
    return n;
}

// The entries of `dir` once they stop changing (for 300 ms, within 3 s): a server closes
// the socket of a client that just went away a moment later, on its poller thread.
std::size_t settled_entries(const char* dir) {
    std::size_t last = proc_entries(dir);
    int same = 0;
    for (int i = 0; i < 60 && same < 6; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const std::size_t now = proc_entries(dir);
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

memscope::ServerOptions oom_server_options() {
    memscope::ServerOptions o;
    o.port = 0;
    o.read_environment = false;
    o.worker_threads = 2;
    // No sampling while the books are compared: a sample taken between two readings moves
    // them (the history keeps it), which is right, but not what these checks are about.
    o.sample_interval = std::chrono::hours(1);
    return o;
}

// One GET with a short timeout; its status, or the client's error. Nothing may throw out
// of here while memory is exhausted.
std::string try_get(int port, const char* path) {
    try {
        httplib::Client c("127.0.0.1", port);
        c.set_connection_timeout(std::chrono::seconds(2));
        c.set_read_timeout(std::chrono::seconds(2));
        const auto r = c.Get(path);
        return r ? std::to_string(r->status) : httplib::to_string(r.error());
    } catch (const std::bad_alloc&) {
        return "no memory for the test's own client";
    }
}

// While memory is exhausted, the server's threads hit the wall too: whatever they answer,
// nothing crashes; and a second server, which cannot start its threads, says so and
// leaves nothing behind.
void check_servers_while_exhausted(memscope::MemoryBudget& budget, int port) {
    say("info: while exhausted, /api/v1/snapshot answered: %s",
        try_get(port, "/api/v1/snapshot").c_str());
    // Settled: the first server is still closing the connection of the GET above.
    const std::size_t fds = settled_entries("/proc/self/fd");
    const std::size_t threads = proc_entries("/proc/self/task");
    memscope::Server second(budget, oom_server_options());
    memscope::StartResult result;
    try {
        result = second.start();
    } catch (const std::bad_alloc&) {
        result.error = "(std::bad_alloc thrown by start())";
    }
    say("info: while exhausted, a second server's start(): %s",
        result.started ? "started" : result.error.c_str());
    second.stop();
    const std::size_t fds_after = settled_entries("/proc/self/fd");
    const std::size_t threads_after = proc_entries("/proc/self/task");
    if (fds_after != fds || threads_after != threads)
        say("     descriptors %zu -> %zu, threads %zu -> %zu", fds, fds_after, threads,
            threads_after);
    check(fds_after == fds && threads_after == threads,
          "a server started while exhausted leaves no socket and no thread behind");
}

// Once memory is back the server serves again, and the connections it could not serve
// were closed, not left open.
void check_server_recovered(int port, std::size_t fds_before) {
    const std::string status = try_get(port, "/api/v1/totals");
    say("info: once memory is back, /api/v1/totals answered: %s", status.c_str());
    check(status == "200", "the server serves again once memory is back");
    const std::size_t fds_after = settled_entries("/proc/self/fd");
    if (fds_after != fds_before)
        say("     descriptors %zu before exhaustion, %zu after", fds_before, fds_after);
    check(fds_after == fds_before, "the server leaves no connection open across the exhaustion");
}

// Room for about two more threads, not the ten a server wants: it starts with the workers
// that fit (how many depends on the stacks glibc kept from threads that ended), or says
// why it cannot, and serves if it started. `limit` is restored after.
void check_server_with_room_for_two_threads(memscope::MemoryBudget& budget, const rlimit& limit) {
    const rlimit tight{static_cast<rlim_t>(address_space_bytes() + 18 * kMiB), limit.rlim_max};
    ::setrlimit(RLIMIT_AS, &tight);
    const std::size_t threads = proc_entries("/proc/self/task");
    memscope::ServerOptions o = oom_server_options();
    o.worker_threads = 8;
    memscope::Server third(budget, o);
    memscope::StartResult result;
    try {
        result = third.start();
    } catch (const std::bad_alloc&) {
        result.error = "(std::bad_alloc thrown by start())";
    }
    std::string served = "-";
    if (result.started) served = try_get(result.port, "/api/v1/totals");
    say("info: with room for two threads, start(): %s with %zu threads; /api/v1/totals: %s",
        result.started ? "started" : result.error.c_str(),
        proc_entries("/proc/self/task") - threads, served.c_str());
    check(result.started ? served == "200" : result.error.starts_with("memscope server: "),
          "with room for two threads, a server starts and serves, or says why not");
    third.stop();
    ::setrlimit(RLIMIT_AS, &limit);
}
#endif

// Allocations of 2 GiB, beyond any limit used here, fail in every form and count nothing.
void check_huge_allocations_fail(const Books& start) {
    constexpr std::size_t kHuge = std::size_t{2} << 30;
    bool threw = false;
    try {
        char* p = opaque(new char[kHuge]);
        delete[] p;
    } catch (const std::bad_alloc&) {
        threw = true;
    }
    check(threw, "new char[2 GiB] throws bad_alloc");
    check(opaque(new (std::nothrow) char[kHuge]) == nullptr,
          "nothrow new char[2 GiB] returns null");
    threw = false;
    try {
        ::operator delete (::operator new (kHuge, std::align_val_t{4096}), std::align_val_t{4096});
    } catch (const std::bad_alloc&) {
        threw = true;
    }
    check(threw, "aligned new of 2 GiB throws bad_alloc");
    check(::operator new (kHuge, std::align_val_t{64}, std::nothrow) == nullptr,
          "aligned nothrow new of 2 GiB returns null");
    threw = false;
    try {
        std::vector<char> v(kHuge);
    } catch (const std::bad_alloc&) {
        threw = true;
    }
    check(threw, "std::vector<char>(2 GiB) throws bad_alloc");
    books_settle(start, 0, 0, "failed allocations count nothing");
}

// The blocks that exhaust the address space.
char* g_blocks[4096];

// Runs out for real, 1 MiB at a time until the limit; returns how many blocks it got, and
// their bytes in `held`.
std::size_t allocate_until_exhausted(std::int64_t& held) {
    std::size_t n = 0;
    held = 0;
    try {
        while (n < std::size(g_blocks)) {
            g_blocks[n] = new char[kMiB];
            held += usable(g_blocks[n]);
            ++n;
        }
    } catch (const std::bad_alloc&) {
    }
    return n;
}

// While exhausted: small allocations succeed or fail cleanly, and the budget takes reports.
void check_small_things_while_exhausted(memscope::MemoryBudget& budget) {
    int small_ok = 0;
    for (int i = 0; i < 1000; ++i) {
        char* p = opaque(new (std::nothrow) char[64]);
        small_ok += p != nullptr;
        delete[] p;
    }
    say("info: %d of 1000 small nothrow allocations succeeded while exhausted", small_ok);
    budget.report("Chunks", 200 * kMiB, 10);  // no event: an event would stay in the books
    check(budget.subsystem("Chunks")->current_bytes == 200 * kMiB,
          "the budget takes reports while exhausted");
}

// Memory runs out with exact books, the game (and the server at `port`, if any) goes
// through it, and everything is freed to the books of `start`.
void exhaust_and_recover(memscope::MemoryBudget& budget, const Books& start,
                         [[maybe_unused]] int port) {
    std::int64_t held = 0;
    const std::size_t n = allocate_until_exhausted(held);
    say("info: ran out after %zu blocks of 1 MiB", n);
    check(n > 16 && n < std::size(g_blocks), "1 MiB blocks run out under the limit");
    books_settle(start, held, static_cast<std::int64_t>(n),
                 "exhausted: the books hold exactly the blocks that were allocated");
    check_small_things_while_exhausted(budget);
#if MEMSCOPE_WITH_SERVER
    check_servers_while_exhausted(budget, port);
#endif
    for (std::size_t i = 0; i < n; ++i) delete[] g_blocks[i];
    books_settle(start, 0, 0, "all freed: the books are back exactly");
}

// The game goes on once memory is back, with exact books.
void check_game_goes_on(memscope::MemoryBudget& budget, const Books& start) {
    std::vector<std::string> frames;
    for (int i = 0; i < 10000; ++i) frames.emplace_back(static_cast<std::size_t>(i % 300), 'x');
    frames.clear();
    frames.shrink_to_fit();
    budget.report("Chunks", 300 * kMiB, 10);
    books_settle(start, 0, 0, "the game allocates and frees on, with exact books");
}

int run_oom() {
    rlimit limit{};
    ::getrlimit(RLIMIT_AS, &limit);
    if (!check(limit.rlim_cur != RLIM_INFINITY, "the address space is limited (ulimit -v)"))
        return 1;
    memscope::MemoryBudget& budget = game_budget();
    budget.configure_default_budgets();
    int port = 0;
#if MEMSCOPE_WITH_SERVER
    memscope::Server server(budget, oom_server_options());
    const auto started = server.start();
    if (!check(started.started, "the dashboard starts under the limit")) return 1;
    port = started.port;
    check(try_get(port, "/healthz") == "200", "the dashboard serves");
    // The snapshot asked for below while exhausted must find its one-time statics (tables
    // built on first use) in place, or a success there would leave them in the books.
    check(try_get(port, "/api/v1/snapshot") == "200", "the dashboard serves a snapshot");
#endif
    say("info: RLIMIT_AS %zu MiB, %zu MiB mapped", static_cast<std::size_t>(limit.rlim_cur) / kMiB,
        address_space_bytes() / kMiB);

    budget.report("Chunks", 100 * kMiB, 10);
#if MEMSCOPE_WITH_SERVER
    const std::size_t fds_before = settled_entries("/proc/self/fd");
#endif
    const Books start = Books::quiet();
    check_huge_allocations_fail(start);
    exhaust_and_recover(budget, start, port);
    check_game_goes_on(budget, start);
#if MEMSCOPE_WITH_SERVER
    check_server_recovered(port, fds_before);
    server.stop();
    check_server_with_room_for_two_threads(budget, limit);
#endif
    return g_failures.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    // memscope's log goes through its sink (and its lock) as usual, but not to the output.
    static std::atomic<std::uint64_t> log_lines{0};
    if (std::getenv("MEMSCOPE_HELPER_LOG") == nullptr)
        memscope::set_log_sink(
            [](memscope::LogLevel, std::string_view) { log_lines.fetch_add(1); });
    if (mode == "fork") return run_fork(argc > 2 ? std::atoi(argv[2]) : 12);
    if (mode == "new-handler") return run_new_handler();
    if (mode == "oom") return run_oom();
    std::fprintf(stderr, "usage: %s fork [FORKS] | new-handler | oom\n", argv[0]);
    return 2;
}

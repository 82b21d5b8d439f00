// SPDX-License-Identifier: MIT
// memscope-run [options] -- PROGRAM ARGS...: runs any dynamically linked program with
// libmemscope_preload.so underneath (docs/run.md), then prints what it allocated and exits
// with the program's status.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memscope/format.hpp"
#include "memscope/json.hpp"
#include "memscope/units.hpp"

#ifndef MEMSCOPE_RUN_LIBDIR_FROM_BINDIR
#define MEMSCOPE_RUN_LIBDIR_FROM_BINDIR "../lib"
#endif

namespace {

constexpr const char* kPreloadName = "libmemscope_preload.so";

constexpr const char* kUsage =
    "usage: memscope-run [options] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM with memscope's counting allocator underneath, serves the dashboard\n"
    "while it runs, and prints what it allocated when it ends (docs/run.md).\n"
    "\n"
    "  --port N         dashboard port (default 9090, or MEMSCOPE_PORT; 0: any free port)\n"
    "  --bind ADDR      address to listen on (default 127.0.0.1, or MEMSCOPE_BIND)\n"
    "  --token T        token of the control endpoints (or MEMSCOPE_TOKEN, MEMSCOPE_TOKEN_FILE)\n"
    "  --config FILE    budget file (or MEMSCOPE_CONFIG; default memscope.json if present)\n"
    "  --budget SIZE    budget of the whole heap, e.g. 512MiB (the Heap subsystem)\n"
    "  --verdict FILE   write the budget verdict (docs/verdict.md) to FILE\n"
    "  --report FILE    write the run's figures as JSON to FILE (docs/run.md, \"The report\")\n"
    "  --gate           exit with the verdict's failure code when the program succeeded\n"
    "                   but the verdict failed\n"
    "  --children serve the programs PROGRAM starts serve dashboards too, each on a free port\n"
    "                   (by default they are counted but do not serve)\n"
    "  -q, --quiet      print nothing but errors and verdict failures\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: PROGRAM's (128+N when signal N ended it); with --gate, the verdict's\n"
    "(1 over budget, 2 baseline unusable) when PROGRAM exited with 0; 127 when PROGRAM\n"
    "could not be started; 125 for a usage error.\n";

constexpr int kUsageError = 125;  // as env(1) and timeout(1): memscope-run itself failed

struct Options {
    std::optional<std::string> port, bind, token, config, budget, verdict, report;
    bool gate = false;
    bool children_serve = false;
    bool quiet = false;
    std::vector<char*> command;  // PROGRAM ARGS..., null-terminated
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "memscope-run: %s\n(memscope-run --help for usage)\n", message.c_str());
    std::exit(kUsageError);
}

std::string absolute(const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return path;
    return std::string(cwd) + "/" + path;
}

Options parse(int argc, char** argv) {
    Options o;
    int i = 1;
    auto value_of = [&](std::string_view name) -> std::string {
        if (i + 1 >= argc) usage_error(std::string(name) + " needs a value");
        return argv[++i];
    };
    for (; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (arg == "--port") {
            o.port = value_of(arg);
        } else if (arg == "--bind") {
            o.bind = value_of(arg);
        } else if (arg == "--token") {
            o.token = value_of(arg);
        } else if (arg == "--config") {
            o.config = absolute(value_of(arg));
        } else if (arg == "--budget") {
            o.budget = value_of(arg);
            std::string why;
            if (!memscope::parse_size(*o.budget, &why))
                usage_error("--budget \"" + *o.budget + "\": " + why);
        } else if (arg == "--verdict") {
            o.verdict = absolute(value_of(arg));
        } else if (arg == "--report") {
            o.report = absolute(value_of(arg));
        } else if (arg == "--gate") {
            o.gate = true;
        } else if (arg == "--children") {
            const std::string how = value_of(arg);
            if (how != "serve") usage_error("--children takes 'serve' (got '" + how + "')");
            o.children_serve = true;
        } else if (arg == "-q" || arg == "--quiet") {
            o.quiet = true;
        } else if (!arg.empty() && arg[0] == '-') {
            usage_error("unknown option '" + std::string(arg) + "'");
        } else {
            break;  // the program, without a "--" before it
        }
    }
    if (i >= argc) usage_error("no program to run (memscope-run [options] -- PROGRAM ARGS...)");
    o.command.assign(argv + i, argv + argc);
    o.command.push_back(nullptr);
    return o;
}

std::string directory_of_self() {
    char path[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return ".";
    std::string self(path, static_cast<std::size_t>(n));
    return self.substr(0, self.rfind('/'));
}

// MEMSCOPE_PRELOAD, else beside this program (the build tree), else in the library
// directory of its installation.
std::string find_preload() {
    if (const char* given = std::getenv("MEMSCOPE_PRELOAD"); given != nullptr && *given)
        return absolute(given);
    const std::string dir = directory_of_self();
    for (const std::string& candidate :
         {dir + "/" + kPreloadName, dir + "/" MEMSCOPE_RUN_LIBDIR_FROM_BINDIR "/" + kPreloadName})
        if (access(candidate.c_str(), R_OK) == 0) return candidate;
    return {};
}

std::string base_name(const char* path) {
    const std::string_view p = path;
    const std::size_t slash = p.rfind('/');
    return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

volatile sig_atomic_t g_child = 0;

// Signals another process sent to memscope-run go on to the program. The terminal's own
// (Ctrl-C) already reach it: the program is in memscope-run's process group.
void forward_signal(int signal, siginfo_t* info, void*) {
    if (g_child > 0 && info != nullptr && info->si_code <= 0) kill(g_child, signal);
}

void install_forwarding() {
    struct sigaction action {};
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(signal, &action, nullptr);
}

// In the child: sets the variables and execs the program. If exec fails, its errno goes
// to the parent through `error_pipe` (closed by a successful exec).
[[noreturn]] void exec_program(const Options& o, const std::string& preload,
                               const std::string& report, int error_pipe) {
    auto set = [](const char* name, const std::optional<std::string>& value) {
        if (value) setenv(name, value->c_str(), 1);
    };
    std::string ld_preload = preload;
    if (const char* existing = std::getenv("LD_PRELOAD"); existing != nullptr && *existing)
        ld_preload += std::string(":") + existing;
    setenv("LD_PRELOAD", ld_preload.c_str(), 1);
    setenv("MEMSCOPE_RUN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("MEMSCOPE_RUN_REPORT", report.c_str(), 1);
    setenv("MEMSCOPE_RUN_PROGRAM", base_name(o.command[0]).c_str(), 1);
    setenv("MEMSCOPE_RUN_CHILDREN", o.children_serve ? "serve" : "count", 1);
    setenv("MEMSCOPE_RUN_QUIET", o.quiet ? "1" : "0", 1);
    set("MEMSCOPE_PORT", o.port);
    set("MEMSCOPE_BIND", o.bind);
    set("MEMSCOPE_TOKEN", o.token);
    set("MEMSCOPE_CONFIG", o.config);
    set("MEMSCOPE_RUN_BUDGET", o.budget);
    set("MEMSCOPE_RUN_VERDICT", o.verdict);
    execvp(o.command[0], o.command.data());
    const int error = errno;
    std::fprintf(stderr, "memscope-run: cannot run '%s': %s\n", o.command[0], std::strerror(error));
    (void)!write(error_pipe, &error, sizeof error);
    _exit(error == ENOENT ? 127 : 126);  // as a shell does
}

std::string read_file(const std::string& path) {
    std::string text;
    if (std::FILE* f = std::fopen(path.c_str(), "r")) {
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        std::fclose(f);
    }
    return text;
}

std::uint64_t uint_at(const memscope::JsonValue& object, std::string_view key) {
    const memscope::JsonValue* v = object.find(key);
    const memscope::JsonNumber* n = v != nullptr ? v->number() : nullptr;
    return n != nullptr && n->as_uint64() ? *n->as_uint64() : 0;
}

std::string how_it_ended(int status) {
    if (WIFSIGNALED(status))
        return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

struct ReportOutcome {
    bool found = false;
    bool verdict_pass = true;
    int verdict_exit_code = 0;
};

// Prints the summary lines from the report, and returns what --gate needs from it.
ReportOutcome summarise(const Options& o, const std::string& report_path, int status,
                        double seconds) {
    ReportOutcome outcome;
    const std::string program = base_name(o.command[0]);
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.2f s", seconds);
    const std::string head =
        "memscope-run: " + program + " " + how_it_ended(status) + " after " + elapsed;
    const std::string text = read_file(report_path);
    memscope::JsonError error;
    const std::optional<memscope::JsonValue> report =
        text.empty() ? std::nullopt : memscope::read_json(text, &error);
    if (!report || report->object() == nullptr) {
        if (!o.quiet)
            std::fprintf(stderr,
                         "%s; no report: memscope never started in it (statically linked, setuid, "
                         "or ended by a signal while loading)\n",
                         head.c_str());
        return outcome;
    }
    outcome.found = true;
    // A report from while it ran (not its exit handlers'): _exit() or a signal ended it.
    const memscope::JsonValue* final = report->find("final");
    const bool at_exit = final == nullptr || final->boolean() == nullptr || *final->boolean();
    std::string when = "at exit";
    if (!at_exit) {
        const memscope::JsonValue* at = report->find("elapsed_seconds");
        const memscope::JsonNumber* n = at != nullptr ? at->number() : nullptr;
        const double before_end = std::max(0.0, seconds - (n != nullptr ? n->value : 0.0));
        char ago[64];
        std::snprintf(ago, sizeof ago, "%.1f s before the end,", before_end);
        when = ago;
    }
    const memscope::JsonValue* verdict = report->find("verdict");
    if (verdict != nullptr) {
        const memscope::JsonValue* pass = verdict->find("pass");
        outcome.verdict_pass = pass == nullptr || pass->boolean() == nullptr || *pass->boolean();
        outcome.verdict_exit_code = static_cast<int>(uint_at(*verdict, "exit_code"));
    }
    if (!o.quiet) {
        const std::uint64_t own = uint_at(*report, "memscope_bytes");
        const std::uint64_t total = uint_at(*report, "total_allocated_bytes");
        const std::uint64_t live = total > own ? total - own : 0;
        const memscope::JsonValue* malloc_family = report->find("malloc_family");
        const memscope::JsonValue* operators = report->find("operators");
        std::fprintf(
            stderr,
            "%s; peak %s; %s %s still live in %llu blocks (malloc family %s, "
            "C++ operators %s, memscope's own %s)\n",
            head.c_str(), memscope::format_memory(uint_at(*report, "peak_allocated_bytes")).c_str(),
            when.c_str(), memscope::format_memory(live).c_str(),
            static_cast<unsigned long long>(uint_at(*report, "live_blocks")),
            memscope::format_memory(malloc_family ? uint_at(*malloc_family, "current_bytes") : 0)
                .c_str(),
            memscope::format_memory(operators ? uint_at(*operators, "current_bytes") : 0).c_str(),
            memscope::format_memory(own).c_str());
        if (!at_exit)
            std::fprintf(stderr,
                         "memscope-run: %s ended without running its exit handlers (_exit or a "
                         "signal): these figures are from memscope's last report, %.*s\n",
                         program.c_str(), static_cast<int>(when.size() - 1), when.c_str());
        std::string rows;
        if (const memscope::JsonValue* subsystems = report->find("subsystems");
            subsystems != nullptr && subsystems->array() != nullptr) {
            std::vector<std::pair<std::uint64_t, std::string>> peaks;
            for (const memscope::JsonValue& row : *subsystems->array()) {
                const memscope::JsonValue* name = row.find("name");
                if (name == nullptr || name->string() == nullptr || *name->string() == "Heap")
                    continue;
                if (const std::uint64_t peak = uint_at(row, "peak_bytes"); peak > 0)
                    peaks.emplace_back(peak, *name->string());
            }
            std::sort(peaks.rbegin(), peaks.rend());
            for (std::size_t k = 0; k < peaks.size() && k < 5; ++k)
                rows += (k ? ", " : "") + peaks[k].second + " " +
                        memscope::format_memory(peaks[k].first);
        }
        if (!rows.empty())
            std::fprintf(stderr, "memscope-run: largest subsystems (peak): %s\n", rows.c_str());
    }
    if (verdict != nullptr &&
        (!outcome.verdict_pass || (!o.quiet && (o.verdict || o.gate || o.budget)))) {
        if (const memscope::JsonValue* failures = verdict->find("failures");
            failures != nullptr && failures->array() != nullptr)
            for (const memscope::JsonValue& f : *failures->array())
                if (f.string() != nullptr)
                    std::fprintf(stderr, "memscope-run: verdict: %s\n", f.string()->c_str());
        std::fprintf(stderr, "memscope-run: verdict: %s\n", outcome.verdict_pass ? "pass" : "FAIL");
    }
    return outcome;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const std::string preload = find_preload();
    if (preload.empty() || access(preload.c_str(), R_OK) != 0) {
        std::fprintf(stderr,
                     "memscope-run: cannot find %s beside memscope-run or in its "
                     "installation's library directory; set MEMSCOPE_PRELOAD to its path\n",
                     kPreloadName);
        return kUsageError;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/memscope-run.XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) {
        std::fprintf(stderr, "memscope-run: cannot create a directory in %s: %s\n",
                     tmp != nullptr && *tmp ? tmp : "/tmp", std::strerror(errno));
        return kUsageError;
    }
    const std::string report = dir + "/report.json";

    int exec_pipe[2];
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
        std::fprintf(stderr, "memscope-run: pipe: %s\n", std::strerror(errno));
        rmdir(dir.c_str());
        return kUsageError;
    }
    install_forwarding();
    const auto started = std::chrono::steady_clock::now();
    const pid_t child = fork();
    if (child < 0) {
        std::fprintf(stderr, "memscope-run: fork: %s\n", std::strerror(errno));
        rmdir(dir.c_str());
        return kUsageError;
    }
    if (child == 0) {
        struct sigaction restore {};
        restore.sa_handler = SIG_DFL;
        for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(signal, &restore, nullptr);
        close(exec_pipe[0]);
        exec_program(o, preload, report, exec_pipe[1]);
    }
    g_child = child;
    close(exec_pipe[1]);
    int exec_error = 0;
    while (read(exec_pipe[0], &exec_error, sizeof exec_error) < 0 && errno == EINTR) {
    }
    close(exec_pipe[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const int program_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    ReportOutcome outcome;
    if (exec_error == 0) outcome = summarise(o, report, status, seconds);
    // --report: the report as the summary read it, final or the last one written.
    if (o.report && std::rename(report.c_str(), o.report->c_str()) != 0) {
        const std::string text = read_file(report);
        std::FILE* f = text.empty() ? nullptr : std::fopen(o.report->c_str(), "w");
        const bool written =
            f != nullptr && std::fwrite(text.data(), 1, text.size(), f) == text.size();
        if (f == nullptr || std::fclose(f) != 0 || !written)
            std::fprintf(stderr, "memscope-run: cannot write the report to '%s'%s\n",
                         o.report->c_str(), text.empty() ? " (there is none)" : "");
    }
    unlink(report.c_str());
    unlink((report + ".next").c_str());
    rmdir(dir.c_str());
    if (o.gate && program_status == 0 && outcome.found && !outcome.verdict_pass)
        return outcome.verdict_exit_code != 0 ? outcome.verdict_exit_code : 1;
    return program_status;
}

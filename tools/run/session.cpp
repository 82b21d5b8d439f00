// SPDX-License-Identifier: MIT
// libmemscope_run_session.so: the part of memscope-run that serves, loaded by
// libmemscope_preload.so (preload.cpp) only into the process that should: the one
// memscope-run started (MEMSCOPE_RUN_PID), or any with --children serve. Its budget,
// verdict, dashboard and heap row, and the report memscope-run prints its summary from.
// It counts nothing itself: the counters are the preload library's, which this one links
// against, so that the two share one copy of memscope's core.
//
// The variables below are memscope-run's private protocol with these libraries, not
// settings for people: docs/run.md documents memscope-run's options instead.

#include <errno.h>  // program_invocation_short_name
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"
#include "memscope/config_file.hpp"
#include "memscope/internal.hpp"
#include "memscope/json.hpp"
#include "memscope/log.hpp"
#include "memscope/options.hpp"
#include "memscope/server.hpp"
#include "memscope/units.hpp"
#include "memscope/verdict.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// The subsystem row that follows the whole heap of the program.
constexpr const char* kHeapRow = "Heap";
constexpr auto kHeapInterval = std::chrono::milliseconds(250);
constexpr auto kReportInterval = std::chrono::seconds(1);

// What memscope-run tells this library, read once at load.
struct RunSettings {
    pid_t run_pid = 0;                               // MEMSCOPE_RUN_PID: the process that serves
    bool quiet = false;                              // MEMSCOPE_RUN_QUIET=1
    std::optional<std::uint64_t> heap_budget_bytes;  // MEMSCOPE_RUN_BUDGET
    std::string budget_error;                        // why MEMSCOPE_RUN_BUDGET was refused
    std::string report_path;                         // MEMSCOPE_RUN_REPORT
    std::string verdict_path;                        // MEMSCOPE_RUN_VERDICT
    std::string program;                             // MEMSCOPE_RUN_PROGRAM
};

std::string env_text(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

RunSettings read_settings() {
    RunSettings s;
    s.run_pid = static_cast<pid_t>(std::atol(env_text("MEMSCOPE_RUN_PID").c_str()));
    s.quiet = env_text("MEMSCOPE_RUN_QUIET") == "1";
    if (const std::string budget = env_text("MEMSCOPE_RUN_BUDGET"); !budget.empty()) {
        s.heap_budget_bytes = memscope::parse_size(budget, &s.budget_error);
        if (!s.heap_budget_bytes) s.budget_error = "--budget \"" + budget + "\": " + s.budget_error;
    }
    s.report_path = env_text("MEMSCOPE_RUN_REPORT");
    s.verdict_path = env_text("MEMSCOPE_RUN_VERDICT");
    // The children of the program inherit the variable: they go by their own name.
    s.program = getpid() == s.run_pid ? env_text("MEMSCOPE_RUN_PROGRAM") : "";
    if (s.program.empty()) s.program = program_invocation_short_name;
    return s;
}

// Runs `work` on a thread of memscope's own, so that what it allocates (the session, the
// server, the report's strings) is counted as memscope's footprint, not the program's.
template <class Work>
void run_as_memscope(Work&& work) {
    std::thread thread = memscope::detail::start_thread([&work] {
        memscope::detail::mark_thread_internal();
        memscope::detail::name_this_thread("ms-run");
        memscope::detail::run_guarded("run", work);
    });
    thread.join();
}

bool write_file(const std::string& path, const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && written;
}

void write_source(memscope::JsonWriter& w, const memscope::SourceStats& s) {
    w.begin_object()
        .key("current_bytes")
        .value(s.current_bytes)
        .key("allocation_count")
        .value(s.allocation_count)
        .key("deallocation_count")
        .value(s.deallocation_count)
        .end_object();
}

// One program's run: its budget, verdict, dashboard and heap row. Made once and never
// destroyed, so that neither the exit handler nor a late thread of the program meets it
// half torn down by static destructors.
class Session {
  public:
    explicit Session(RunSettings settings)
        : settings_(std::move(settings)),
          verdict_(budget_, {.program = settings_.program}),
          server_(budget_, server_options(settings_)) {}

    void start() {
        startup_program_bytes_ = program_bytes(memscope::allocation_stats().total_allocated_bytes,
                                               memscope::detail::internal_bytes());
        if (settings_.quiet) memscope::set_log_level(memscope::LogLevel::error);
        // MEMSCOPE_CONFIG (--config), else memscope.json if there is one; logs its own
        // success or error, once for a process that execs a wrapper's program.
        const memscope::LogLevel level = memscope::log_level();
        if (pid_ == settings_.run_pid && !env_text("MEMSCOPE_RUN_ANNOUNCED").empty() &&
            level < memscope::LogLevel::warning)
            memscope::set_log_level(memscope::LogLevel::warning);
        (void)memscope::load_default_config(budget_);
        memscope::set_log_level(level);
        if (!settings_.budget_error.empty())
            std::fprintf(stderr, "memscope-run: %s; the heap is not budgeted\n",
                         settings_.budget_error.c_str());
        if (settings_.heap_budget_bytes)
            budget_.set_budget(kHeapRow, static_cast<std::size_t>(*settings_.heap_budget_bytes));
        report_heap();
        heap_thread_ = memscope::detail::start_thread([this] { heap_loop(); });
        server_.set_verdict_provider([this] { return verdict_.evaluate().json; });
        // The server's own "dashboard on" line would repeat the one below, which names
        // the program.
        if (level < memscope::LogLevel::warning)
            memscope::set_log_level(memscope::LogLevel::warning);
        const memscope::StartResult started = server_.start();
        memscope::set_log_level(level);
        if (started) {
            dashboard_url_ = started.url;
            announce(started);
        } else if (!started.disabled) {
            dashboard_error_ = started.error;
            std::fprintf(stderr, "memscope-run: no dashboard for %s: %s; it runs on, counted\n",
                         settings_.program.c_str(), started.error.c_str());
        }
        write_report(false);
    }

    /// False in a child that fork() made without exec: the report is its parent's.
    [[nodiscard]] bool owned_by_this_process() const { return getpid() == pid_; }

    // At exit: the last figures, the verdict and, in the process memscope-run started,
    // the report (a child that serves only stops).
    void finish() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (heap_thread_.joinable()) heap_thread_.join();
        server_.stop();
        if (pid_ != settings_.run_pid) return;
        write_report(true);
    }

    // The report memscope-run prints its summary from (and the verdict, when asked): at
    // start, every kReportInterval while the program runs, and at exit (`final`). A program
    // that ends without running its exit handlers (_exit, a signal) leaves the last one,
    // which memscope-run shows as such. Written whole, then renamed over the previous one,
    // so memscope-run never reads half a report.
    void write_report(bool final) {
        if (pid_ != settings_.run_pid) return;
        std::lock_guard lock(report_mutex_);
        const memscope::AllocationStats stats = memscope::allocation_stats();
        const memscope::AllocationSources sources = memscope::allocation_sources();
        const std::int64_t internal = memscope::detail::internal_bytes();
        report_heap_locked();
        const memscope::Verdict verdict = verdict_.evaluate();
        if (final && !settings_.verdict_path.empty() &&
            !write_file(settings_.verdict_path, verdict.json))
            std::fprintf(stderr, "memscope-run: cannot write the verdict to '%s': %s\n",
                         settings_.verdict_path.c_str(), std::strerror(errno));
        if (settings_.report_path.empty()) return;
        const std::string next = settings_.report_path + ".next";
        if (!write_file(next, report_json(stats, sources, internal, verdict, final)) ||
            std::rename(next.c_str(), settings_.report_path.c_str()) != 0) {
            if (final)
                std::fprintf(stderr, "memscope-run: cannot write the report to '%s': %s\n",
                             settings_.report_path.c_str(), std::strerror(errno));
        }
    }

  private:
    // What the program holds: everything counted, less memscope's own threads' blocks.
    static std::size_t program_bytes(std::size_t total, std::int64_t internal) {
        const std::size_t own = internal > 0 ? static_cast<std::size_t>(internal) : 0;
        return total > own ? total - own : 0;
    }

    static memscope::ServerOptions server_options(const RunSettings& settings) {
        memscope::ServerOptions options;
        if (getpid() != settings.run_pid) {
            // A child asked to serve: the variables apply, but not the port, which its
            // parent holds.
            options.read_environment = false;
            const memscope::Environment env = memscope::read_environment();
            if (env.bind) options.bind_address = *env.bind;
            if (env.token) options.token = *env.token;
            if (env.allowed_hosts) options.allowed_hosts = *env.allowed_hosts;
            options.port = 0;
        }
        return options;
    }

    // Prints the URL, once for a process that execs itself or a wrapper's program: the
    // next image keeps the same port (the listening socket closes at exec) and says
    // nothing unless the URL changed.
    void announce(const memscope::StartResult& started) const {
        if (pid_ == settings_.run_pid) {
            if (env_text("MEMSCOPE_RUN_ANNOUNCED") == started.url) return;
            setenv("MEMSCOPE_RUN_ANNOUNCED", started.url.c_str(), 1);
            setenv("MEMSCOPE_PORT", std::to_string(started.port).c_str(), 1);
        }
        if (!settings_.quiet)
            std::fprintf(stderr, "memscope-run: dashboard of %s (pid %d) on %s\n",
                         settings_.program.c_str(), static_cast<int>(pid_), started.url.c_str());
    }

    // The program's heap: everything counted, less memscope's own threads' blocks. A peak
    // reached between two reports is reported first, so that the row's peak, its events
    // and the verdict see a spike however short.
    void report_heap() {
        std::lock_guard lock(report_mutex_);
        report_heap_locked();
    }

    void report_heap_locked() {
        const memscope::AllocationStats stats = memscope::allocation_stats();
        const std::int64_t internal = memscope::detail::internal_bytes();
        const std::size_t bytes = program_bytes(stats.total_allocated_bytes, internal);
        const std::size_t blocks =
            stats.net_allocations > 0 ? static_cast<std::size_t>(stats.net_allocations) : 0;
        const std::size_t peak =
            program_bytes(static_cast<std::size_t>(stats.peak_allocated_bytes), internal);
        if (peak > last_peak_bytes_) {
            last_peak_bytes_ = peak;
            if (peak > bytes) budget_.report(kHeapRow, peak, blocks);
        }
        budget_.report(kHeapRow, bytes, blocks);
    }

    void heap_loop() {
        memscope::detail::mark_thread_internal();
        memscope::detail::name_this_thread("ms-run-heap");
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            memscope::detail::run_guarded("run", [this] {
                report_heap();
                verdict_.poll();
                if (Clock::now() - last_report_ >= kReportInterval) {
                    last_report_ = Clock::now();
                    write_report(false);
                }
            });
            lock.lock();
            wake_.wait_for(lock, kHeapInterval, [this] { return stopping_; });
        }
    }

    std::string report_json(const memscope::AllocationStats& stats,
                            const memscope::AllocationSources& sources, std::int64_t internal,
                            const memscope::Verdict& verdict, bool final) const {
        std::string out;
        memscope::JsonWriter w(out, 2);
        w.begin_object()
            .key("program")
            .value(settings_.program)
            .key("final")
            .value(final)
            .key("pid")
            .value(static_cast<std::int64_t>(pid_))
            .key("elapsed_seconds")
            .value(std::chrono::duration<double>(Clock::now() - started_).count())
            .key("peak_allocated_bytes")
            .value(stats.peak_allocated_bytes)
            .key("total_allocated_bytes")
            .value(stats.total_allocated_bytes)
            .key("live_blocks")
            .value(stats.net_allocations)
            .key("program_bytes")
            .value(program_bytes(stats.total_allocated_bytes, internal))
            .key("startup_program_bytes")
            .value(startup_program_bytes_)
            .key("memscope_bytes")
            .value(internal)
            .key("allocation_count")
            .value(stats.allocation_count)
            .key("operators");
        write_source(w, sources.operators);
        w.key("malloc_family");
        write_source(w, sources.malloc_family);
        w.key("malloc_counted").value(memscope::malloc_counting_enabled());
        w.key("dashboard_url").value(dashboard_url_);
        w.key("dashboard_error").value(dashboard_error_);
        w.key("subsystems").begin_array();
        for (const memscope::SubsystemSnapshot& row : budget_.snapshot()) {
            w.begin_object()
                .key("name")
                .value(row.name)
                .key("current_bytes")
                .value(row.memory.current_bytes)
                .key("peak_bytes")
                .value(row.memory.peak_bytes)
                .key("budget_bytes")
                .value(row.memory.budget_bytes)
                .end_object();
        }
        w.end_array();
        w.key("verdict")
            .begin_object()
            .key("pass")
            .value(verdict.pass)
            .key("exit_code")
            .value(verdict.exit_code())
            .key("failures")
            .begin_array();
        for (const std::string& failure : verdict.failures) w.value(failure);
        w.end_array().end_object().end_object();
        out += '\n';
        return out;
    }

    const RunSettings settings_;
    const pid_t pid_ = getpid();
    const Clock::time_point started_ = Clock::now();
    memscope::MemoryBudget budget_;
    memscope::VerdictRecorder verdict_;
    memscope::Server server_;
    std::string dashboard_url_;
    std::string dashboard_error_;
    std::thread heap_thread_;
    std::size_t startup_program_bytes_ = 0;         // program_bytes() when the session started
    std::mutex report_mutex_;                       // one report_heap() or write_report() at a time
    std::size_t last_peak_bytes_ = 0;               // the peak last reported; under report_mutex_
    Clock::time_point last_report_ = Clock::now();  // of the heap thread's last report
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

Session* g_session = nullptr;  // never destroyed (see Session)

}  // namespace

// Called by libmemscope_preload.so's constructor (preload.cpp), in a process that serves.
extern "C" [[gnu::visibility("default")]] void memscope_run_session_start() {
    RunSettings settings = read_settings();
    run_as_memscope([&settings] {
        g_session = new Session(std::move(settings));
        g_session->start();
    });
    // exit() and quick_exit() run the session's end; _exit() and a signal leave the last
    // periodic report (write_report()).
    static std::once_flag finished;
    const auto finish = [] {
        if (g_session->owned_by_this_process())
            std::call_once(finished, [] { run_as_memscope([] { g_session->finish(); }); });
    };
    std::atexit(finish);
    std::at_quick_exit(finish);
}

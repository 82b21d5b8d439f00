// SPDX-License-Identifier: MIT
// voxel_demo: a simulated voxel game that shows memscope at work. See docs/demo.md.
//
// The frame: the engine streams, simulates and reports its six subsystems; the verdict
// recorder counts the budget's events and the frame's work time; every 60 frames the sampler
// records a point of history (by frame count, not wall time, so a --no-pacing run sees the same
// history as a real-time one); every 300 frames memscope logs its periodic line.

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "memscope/memscope.hpp"
#include "memscope/verdict.hpp"
#include "options.hpp"

namespace {

// Set by SIGINT/SIGTERM; the loop polls it. Nothing else happens in the handler.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_signal(int signal_number) {
    g_stop.store(true, std::memory_order_relaxed);
    // A second Ctrl-C kills the process the usual way, should shutdown ever hang.
    std::signal(signal_number, SIG_DFL);
}

using Clock = std::chrono::steady_clock;
constexpr auto kFramePeriod = std::chrono::nanoseconds(1'000'000'000 / 60);

// Multiplies every budget (and the total) by `factor`, all in one apply().
void scale_budgets(memscope::MemoryBudget& budget, double factor) {
    memscope::BudgetChanges changes;
    auto scaled = [factor](std::size_t bytes) {
        return static_cast<std::size_t>(static_cast<double>(bytes) * factor + 0.5);
    };
    for (const memscope::SubsystemSnapshot& row : budget.snapshot())
        changes.budgets.emplace_back(row.name, scaled(row.memory.budget_bytes));
    changes.total_budget_bytes = scaled(budget.total_budget_bytes());
    budget.apply(changes);
}

// Frame budgets, in allocations per frame, well above a normal run's worst frames (two
// minutes of play, also with --scale-budgets 0.1: Entities 9, Meshes 62, in total 385, a
// sector load or a sample included) and up to Entities' most spawns per frame, so that
// only --churn's bursts break them. The config file's frame_budgets override them.
void set_frame_budgets(memscope::MemoryBudget& budget,
                       const std::vector<memscope::FrameBudgetStatus>& configured) {
    budget.set_frame_budget("Entities", {.max_allocations = 1000});
    budget.set_frame_budget("Meshes", {.max_allocations = 1000});
    budget.set_frame_budget(memscope::kTotalName, {.max_allocations = 2000});
    for (const memscope::FrameBudgetStatus& b : configured)
        budget.set_frame_budget(b.name, b.budget);
}

// The loading screen, as frame 0 with no frame budget in force: it allocates the whole
// first sector at once, which no frame of play may.
void load_world(memscope::MemoryBudget& budget, voxel::Engine& engine) {
    const std::vector<memscope::FrameBudgetStatus> configured = budget.frame_stats().budgets;
    for (const memscope::FrameBudgetStatus& b : configured) budget.set_frame_budget(b.name, {});
    engine.load();
    budget.end_frame(0);
    set_frame_budgets(budget, configured);
}

std::string budget_line(const memscope::MemoryBudget& budget) {
    std::string line;
    for (const memscope::SubsystemSnapshot& row : budget.snapshot()) {
        if (!line.empty()) line += ", ";
        line +=
            row.name + " " +
            (row.memory.budget_bytes ? memscope::format_memory(row.memory.budget_bytes) : "none");
    }
    const std::size_t total = budget.total_budget_bytes();
    return line + "; total " + (total ? memscope::format_memory(total) : "none");
}

// Flags win over the MEMSCOPE_* variables: writing them into the environment lets the
// server apply one set of rules (and validation) to both.
void apply_dashboard_flags(const voxel::DemoOptions& o) {
    if (o.port) setenv("MEMSCOPE_PORT", std::to_string(*o.port).c_str(), 1);
    if (o.bind) setenv("MEMSCOPE_BIND", o.bind->c_str(), 1);
    if (o.token) setenv("MEMSCOPE_TOKEN", o.token->c_str(), 1);
}

// Opens the report file `path` ('-': standard output) into `file`; an empty path opens
// nothing. False, with a message, when it cannot be written.
bool open_report(const std::string& program, const std::string& path, std::FILE*& file) {
    if (path.empty()) return true;
    file = path == "-" ? stdout : std::fopen(path.c_str(), "w");
    if (file == nullptr)
        std::fprintf(stderr, "%s: cannot write the verdict to '%s'\n", program.c_str(),
                     path.c_str());
    return file != nullptr;
}

// Writes `text` into the report opened by open_report() and closes it. False, with a
// message, when it was not written whole.
bool close_report(const std::string& program, const std::string& path, std::FILE* file,
                  const std::string& text) {
    if (file == nullptr) return true;
    bool written = std::fputs(text.c_str(), file) >= 0;
    written = (file == stdout ? std::fflush(stdout) : std::fclose(file)) == 0 && written;
    if (!written)
        std::fprintf(stderr, "%s: could not write the verdict to '%s'\n", program.c_str(),
                     path.c_str());
    return written;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string program = "voxel_demo";
    const voxel::ParsedOptions parsed =
        voxel::parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (!parsed.error.empty()) {
        std::fprintf(stderr, "%s: %s\nTry '%s --help' for the list of options.\n", program.c_str(),
                     parsed.error.c_str(), program.c_str());
        return 2;
    }
    const voxel::DemoOptions& opt = parsed.options;
    if (opt.help) {
        std::fputs(voxel::usage_text(program).c_str(), stdout);
        return 0;
    }
    // Line-buffered even into a pipe or file: scripts wait for the dashboard line.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    // With the verdict on standard output, the demo's own lines go to stderr, so that
    // `--verdict - | jq` reads nothing but the document.
    std::FILE* const out = opt.verdict_path == "-" || opt.junit_path == "-" ? stderr : stdout;

    // Open the report files now, so that a bad path fails in a second, not after the run.
    std::FILE* verdict_file = nullptr;
    std::FILE* junit_file = nullptr;
    if (!open_report(program, opt.verdict_path, verdict_file) ||
        !open_report(program, opt.junit_path, junit_file))
        return 2;

    // Installed before the loading screen, so that Ctrl-C during it still exits cleanly.
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    // Budget time (seconds over threshold and over budget) runs on the simulation's clock:
    // a --no-pacing run then reports the same times as the real-time run it stands for.
    std::atomic<std::uint64_t> sim_frame{0};
    const Clock::time_point sim_epoch = Clock::now();
    memscope::BudgetOptions budget_options;
    budget_options.clock = [&sim_frame, sim_epoch] {
        return sim_epoch + std::chrono::duration_cast<Clock::duration>(
                               kFramePeriod * static_cast<std::int64_t>(sim_frame.load()));
    };
    memscope::MemoryBudget budget(budget_options);
    budget.configure_default_budgets();
    // The file overrides the defaults; the scale applies to whatever is then in force.
    if (!opt.config_path.empty()) {
        const memscope::ConfigResult loaded = memscope::load_config(budget, opt.config_path);
        if (!loaded) {
            std::fprintf(stderr, "%s: --config: %s\n", program.c_str(), loaded.error.c_str());
            return 2;
        }
    }
    if (opt.budget_scale != 1.0) scale_budgets(budget, opt.budget_scale);

    voxel::Engine engine(budget, {.leak_meshes = opt.leak, .churn = opt.churn});
    std::fprintf(out, "%s: loading the first sector...\n", program.c_str());
    load_world(budget, engine);
    std::fprintf(out, "%s: budgets: %s%s\n", program.c_str(), budget_line(budget).c_str(),
                 opt.budget_scale != 1.0 ? " (scaled)" : "");
    if (opt.leak)
        std::fprintf(out, "%s: --leak: edited chunks' meshes will not be freed\n", program.c_str());

    // History for the dashboard's charts and for leak suspicion, sampled by frame count.
    memscope::Sampler sampler(budget);
    sampler.sample_now();

    memscope::VerdictRecorder verdict(budget, {.program = program,
                                               .fail_on_leak = opt.fail_on_leak,
                                               .baseline_path = opt.baseline_path,
                                               .baseline_tolerance = opt.baseline_tolerance});
    if (!verdict.baseline_error().empty()) {
        std::fprintf(stderr, "%s: %s\n", program.c_str(), verdict.baseline_error().c_str());
        return 2;
    }

    apply_dashboard_flags(opt);
    memscope::ServerOptions server_options;
    server_options.sampler = &sampler;
    memscope::Server dashboard(budget, server_options);
    dashboard.set_verdict_provider([&verdict] { return verdict.evaluate().json; });
    // Sector loads and unloads become marks, with their frame: the page's diff then
    // answers "what did entering sector 3 cost?".
    engine.on_milestone(
        [&dashboard](std::string_view name, std::uint64_t frame) { dashboard.mark(name, frame); });
    if (const memscope::StartResult started = dashboard.start(); started) {
        std::fprintf(out, "memscope dashboard: %s\n", started.url.c_str());
    } else if (started.disabled) {
        std::fprintf(out, "memscope dashboard: off (%s)\n", started.error.c_str());
    } else {
        std::fprintf(out, "memscope dashboard: not started: %s; the demo runs on without it\n",
                     started.error.c_str());
    }

    const std::string length = opt.frames ? " " + std::to_string(*opt.frames) + " frames" : "";
    std::fprintf(out, "%s: running%s; Ctrl-C to stop\n", program.c_str(), length.c_str());

    std::uint64_t frame = 0;
    Clock::time_point next_frame = Clock::now();
    const memscope::CpuWaitClock cpu_wait;  // this thread's
    while (!g_stop.load(std::memory_order_relaxed)) {
        // The frame's work, timed without the pacing sleep: what a stall would show in. The
        // time the thread waited for a CPU meanwhile tells a stall from a busy machine.
        const Clock::time_point work_start = Clock::now();
        const std::chrono::nanoseconds wait_start = cpu_wait.now();
        ++frame;
        sim_frame.store(frame);
        engine.step(frame);
        budget.end_frame(frame);
        verdict.poll();
        verdict.set_progress(frame, static_cast<double>(frame) / voxel::Engine::kFrameRate);
        if (frame % 60 == 0) sampler.sample_now();
        memscope::log_periodic_stats(frame);
        verdict.record_frame(frame, Clock::now() - work_start, cpu_wait.now() - wait_start);
        if (opt.frames && frame >= *opt.frames) break;
        if (opt.pacing) {
            next_frame += kFramePeriod;
            const Clock::time_point now = Clock::now();
            // After a stall (a debugger, a suspended terminal) start afresh rather than
            // racing through the missed frames.
            if (now - next_frame > std::chrono::milliseconds(250)) next_frame = now;
            std::this_thread::sleep_until(next_frame);
        }
    }

    if (opt.linger_seconds && !g_stop.load()) {
        const double linger = *opt.linger_seconds;
        const std::string how_long =
            linger > 0 ? "for " + std::to_string(std::lround(linger)) + " s" : "until stopped";
        std::fprintf(out, "%s: finished %llu frames; the dashboard stays up %s (Ctrl-C to exit)\n",
                     program.c_str(), static_cast<unsigned long long>(frame), how_long.c_str());
        const Clock::time_point until =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(*opt.linger_seconds));
        while (!g_stop.load() && (*opt.linger_seconds == 0 || Clock::now() < until))
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }

    std::fprintf(out, "%s: stopping after %llu frames (%.1f s simulated)\n", program.c_str(),
                 static_cast<unsigned long long>(frame),
                 static_cast<double>(frame) / voxel::Engine::kFrameRate);
    dashboard.stop();
    if (const auto times = verdict.frame_times(); times.frames > 0) {
        const auto own = verdict.frame_times_without_cpu_wait();
        std::fprintf(out,
                     "%s: frame work time over %llu frames: mean %.3f ms, p50 %.3f ms, p99 %.3f "
                     "ms, worst %.3f ms (frame %llu); %llu over %.1f ms; less waits for a CPU: "
                     "p99 %.3f ms, worst %.3f ms (frame %llu)\n",
                     program.c_str(), static_cast<unsigned long long>(times.frames), times.mean_ms,
                     times.p50_ms, times.p99_ms, times.worst_ms,
                     static_cast<unsigned long long>(times.worst_frame),
                     static_cast<unsigned long long>(times.over_budget_frames),
                     memscope::FrameTimes::kFrameBudgetMs, own.p99_ms, own.worst_ms,
                     static_cast<unsigned long long>(own.worst_frame));
    }

    int status = 0;
    if (opt.judged()) {
        const memscope::Verdict v = verdict.evaluate();
        for (const std::string& failure : v.failures)
            std::fprintf(stderr, "%s: verdict: %s\n", program.c_str(), failure.c_str());
        for (const std::string& note : v.notes)
            std::fprintf(stderr, "%s: verdict: note: %s\n", program.c_str(), note.c_str());
        std::fprintf(stderr, "%s: verdict: %s\n", program.c_str(), v.pass ? "pass" : "FAIL");
        status = v.exit_code();
        // A CI job must not read "no failure" into a report that is not there.
        const bool json_written = close_report(program, opt.verdict_path, verdict_file, v.json);
        if (!close_report(program, opt.junit_path, junit_file, v.junit_xml()) || !json_written)
            status = 2;
    }
    budget.log_peak_summary();

    // The allocator's own account of each subsystem, against what it reported.
    const auto truth = engine.destroy_and_measure();
    if (!memscope::tracking_enabled()) {
        std::fprintf(out, "ground truth: unavailable (allocation tracking is compiled out)\n");
    } else {
        for (const auto& row : truth) {
            const double diff =
                row.freed == 0
                    ? 0.0
                    : (static_cast<double>(row.reported) - static_cast<double>(row.freed)) /
                          static_cast<double>(row.freed) * 100.0;
            std::fprintf(out, "ground truth: %s reported %zu B, allocator freed %zu B (%+.3f%%)\n",
                         row.name.c_str(), row.reported, row.freed, diff);
        }
    }
    return status;
}

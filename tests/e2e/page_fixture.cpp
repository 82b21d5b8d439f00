// SPDX-License-Identifier: MIT
// The game of the browser test (tests/e2e/page.test.mjs): a real memscope::Server over a
// budget whose figures move like a game's, driven by commands on stdin.
//
//     memscope_page_fixture [--port N] [--interval-ms MS] [--extra N] [--leak-window N]
//                           [--script-start S]
//
// Prints "listening on <url>" once the server listens. Subsystems: the specification's six
// with their default budgets, reported; an unbudgeted "Scripts", both measured (blocks
// allocated under memscope::Scope) and reported with an estimate that is too high; a
// measured "Particles"; and --extra N more ("UI/Atlas 07", ...) to see the page with many
// rows. The figures follow a scripted minute of play: Audio sits over its budget from the
// start, Chunks loads a second level at 12 s (past its warning threshold) and unloads it
// at 40 s, Entities leaks a little every sample (the sampler's leak suspicion fires), the
// others wave. Particles is a real ballast of 8 to 20 MiB, allocated and freed so that
// the allocator's and the process's figures move too. Each frame ends with end_frame();
// Particles and the total have frame budgets that only a `spike` breaks. A C library's
// buffer of 5 MiB, taken with malloc() and held, puts the malloc family in the figures.
//
// Commands, one per line; each is answered "ok <command> <unix ms>" once done:
//   freeze | thaw     stop / resume the clock of the script (figures are still reported)
//   warn <name>       report <name> at 90% of its budget (crosses the warning threshold)
//   over <name>       report <name> at 105% of its budget
//   ramp <name>       rise steadily from the present figure to 99% of the budget in 40 s
//                     (real time, as the sampler's): the sampler forecasts the crossing
//   calm <name>       back to the script's figure
//   leak <name>       mark a baseline, grow 8 MiB, report_unload(): a leak_suspect event
//   spike <name>      the next frame makes kSpikeAllocations allocations in the scope
//                     <name>: past its frame budget and the total's (frame_over_budget)
//   stop | start      stop the server / start it again on the same port
//   quit              (or end of input) stop everything and exit
// Malformed commands are answered "error <why>".

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <memscope/memscope.hpp>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr double kPi = 3.14159265358979323846;
constexpr std::uint64_t kParticlesFrameBudget = 2000;  // allocations per frame
constexpr std::uint64_t kTotalFrameBudget = 4000;
constexpr int kSpikeAllocations = 6000;
constexpr std::size_t kCBufferBytes = 5 * kMiB;  // held through malloc()

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Extra {
    std::string name;
    std::size_t budget;  // 0: unbudgeted
    double base_mib;
    double wave_mib;
    double period_s;
};

// Many subsystems with plausible names, budgets and levels; a few unbudgeted, a few near
// their threshold, deterministic so that screenshots can be compared.
std::vector<Extra> make_extras(int n) {
    static const char* const kGroups[] = {
        "UI/Atlas", "Pool/Particles", "Net/Buffers", "Anim/Clips", "AI/NavMesh",    "Streaming/IO",
        "Decals",   "Foliage/Tiles",  "Save/Slots",  "Lua/Heap",   "Terrain/Cache", "Sound/Banks"};
    std::vector<Extra> out;
    std::uint32_t seed = 12345;
    const auto next = [&seed] {
        seed = seed * 1664525u + 1013904223u;
        return (seed >> 8) & 0xffff;
    };
    for (int i = 0; i < n; ++i) {
        Extra e;
        char name[64];
        std::snprintf(name, sizeof name, "%s %02d", kGroups[i % 12], i / 12 + 1);
        e.name = name;
        const std::size_t budgets[] = {8, 16, 24, 32, 48, 64};
        e.budget = (i % 9 == 4) ? 0 : budgets[next() % 6] * kMiB;
        const double fill = (i % 17 == 3) ? 0.88 : 0.15 + 0.6 * (next() % 1000) / 1000.0;
        e.base_mib = (e.budget ? static_cast<double>(e.budget) / kMiB : 20.0) * fill;
        e.wave_mib = e.base_mib * 0.08;
        e.period_s = 1.0 + 0.25 * static_cast<double>(next() % 6);
        out.push_back(e);
    }
    return out;
}

class Game {
  public:
    Game(memscope::MemoryBudget& budget, int extras, double script_start)
        : budget_(budget), extras_(make_extras(extras)), t_(script_start) {
        budget_.configure_default_budgets();
        budget_.set_budget("Particles", 32 * kMiB);
        // A total budget the six subsystems fill to about two thirds, more with --extra.
        std::size_t total = 2560 * kMiB;
        for (const Extra& e : extras_) {
            if (e.budget) budget_.set_budget(e.name, e.budget);
            total += e.budget ? e.budget : 32 * kMiB;
        }
        budget_.set_total_budget(total);
        budget_.set_frame_budget("Particles", {.max_allocations = kParticlesFrameBudget});
        budget_.set_frame_budget(memscope::kTotalName, {.max_allocations = kTotalFrameBudget});
        report_all();
    }

    // Called every frame (50 ms) by the game thread.
    void frame() {
        std::lock_guard lock(mutex_);
        if (!frozen_) t_ += std::chrono::duration<double>(Clock::now() - last_).count();
        last_ = Clock::now();
        report_all_locked();
        move_ballast();
        move_scripts();
        if (!spike_.empty()) make_spike();
        budget_.end_frame(++frame_);
    }

    std::string command(const std::string& line) {
        std::lock_guard lock(mutex_);
        const auto space = line.find(' ');
        const std::string verb = line.substr(0, space);
        const std::string name = space == std::string::npos ? "" : line.substr(space + 1);
        if (verb == "freeze") {
            frozen_ = true;
        } else if (verb == "spike") {
            if (name.empty()) return "error spike needs a subsystem name";
            spike_ = name;
        } else if (verb == "thaw") {
            frozen_ = false;
        } else if (verb == "warn" || verb == "over" || verb == "calm" || verb == "leak" ||
                   verb == "ramp") {
            const auto sub = budget_.subsystem(name);
            if (!sub) return "error no subsystem '" + name + "'";
            if (verb == "calm") {
                overrides_.erase(name);
                ramps_.erase(name);
            } else if (verb == "ramp") {
                if (sub->budget_bytes == 0) return "error '" + name + "' has no budget";
                ramps_[name] = Ramp{static_cast<double>(sub->current_bytes),
                                    static_cast<double>(sub->budget_bytes), Clock::now()};
            } else if (verb == "leak") {
                budget_.mark_baseline(name);
                overrides_[name] = sub->current_bytes + 8 * kMiB;
            } else {
                if (sub->budget_bytes == 0) return "error '" + name + "' has no budget";
                const double f = verb == "warn" ? 0.90 : 1.05;
                overrides_[name] =
                    static_cast<std::size_t>(static_cast<double>(sub->budget_bytes) * f);
            }
            report_all_locked();  // the crossing has happened when the answer is printed
            if (verb == "leak" && !budget_.report_unload(name)) return "error no leak fired";
        } else {
            return "error unknown command '" + verb + "'";
        }
        return "ok " + line;
    }

  private:
    void report_all() {
        std::lock_guard lock(mutex_);
        report_all_locked();
    }

    void report(const std::string& name, double mib, std::size_t count) {
        const auto o = overrides_.find(name);
        std::size_t bytes =
            o != overrides_.end() ? o->second : static_cast<std::size_t>(std::max(mib, 0.0) * kMiB);
        if (const auto r = ramps_.find(name); r != ramps_.end()) {
            const Ramp& ramp = r->second;
            const double u =
                std::chrono::duration<double>(Clock::now() - ramp.started).count() / 40.0;
            bytes = static_cast<std::size_t>(
                std::min(ramp.from + (ramp.budget - ramp.from) * u, 0.99 * ramp.budget));
        }
        budget_.report(name, bytes, count);
    }

    // 0 to 1 and back within `period` seconds, resting at 0 for a third of it: a load and
    // unload. Each segment of the sampler's leak window (2.5 s by default) sees the rest
    // at 0, so that only a floor that really rises, as Entities', looks like a leak.
    double pulse(double period, double phase = 0.0) const {
        const double u = std::fmod(t_ / period + phase, 1.0);
        if (u < 0.35) return 0.0;
        if (u < 0.5) return (u - 0.35) / 0.15;
        if (u < 0.8) return 1.0;
        if (u < 0.95) return 1.0 - (u - 0.8) / 0.15;
        return 0.0;
    }

    // One minute of play, looping: what each subsystem holds at script time t_.
    void report_all_locked() {
        const double t = std::fmod(t_, 60.0);
        const bool level2 = t >= 12.0 && t < 40.0;
        report("Chunks", (level2 ? 885.0 : 625.0) + 30.0 * pulse(2.0), level2 ? 2900 : 2100);
        report("Meshes", (level2 ? 290.0 : 230.0) + 24.0 * pulse(1.5, 0.3), level2 ? 5400 : 4300);
        report("Textures", level2 ? 405.0 : 380.0, level2 ? 610 : 540);
        report("Entities", 60.0 + 1.4 * t + 4.0 * pulse(1.0),
               18000 + static_cast<std::size_t>(t * 90));
        report("Audio", 131.0, 52);
        report("Physics", 125.0 + 30.0 * pulse(2.5, 0.6), 950);
        // The game's estimate of Scripts; what it holds is measured (move_scripts()).
        report("Scripts", 17.0 + 3.0 * pulse(1.25), 310);
        for (std::size_t i = 0; i < extras_.size(); ++i) {
            const Extra& e = extras_[i];
            // Most hold still, a few load and unload, one leaks slowly.
            double mib = e.base_mib;
            if (i % 5 == 1) mib += e.wave_mib * pulse(e.period_s, 0.1 * static_cast<double>(i % 7));
            if (i == 9) mib += 0.05 * t;
            report(e.name, mib, 10 + e.name.size() * 7);
        }
    }

    // `target_mib` of real memory through operator new in 256 KiB blocks, touched so that
    // it is resident.
    static void hold(std::vector<std::unique_ptr<char[]>>& blocks, double target_mib) {
        const std::size_t count = static_cast<std::size_t>(target_mib * 4);
        while (blocks.size() < count) {
            blocks.emplace_back(new char[256 * 1024]);
            std::memset(blocks.back().get(), 1, 256 * 1024);
        }
        while (blocks.size() > count) blocks.pop_back();
    }

    // The measured Particles: 8 to 20 MiB.
    // Churn: thousands of small blocks allocated and freed within one frame.
    void make_spike() {
        {
            const memscope::Scope scope(spike_);
            std::vector<std::unique_ptr<int>> blocks;
            blocks.reserve(kSpikeAllocations);
            for (int i = 0; i < kSpikeAllocations; ++i) blocks.push_back(std::make_unique<int>(i));
        }
        spike_.clear();
    }

    // Written through, so that it is resident like the ballast.
    static char* make_c_buffer() {
        auto* buffer = static_cast<char*>(std::malloc(kCBufferBytes));
        if (buffer != nullptr) std::memset(buffer, 1, kCBufferBytes);
        return buffer;
    }

    void move_ballast() {
        MEMSCOPE_SCOPE("Particles");
        hold(ballast_, 14.0 + 6.0 * std::sin(2 * kPi * t_ / 9.0));
    }

    // What Scripts really holds: less than it reports, by a few MiB whatever the
    // allocator's size classes add to each block.
    void move_scripts() {
        MEMSCOPE_SCOPE("Scripts");
        hold(scripts_, 10.0 + 2.0 * pulse(1.25));
    }

    memscope::MemoryBudget& budget_;
    std::vector<Extra> extras_;
    double t_ = 0.0;  // script time, seconds
    std::mutex mutex_;
    bool frozen_ = false;
    Clock::time_point last_ = Clock::now();
    std::map<std::string, std::size_t> overrides_;
    struct Ramp {
        double from;    // bytes when the ramp started
        double budget;  // the budget it approaches
        Clock::time_point started;
    };
    std::map<std::string, Ramp> ramps_;
    std::vector<std::unique_ptr<char[]>> ballast_;  // Particles
    std::unique_ptr<char, decltype(&std::free)> c_buffer_{make_c_buffer(), &std::free};
    std::vector<std::unique_ptr<char[]>> scripts_;
    std::uint64_t frame_ = 0;  // the frame number passed to end_frame()
    std::string spike_;        // the subsystem whose next frame spikes, if any
};

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--port N] [--interval-ms MS] [--extra N] [--leak-window N] "
                 "[--script-start S] [--record FILE]\n",
                 argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    int interval_ms = 250;
    int extras = 0;
    int leak_window = 40;
    int script_start = 0;
    std::string record;  // the session's recording, for the page's "Load recording"
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage(argv[0]);
        if (arg == "--record") {
            record = argv[++i];
            continue;
        }
        const int value = std::atoi(argv[++i]);
        if (arg == "--port")
            port = value;
        else if (arg == "--interval-ms")
            interval_ms = value;
        else if (arg == "--extra")
            extras = value;
        else if (arg == "--leak-window")
            leak_window = value;
        else if (arg == "--script-start")
            script_start = value;
        else
            return usage(argv[0]);
    }

    memscope::MemoryBudget budget;
    Game game(budget, extras, script_start);

    memscope::SamplerOptions sampler_options;
    sampler_options.interval = std::chrono::milliseconds(interval_ms);
    sampler_options.leak_window = static_cast<std::size_t>(leak_window);
    memscope::Sampler sampler(budget, sampler_options);
    sampler.start();

    memscope::ServerOptions options;
    options.port = port;
    options.read_environment = false;
    options.sampler = &sampler;
    options.recording.path = record;
    auto server = std::make_unique<memscope::Server>(budget, options);
    memscope::StartResult started = server->start();
    if (!started) {
        std::fprintf(stderr, "memscope_page_fixture: %s\n", started.error.c_str());
        return 1;
    }
    options.port = started.port;  // a restart comes back on the same port
    std::printf("listening on %s\n", started.url.c_str());
    std::fflush(stdout);

    std::atomic<bool> quit{false};
    std::thread game_thread([&] {
        while (!quit) {
            game.frame();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });

    std::string line;
    while (std::getline(std::cin, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty()) continue;
        std::string answer;
        if (line == "quit") break;
        if (line == "stop") {
            server->stop();
            answer = "ok stop";
        } else if (line.rfind("mark ", 0) == 0) {
            // "mark NAME FRAME": the game marks a milestone from code (Server::mark).
            const std::size_t space = line.rfind(' ');
            const std::string name = line.substr(5, space - 5);
            const auto frame = static_cast<std::uint64_t>(std::atoll(line.c_str() + space + 1));
            answer = server->mark(name, frame) ? "ok mark" : "error mark";
        } else if (line == "start") {
            server = std::make_unique<memscope::Server>(budget, options);
            started = server->start();
            answer = started ? "ok start" : "error " + started.error;
        } else {
            answer = game.command(line);
        }
        std::printf("%s %lld\n", answer.c_str(), static_cast<long long>(unix_ms()));
        std::fflush(stdout);
    }
    quit = true;
    game_thread.join();
    server->stop();
    sampler.stop();
    return 0;
}

// SPDX-License-Identifier: MIT
// The leak detector's accuracy: synthetic memory patterns, some leaking and some not, fed
// through a real Sampler (one sample per simulated second, the default 1 s interval) as
// reported rows. Every pattern that does not leak must raise no leak_suspect at all; every
// leaking one must be caught within its stated bound. docs/leaks.md holds the same table;
// MEMSCOPE_LEAK_TABLE=1 prints it.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <memscope/budget.hpp>
#include <memscope/sampler.hpp>

#include "test_support.hpp"

namespace {

using memscope_test::kMiB;

constexpr double kKiB = 1024.0;
constexpr double kBase = 100.0 * kMiB;
constexpr int kSeconds = 600;  // ten minutes: the default history

// 0 at t = 0, 1 half a period later, 0 again after a period.
double wave(double seconds, double period) {
    return 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * seconds / period);
}

// A series: its value at second t, given a generator for noise.
using Series = std::function<double(int t, std::mt19937_64& rng)>;

struct Pattern {
    const char* name;
    bool leaks;
    int bound_seconds;  // a leak must be caught by then (0: must never be suspected)
    Series series;
};

// Uniform noise in [0, amplitude): what reports that move a few blocks at a time look like.
double noise(std::mt19937_64& rng, double amplitude) {
    return std::uniform_real_distribution<double>(0.0, amplitude)(rng);
}

// The soak's subsystems (bench/soak.cpp): each thread's live set follows a triangle wave
// between 2 and 10 MiB with a 5 s period, shifted by its share of the period; it holds
// the target give or take a block of up to 256 KiB, and the sampler's 1 s ticks land a
// few milliseconds early or late.
double soak_thread(double seconds, int thread, int threads) {
    const double phase = static_cast<double>(thread) / threads;
    const double x = std::fmod(seconds / 5.0 + phase, 1.0);
    const double triangle = x < 0.5 ? 2.0 * x : 2.0 - 2.0 * x;
    return 2.0 * kMiB + 8.0 * kMiB * triangle;
}

const std::vector<Pattern>& patterns() {
    static const std::vector<Pattern> all = {
        {"steady", false, 0, [](int, auto& rng) { return kBase + noise(rng, 64 * kKiB); }},
        {"steady, no noise", false, 0, [](int, auto&) { return kBase; }},
        {"white noise of 8 MiB", false, 0,
         [](int, auto& rng) { return kBase + noise(rng, 8 * kMiB); }},
        {"startup load (0 to 100 MiB in 20 s), then steady", false, 0,
         [](int t, auto& rng) { return kBase * std::min(1.0, t / 20.0) + noise(rng, 64 * kKiB); }},
        {"sawtooth: 20 MiB filled over 10 s, released", false, 0,
         [](int t, auto& rng) { return kBase + (t % 10) * 2.0 * kMiB + noise(rng, 64 * kKiB); }},
        {"wave, period 30 s, 50 MiB", false, 0,
         [](int t, auto& rng) { return kBase + 50 * kMiB * wave(t, 30) + noise(rng, 64 * kKiB); }},
        {"wave, period 120 s, 50 MiB", false, 0,
         [](int t, auto& rng) { return kBase + 50 * kMiB * wave(t, 120) + noise(rng, 64 * kKiB); }},
        {"wave, period 300 s, 50 MiB", false, 0,
         [](int t, auto& rng) { return kBase + 50 * kMiB * wave(t, 300) + noise(rng, 64 * kKiB); }},
        {"step up of 50 MiB at 200 s that stays", false, 0,
         [](int t, auto& rng) {
             return kBase + (t >= 200 ? 50 * kMiB : 0) + noise(rng, 64 * kKiB);
         }},
        {"soak subsystem (5 s triangle, 2 to 10 MiB)", false, 0,
         [](int t, auto& rng) {
             const double jitter = std::uniform_real_distribution<double>(-0.05, 0.05)(rng);
             return soak_thread(t + jitter, 0, 8) + noise(rng, 256 * kKiB);
         }},
        {"slow leak, 2 KiB/s", true, 300,
         [](int t, auto& rng) { return kBase + 2 * kKiB * t + noise(rng, 64 * kKiB); }},
        {"slow leak, 16 KiB/s", true, 300,
         [](int t, auto& rng) { return kBase + 16 * kKiB * t + noise(rng, 64 * kKiB); }},
        {"slow leak, 256 KiB/s", true, 300,
         [](int t, auto& rng) { return kBase + 256 * kKiB * t + noise(rng, 64 * kKiB); }},
        {"fast leak, 4 MiB/s", true, 300,
         [](int t, auto& rng) { return kBase + 4 * kMiB * t + noise(rng, 64 * kKiB); }},
        {"leak of 64 KiB/s under a 30 s wave of 16 MiB", true, 300,
         [](int t, auto& rng) {
             return kBase + 64 * kKiB * t + 16 * kMiB * wave(t, 30) + noise(rng, 64 * kKiB);
         }},
        {"leak of 64 KiB/s under the sawtooth", true, 300,
         [](int t, auto& rng) {
             return kBase + 64 * kKiB * t + (t % 10) * 2.0 * kMiB + noise(rng, 64 * kKiB);
         }},
        {"the demo's --leak: 1.6 MiB per 8 s cycle of 20 MiB", true, 60,
         [](int t, auto&) {
             const int cycle = t / 8;
             const int at = t % 8;
             const double load = at >= 4 && at < 7 ? 19.5 * kMiB : 0.0;
             return 20.0 * kMiB + cycle * 1.68 * kMiB + load;
         }},
    };
    return all;
}

struct Outcome {
    std::size_t suspicions = 0;
    std::optional<int> first_second;  // when the first leak_suspect fired
};

std::size_t leak_count(const memscope::MemoryBudget& budget) {
    return static_cast<std::size_t>(budget.event_counts().leak_suspect);
}

memscope::BudgetOptions quiet() {
    memscope::BudgetOptions options;
    options.log_events = false;
    return options;
}

// Samples `subsystems` reported series once per simulated second for `seconds`.
Outcome run(const std::vector<Series>& subsystems, int seconds, std::uint64_t seed) {
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};  // sampled by hand, one call a simulated second
    memscope::Sampler sampler(budget, options);
    std::mt19937_64 rng(seed);
    Outcome outcome;
    for (int t = 0; t < seconds; ++t) {
        for (std::size_t i = 0; i < subsystems.size(); ++i) {
            const double bytes = std::max(0.0, subsystems[i](t, rng));
            budget.report("S" + std::to_string(i), static_cast<std::size_t>(bytes), 1);
        }
        sampler.sample_now();
        const std::size_t n = leak_count(budget);
        if (n > 0 && !outcome.first_second) outcome.first_second = t + 1;
        outcome.suspicions = n;
    }
    return outcome;
}

bool print_table() {
    const char* env = std::getenv("MEMSCOPE_LEAK_TABLE");
    return env != nullptr && *env != '\0' && *env != '0';
}

void print_row(const char* name, bool leaks, const Outcome& o) {
    if (!print_table()) return;
    const std::string when = o.first_second ? std::to_string(*o.first_second) + " s" : "-";
    std::printf("| %s | %s | %zu | %s |\n", name, leaks ? "yes" : "no", o.suspicions, when.c_str());
}

}  // namespace

TEST_CASE("leak patterns: the detector on every synthetic pattern") {
    std::uint64_t seed = 1;
    for (const Pattern& p : patterns()) {
        const Outcome o = run({p.series}, kSeconds, seed++);
        print_row(p.name, p.leaks, o);
        CAPTURE(p.name);
        if (!p.leaks) {
            CHECK(o.suspicions == 0);
            continue;
        }
        // Caught once (a leak that goes on is not announced again), within its bound.
        CHECK(o.suspicions == 1);
        REQUIRE(o.first_second.has_value());
        CHECK(*o.first_second <= p.bound_seconds);
    }
}

TEST_CASE("leak patterns: the soak's eight subsystems for 300 s") {
    std::vector<Series> threads;
    for (int i = 0; i < 8; ++i) {
        threads.push_back([i](int t, std::mt19937_64& rng) {
            const double jitter = std::uniform_real_distribution<double>(-0.05, 0.05)(rng);
            return soak_thread(t + jitter, i, 8) + noise(rng, 256 * kKiB);
        });
    }
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const Outcome o = run(threads, 300, seed);
        print_row("the soak's 8 subsystems, 300 s", false, o);
        CHECK(o.suspicions == 0);
    }
}

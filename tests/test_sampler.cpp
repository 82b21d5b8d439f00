// SPDX-License-Identifier: MIT
// The Sampler: its interval, its background thread, its leak events, and readers running
// beside it.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <memscope/budget.hpp>
#include <memscope/sampler.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using memscope::History;
using memscope::Trend;
using memscope_test::kMiB;
using memscope_test::wait_until;

constexpr std::size_t kKiB = 1024;

// Loads in `period` steps of `step` bytes, then unloads everything in one go; the floor
// (the value at every multiple of `period`) rises by `floor_step` each cycle.
std::vector<std::size_t> sawtooth(std::size_t n, std::size_t base, std::size_t step,
                                  std::size_t period, std::size_t floor_step = 0) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < n; ++i)
        v.push_back(base + (i / period) * floor_step + (i % period) * step);
    return v;
}

// A budget that keeps its events but does not print them.
memscope::BudgetOptions quiet() {
    memscope::BudgetOptions options;
    options.log_events = false;
    return options;
}

std::vector<memscope::BudgetEvent> leak_events(const memscope::MemoryBudget& budget) {
    std::vector<memscope::BudgetEvent> leaks;
    for (const auto& event : budget.events()) {
        if (event.kind == memscope::EventKind::leak_suspect) leaks.push_back(event);
    }
    return leaks;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The Sampler

TEST_CASE("sampler: update() does not sample before the interval") {
    memscope::MemoryBudget budget(quiet());
    budget.report("Chunks", kMiB, 1);

    memscope::SamplerOptions slow;
    slow.interval = std::chrono::hours{1};
    memscope::Sampler sampler(budget, slow);
    for (int i = 0; i < 1000; ++i) CHECK_FALSE(sampler.update());
    CHECK(sampler.history().size() == 0);

    sampler.sample_now();
    CHECK(sampler.history().size() == 1);
    CHECK_FALSE(sampler.update());  // a sample by hand restarts the interval
    const auto sample = sampler.history().latest();
    REQUIRE(sample.has_value());
    CHECK(sample->subsystem_bytes == std::vector<std::size_t>{kMiB});
    CHECK(sample->reported_bytes == kMiB);
    CHECK(sample->unix_ms > 0);

    memscope::SamplerOptions fast;
    fast.interval = 5ms;
    memscope::Sampler quick(budget, fast);
    CHECK(wait_until([&] { return quick.update(); }));
    CHECK(quick.history().size() == 1);
}

TEST_CASE("sampler: options are sanitised") {
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions odd;
    odd.interval = 0ms;
    odd.capacity = 20;
    odd.leak_window = 60;
    memscope::Sampler sampler(budget, odd);
    CHECK(sampler.options().interval == 1ms);
    CHECK(sampler.options().leak_window == 20);
    CHECK(sampler.history().capacity() == 20);
}

TEST_CASE("sampler: a leaking subsystem raises exactly one leak_suspect event") {
    memscope::MemoryBudget budget(quiet());
    budget.set_budget("Meshes", 512 * kMiB);
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};  // sampled by hand
    options.capacity = 120;
    memscope::Sampler sampler(budget, options);

    const auto audio = sawtooth(300, 20 * kMiB, 2 * kMiB, 10);
    for (std::size_t i = 0; i < 300; ++i) {
        budget.report("Meshes", 100 * kMiB + i * 64 * kKiB, i);  // leaks 64 KiB per sample
        budget.report("Audio", audio[i], 1);                     // loads and unloads
        budget.report("Physics", 30 * kMiB, 1);                  // flat
        sampler.sample_now();
    }
    const auto leaks = leak_events(budget);
    REQUIRE(leaks.size() == 1);
    const auto& leak = leaks.front();
    CHECK(leak.subsystem == "Meshes");
    CHECK(leak.level == memscope::LogLevel::warning);
    CHECK(leak.budget_bytes == 512 * kMiB);
    // A climb without releases is a leak once it fills the long window (300 samples,
    // here the capacity: 120): at the 120th sample.
    CHECK(leak.current_bytes == 100 * kMiB + 119 * 64 * kKiB);
    CHECK(leak.slope_bytes_per_second > 0.0);
    CHECK(leak.message.rfind("Subsystem 'Meshes' suspected leak: its memory floor rose ", 0) == 0);
    CHECK(leak.message.find(" over the last ") != std::string::npos);
    CHECK(leak.message.find("/s)") != std::string::npos);

    CHECK(sampler.analyze_trend("Meshes").trend == Trend::increasing);
    CHECK(sampler.analyze_trend("Physics").trend == Trend::stable);
}

TEST_CASE("sampler: a sawtooth whose troughs climb is a suspect within the short window") {
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};
    memscope::Sampler sampler(budget, options);
    // Loads 20 MiB for 4 of every 8 samples; each unload leaves 1.5 MiB behind.
    for (std::size_t i = 0; i < 100; ++i) {
        const std::size_t load = i % 8 >= 4 ? 20 * kMiB : 0;
        budget.report("Meshes", 20 * kMiB + (i / 8) * 1536 * kKiB + load, 1);
        sampler.sample_now();
        if (i + 1 < 60) REQUIRE(leak_events(budget).empty());
    }
    // The short window (60 samples) shows it as soon as it is full.
    REQUIRE(leak_events(budget).size() == 1);
    CHECK(leak_events(budget).front().current_bytes == 20 * kMiB + 7 * 1536 * kKiB);
}

TEST_CASE("sampler: the leak event re-arms only after the series stops looking like a leak") {
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};
    options.capacity = 100;
    options.leak_window = 20;
    memscope::Sampler sampler(budget, options);

    std::size_t bytes = 10 * kMiB;
    const auto run = [&](int samples, std::size_t step) {
        for (int i = 0; i < samples; ++i) {
            bytes += step;
            budget.report("Textures", bytes, 1);
            sampler.sample_now();
        }
    };
    run(100, 32 * kKiB);  // leaks: one event
    CHECK(leak_events(budget).size() == 1);
    run(100, 0);  // stops: the window flattens, and the subsystem re-arms silently
    CHECK(leak_events(budget).size() == 1);
    run(100, 32 * kKiB);  // leaks again: a second event
    CHECK(leak_events(budget).size() == 2);
}

TEST_CASE("sampler: leak detection can be turned off") {
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};
    options.detect_leaks = false;
    memscope::Sampler sampler(budget, options);
    for (std::size_t i = 0; i < 200; ++i) {
        budget.report("Meshes", i * 64 * kKiB, i);
        sampler.sample_now();
    }
    CHECK(leak_events(budget).empty());
}

TEST_CASE("sampler: the background thread samples and stops on request") {
    memscope::MemoryBudget budget(quiet());
    budget.report("Chunks", kMiB, 1);
    memscope::SamplerOptions options;
    options.interval = 5ms;
    memscope::Sampler sampler(budget, options);

    CHECK_FALSE(sampler.running());
    sampler.start();
    sampler.start();  // no-op while running
    CHECK(sampler.running());
    CHECK(wait_until([&] { return sampler.history().size() >= 3; }));
    sampler.stop();
    CHECK_FALSE(sampler.running());
    sampler.stop();  // no-op when stopped

    // Stopped means stopped: no sample arrives afterwards.
    const std::size_t taken = sampler.history().size();
    std::this_thread::sleep_for(50ms);
    CHECK(sampler.history().size() == taken);

    // It can start again.
    sampler.start();
    CHECK(wait_until([&] { return sampler.history().size() > taken; }));
    sampler.stop();
}

TEST_CASE("sampler: stop() wakes a thread that waits a long interval") {
    // With a sleep loop this would hang for an hour (and the test time out); the thread
    // waits on a condition variable, so stop() and the destructor return at once.
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};
    {
        memscope::Sampler sampler(budget, options);
        sampler.start();
        CHECK(sampler.running());
        // Let the thread reach its wait (if it has not, stop() is trivially quick; the
        // pause makes the test exercise the wake-up, it asserts nothing about time).
        std::this_thread::sleep_for(50ms);
        sampler.stop();
        CHECK_FALSE(sampler.running());
        CHECK(sampler.history().size() == 0);
    }
    {
        memscope::Sampler sampler(budget, options);
        sampler.start();
        std::this_thread::sleep_for(50ms);
    }  // the destructor stops it
    CHECK(true);
}

TEST_CASE("sampler: one thread samples while others report and read") {
    memscope::MemoryBudget budget(quiet());
    memscope::SamplerOptions options;
    options.interval = 1ms;
    options.capacity = 64;
    options.leak_window = 16;
    memscope::Sampler sampler(budget, options);
    const History& history = sampler.history();

    std::atomic<bool> done{false};
    std::thread reporter([&] {
        for (std::size_t i = 0; !done.load(); ++i) {
            budget.report("Chunks", 100 * kMiB + (i % 1000) * kKiB, i);
            // New subsystems keep appearing, so samples keep getting longer.
            budget.report("Dynamic " + std::to_string(i % 40), i * 16, 1);
            if (i % 64 == 0) std::this_thread::yield();
        }
    });

    bool in_order = true;
    bool lengths_grow = true;
    std::size_t seen = 0;
    std::thread reader([&] {
        std::uint64_t last = 0;
        std::size_t last_length = 0;
        while (!done.load()) {
            for (const memscope::Sample& s : history.since(last)) {
                in_order = in_order && s.sequence > last;
                lengths_grow = lengths_grow && s.subsystem_bytes.size() >= last_length;
                last = s.sequence;
                last_length = s.subsystem_bytes.size();
                ++seen;
            }
            (void)history.analyze_trend();
            (void)history.analyze_trend("Chunks", 1024.0, 8);
            (void)history.latest();
            (void)history.subsystem_names();
            (void)history.footprint_bytes();
            (void)sampler.analyze_trend("Dynamic 3");
            (void)budget.events();
        }
    });

    sampler.start();
    // The game's own update() runs beside the background thread, a thousand times a second.
    CHECK(wait_until(
        [&] {
            (void)sampler.update();
            const auto newest = history.latest();
            return newest && newest->sequence >= 200;
        },
        30s, 1ms));
    sampler.stop();
    done.store(true);
    reporter.join();
    reader.join();

    CHECK(in_order);
    CHECK(lengths_grow);
    CHECK(seen > 0);
    CHECK(history.size() == 64);
    const auto samples = history.since();
    for (std::size_t i = 1; i < samples.size(); ++i)
        CHECK(samples[i].sequence == samples[i - 1].sequence + 1);
}

// SPDX-License-Identifier: MIT
// MemoryBudget: the specification's tests, events once per crossing, pressure callbacks,
// time over budget, baselines, and concurrent use.

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <memscope/budget.hpp>
#include <memscope/format.hpp>
#include <memscope/log.hpp>

#include "test_support.hpp"

using memscope::BudgetEvent;
using memscope::EventKind;
using memscope::MemoryBudget;
using memscope::MemoryStatus;
using memscope::PressureEvent;
using memscope_test::LogCapture;

namespace {

constexpr std::size_t kMB = 1024 * 1024;

// A clock the test moves by hand.
struct ManualClock {
    std::chrono::steady_clock::time_point now =
        std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    void advance(double seconds) {
        now += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(seconds));
    }
};

std::vector<BudgetEvent> events_of(const MemoryBudget& b, EventKind kind) {
    std::vector<BudgetEvent> out;
    for (auto& e : b.events())
        if (e.kind == kind) out.push_back(e);
    return out;
}

}  // namespace

// ---- The specification's tests -------------------------------------------------------

TEST_CASE("test_per_subsystem_tracking_accurate") {
    MemoryBudget budget;
    budget.report("Chunks", 500'000'000, 200);
    auto chunks = budget.subsystem("Chunks");
    REQUIRE(chunks);
    CHECK(chunks->current_bytes == 500'000'000);
    CHECK(chunks->allocation_count == 200);
    budget.report("Chunks", 450'000'000, 180);
    chunks = budget.subsystem("Chunks");
    CHECK(chunks->current_bytes == 450'000'000);
    CHECK(chunks->allocation_count == 180);
    CHECK(chunks->peak_bytes == 500'000'000);
}

TEST_CASE("test_peak_tracks_maximum") {
    MemoryBudget budget;
    budget.report("Meshes", 100 * kMB, 1);
    budget.report("Meshes", 200 * kMB, 1);
    budget.report("Meshes", 150 * kMB, 1);
    CHECK(budget.subsystem("Meshes")->peak_bytes == 200 * kMB);
    budget.report("Meshes", 300 * kMB, 1);
    CHECK(budget.subsystem("Meshes")->peak_bytes == 300 * kMB);
    budget.report("Meshes", 250 * kMB, 1);
    CHECK(budget.subsystem("Meshes")->peak_bytes == 300 * kMB);
}

TEST_CASE("test_warning_triggers_near_budget") {
    MemoryBudget budget;
    budget.set_warning_threshold(0.85f);
    budget.set_budget("Textures", 512 * kMB);
    budget.report("Textures", 400 * kMB, 1);  // 78%
    CHECK_FALSE(budget.is_over_budget("Textures"));
    budget.report("Textures", 440 * kMB, 1);  // 86%
    CHECK(budget.is_over_budget("Textures"));
    budget.report("Textures", 435 * kMB, 1);  // 84.9%
    CHECK_FALSE(budget.is_over_budget("Textures"));
}

TEST_CASE("test_display_shows_correct_values") {
    MemoryBudget budget;
    budget.report("Chunks", 123'456'789, 10);
    budget.report("Audio", 7'654'321, 3);
    CHECK(budget.total_current() == 123'456'789 + 7'654'321);
    CHECK(memscope::format_memory(1'073'741'824) == "1.00 GB");
    CHECK(memscope::format_memory(5'242'880) == "5.0 MB");
    CHECK(memscope::format_memory(2048) == "2.0 KB");
    CHECK(memscope::format_memory(500) == "500 B");
}

TEST_CASE("test_zero_budget_no_warning") {
    LogCapture log;
    MemoryBudget budget;
    budget.report("Audio", 100 * kMB, 5);
    CHECK_FALSE(budget.is_over_budget("Audio"));
    CHECK(budget.status("Audio").status == MemoryStatus::unbudgeted);
    CHECK(budget.events().empty());
}

// ---- Contract details ----------------------------------------------------------------

TEST_CASE("configure_default_budgets sets the specification's budgets") {
    MemoryBudget budget;
    budget.configure_default_budgets();
    CHECK(budget.subsystem("Chunks")->budget_bytes == 1024 * kMB);
    CHECK(budget.subsystem("Meshes")->budget_bytes == 512 * kMB);
    CHECK(budget.subsystem("Textures")->budget_bytes == 512 * kMB);
    CHECK(budget.subsystem("Entities")->budget_bytes == 256 * kMB);
    CHECK(budget.subsystem("Audio")->budget_bytes == 128 * kMB);
    CHECK(budget.subsystem("Physics")->budget_bytes == 256 * kMB);
    CHECK(budget.total_budget_bytes() == 4096 * kMB);
    CHECK(budget.warning_threshold() == doctest::Approx(0.85));
}

TEST_CASE("is_over_budget is strictly greater than budget * threshold") {
    MemoryBudget budget;
    budget.set_warning_threshold(0.5f);
    budget.set_budget("X", 1000);
    budget.report("X", 500, 1);
    CHECK_FALSE(budget.is_over_budget("X"));
    budget.report("X", 501, 1);
    CHECK(budget.is_over_budget("X"));
    CHECK_FALSE(budget.is_over_budget("unknown"));
}

TEST_CASE("status reports ok, warning, over budget with the overage, and unbudgeted") {
    MemoryBudget budget;
    budget.set_budget("Physics", 100 * kMB);
    budget.report("Physics", 50 * kMB, 1);
    CHECK(budget.status("Physics").status == MemoryStatus::ok);
    budget.report("Physics", 90 * kMB, 1);
    CHECK(budget.status("Physics").status == MemoryStatus::warning);
    CHECK(budget.status("Physics").overage_bytes == 0);
    budget.report("Physics", 130 * kMB, 1);
    const auto s = budget.status("Physics");
    CHECK(s.status == MemoryStatus::over_budget);
    CHECK(s.overage_bytes == static_cast<std::int64_t>(30 * kMB));
    CHECK(s.usage == doctest::Approx(1.3));
    CHECK(budget.status("Nobody").status == MemoryStatus::unbudgeted);
    CHECK(memscope::to_string(MemoryStatus::over_budget) == "over_budget");
}

TEST_CASE("the warning event carries the specification's message") {
    LogCapture log;
    MemoryBudget budget;
    budget.set_budget("Chunks", 1024 * kMB);
    budget.report("Chunks", 890 * kMB, 10);
    const auto warnings = events_of(budget, EventKind::warning);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].message == "Subsystem 'Chunks' at 87% of memory budget (890 MB / 1024 MB)");
    CHECK(warnings[0].level == memscope::LogLevel::warning);
    CHECK(warnings[0].subsystem == "Chunks");
    CHECK(log.count("Subsystem 'Chunks' at 87% of memory budget (890 MB / 1024 MB)") == 1);
}

TEST_CASE("events fire once per crossing, not once per frame, and re-arm below the hysteresis") {
    LogCapture log;
    MemoryBudget budget;  // threshold 85%, hysteresis 2%
    budget.set_budget("Chunks", 1000 * kMB);
    for (int frame = 0; frame < 100; ++frame) budget.report("Chunks", 900 * kMB, 1);
    CHECK(events_of(budget, EventKind::warning).size() == 1);

    budget.report("Chunks", 840 * kMB, 1);  // 84%: under the threshold, inside the hysteresis
    budget.report("Chunks", 860 * kMB, 1);  // back over: not re-armed, no new warning
    CHECK(events_of(budget, EventKind::warning).size() == 1);
    CHECK(events_of(budget, EventKind::recovered).empty());

    budget.report("Chunks", 820 * kMB, 1);  // 82%: below 83%, re-armed and recovered
    CHECK(events_of(budget, EventKind::recovered).size() == 1);
    budget.report("Chunks", 860 * kMB, 1);
    CHECK(events_of(budget, EventKind::warning).size() == 2);
    CHECK(log.count("at 86% of memory budget") == 1);
}

TEST_CASE("passing 100% fires one error saying by how much") {
    LogCapture log;
    MemoryBudget budget;
    budget.set_budget("Meshes", 512 * kMB);
    budget.report("Meshes", 450 * kMB, 1);  // warning
    budget.report("Meshes", 550 * kMB, 1);  // over
    for (int i = 0; i < 50; ++i) budget.report("Meshes", 560 * kMB, 1);
    const auto over = events_of(budget, EventKind::over_budget);
    REQUIRE(over.size() == 1);
    CHECK(over[0].level == memscope::LogLevel::error);
    CHECK(over[0].message ==
          "Subsystem 'Meshes' over memory budget by 38 MB, 107% (550 MB / 512 MB)");
    // Falling to 99% does not re-arm the error (hysteresis), falling to 97% does.
    budget.report("Meshes", static_cast<std::size_t>(0.99 * 512 * kMB), 1);
    budget.report("Meshes", 520 * kMB, 1);
    CHECK(events_of(budget, EventKind::over_budget).size() == 1);
    budget.report("Meshes", static_cast<std::size_t>(0.97 * 512 * kMB), 1);
    budget.report("Meshes", 520 * kMB, 1);
    CHECK(events_of(budget, EventKind::over_budget).size() == 2);
    CHECK(events_of(budget, EventKind::warning).size() == 1);  // never fell below 83%
}

TEST_CASE("a jump from ok straight over budget fires only the error") {
    MemoryBudget budget;
    budget.set_budget("Audio", 100 * kMB);
    budget.report("Audio", 10 * kMB, 1);
    budget.report("Audio", 150 * kMB, 1);
    CHECK(events_of(budget, EventKind::over_budget).size() == 1);
    CHECK(events_of(budget, EventKind::warning).empty());
}

TEST_CASE("the total budget warns and errs like a subsystem") {
    LogCapture log;
    MemoryBudget budget;
    budget.set_total_budget(1000 * kMB);
    budget.report("A", 500 * kMB, 1);
    budget.report("B", 360 * kMB, 1);  // total 86%
    auto warnings = events_of(budget, EventKind::warning);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].subsystem == memscope::kTotalName);
    CHECK(warnings[0].message == "Total memory at 86% of total memory budget (860 MB / 1000 MB)");
    budget.report("A", 700 * kMB, 1);  // total 106%
    CHECK(events_of(budget, EventKind::over_budget).size() == 1);
    const auto totals = budget.totals();
    CHECK(totals.current_bytes == 1060 * kMB);
    CHECK(totals.status == MemoryStatus::over_budget);
    CHECK(totals.subsystem_count == 2);
    CHECK(budget.status(memscope::kTotalName).overage_bytes == static_cast<std::int64_t>(60 * kMB));
}

TEST_CASE("a budget lowered under the current figure warns at once") {
    MemoryBudget budget;
    budget.report("Entities", 200 * kMB, 1);
    CHECK(budget.events().empty());
    budget.set_budget("Entities", 100 * kMB);
    CHECK(events_of(budget, EventKind::over_budget).size() == 1);
}

TEST_CASE("the event list is bounded, numbered, and filterable by sequence") {
    memscope::BudgetOptions options;
    options.event_capacity = 4;
    options.log_events = false;
    MemoryBudget budget(options);
    budget.set_budget("S", 100);
    for (int i = 0; i < 10; ++i) {
        budget.report("S", 99, 1);  // warning
        budget.report("S", 10, 1);  // recovered
    }
    const auto all = budget.events();
    REQUIRE(all.size() == 4);
    CHECK(budget.last_event_sequence() == 20);
    CHECK(all.front().sequence == 17);
    CHECK(all.back().sequence == 20);
    const auto newer = budget.events(18);
    REQUIRE(newer.size() == 2);
    CHECK(newer[0].sequence == 19);
    CHECK(budget.events(20).empty());
}

TEST_CASE("snapshot is sorted and handles 500 subsystems") {
    MemoryBudget budget;
    for (int i = 499; i >= 0; --i) {
        const std::string name = "Subsystem" + std::to_string(1000 + i);
        budget.set_budget(name, 1000);
        budget.report(name, static_cast<std::size_t>(i), 1);
    }
    const auto rows = budget.snapshot();
    REQUIRE(rows.size() == 500);
    CHECK(rows.front().name == "Subsystem1000");
    CHECK(rows.back().name == "Subsystem1499");
    CHECK(rows[10].memory.current_bytes == 10);
    CHECK(rows[10].usage == doctest::Approx(0.01));
    CHECK(budget.total_current() == 499 * 500 / 2);
}

// ---- Pressure callbacks --------------------------------------------------------------

TEST_CASE("pressure callbacks are called on transitions with the figures") {
    MemoryBudget budget;
    budget.set_budget("Chunks", 1000);
    std::vector<PressureEvent> seen;
    std::vector<std::string> names;
    budget.on_pressure("Chunks", [&](const PressureEvent& e) {
        seen.push_back(e);
        names.emplace_back(e.subsystem);
    });
    int other_calls = 0;
    budget.on_pressure("Meshes", [&](const PressureEvent&) { ++other_calls; });

    budget.report("Chunks", 500, 1);   // ok: no transition
    budget.report("Chunks", 900, 1);   // into warning
    budget.report("Chunks", 950, 1);   // still warning
    budget.report("Chunks", 1100, 1);  // into over budget
    budget.report("Chunks", 100, 1);   // back to ok
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].status == MemoryStatus::warning);
    CHECK(seen[0].previous == MemoryStatus::ok);
    CHECK(seen[0].current_bytes == 900);
    CHECK(seen[0].budget_bytes == 1000);
    CHECK(seen[0].usage == doctest::Approx(0.9));
    CHECK(seen[1].status == MemoryStatus::over_budget);
    CHECK(seen[2].status == MemoryStatus::ok);
    CHECK(seen[2].previous == MemoryStatus::over_budget);
    CHECK(names == std::vector<std::string>{"Chunks", "Chunks", "Chunks"});
    CHECK(other_calls == 0);
}

TEST_CASE("a callback may free memory and report again without deadlock") {
    MemoryBudget budget;
    budget.set_budget("Chunks", 1000);
    std::size_t loaded = 0;
    int calls = 0;
    budget.on_pressure("Chunks", [&](const PressureEvent& e) {
        ++calls;
        if (e.status == MemoryStatus::over_budget) {
            loaded = 400;                        // unload distant chunks...
            budget.report("Chunks", loaded, 4);  // ...and say so, from inside the callback
            CHECK(budget.status("Chunks").status == MemoryStatus::ok);
            CHECK(budget.total_current() == 400);
        }
    });
    loaded = 1200;
    budget.report("Chunks", loaded, 12);
    CHECK(budget.subsystem("Chunks")->current_bytes == 400);
    CHECK(calls == 2);  // into over budget, then back to ok from the nested report
}

TEST_CASE("catch-all callbacks, unregistering, and a throwing callback") {
    LogCapture log;
    MemoryBudget budget;
    budget.set_budget("A", 100);
    budget.set_budget("B", 100);
    int any_calls = 0;
    int good_calls = 0;
    const auto any = budget.on_any_pressure([&](const PressureEvent&) { ++any_calls; });
    budget.on_pressure("A", [](const PressureEvent&) { throw std::runtime_error("boom"); });
    budget.on_pressure("A", [&](const PressureEvent&) { ++good_calls; });
    budget.report("A", 90, 1);
    budget.report("B", 90, 1);
    CHECK(any_calls == 2);
    CHECK(good_calls == 1);  // still called after the throwing one
    CHECK(log.count("pressure callback for 'A' threw: boom") == 1);
    CHECK(budget.remove_pressure_callback(any));
    CHECK_FALSE(budget.remove_pressure_callback(any));
    budget.report("B", 10, 1);
    CHECK(any_calls == 2);
}

TEST_CASE("simulate_pressure calls the callbacks without changing anything") {
    MemoryBudget budget;
    budget.set_budget("Textures", 1000);
    budget.report("Textures", 100, 1);
    std::vector<PressureEvent> seen;
    budget.on_pressure("Textures", [&](const PressureEvent& e) { seen.push_back(e); });
    CHECK(budget.simulate_pressure("Textures", MemoryStatus::over_budget) == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].simulated);
    CHECK(seen[0].status == MemoryStatus::over_budget);
    CHECK(seen[0].current_bytes == 100);
    CHECK(budget.events().empty());
    CHECK(budget.status("Textures").status == MemoryStatus::ok);
}

// ---- Time over budget, peaks, baselines ----------------------------------------------

TEST_CASE("time over the threshold and over budget is accounted per subsystem") {
    ManualClock clock;
    memscope::BudgetOptions options;
    options.clock = [&] { return clock.now; };
    options.log_events = false;
    MemoryBudget budget(options);
    budget.set_budget("Chunks", 1000);
    budget.report("Chunks", 100, 1);
    clock.advance(10);
    budget.report("Chunks", 900, 1);  // warning from here
    clock.advance(5);
    budget.report("Chunks", 1200, 1);  // over budget from here
    clock.advance(3);
    budget.report("Chunks", 100, 1);  // ok again
    clock.advance(100);
    auto rows = budget.snapshot();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].seconds_over_threshold == doctest::Approx(8.0));
    CHECK(rows[0].seconds_over_budget == doctest::Approx(3.0));
    CHECK(rows[0].warnings == 2);
    // A subsystem that stays over budget keeps accruing without reporting.
    budget.report("Chunks", 2000, 1);
    clock.advance(7);
    rows = budget.snapshot();
    CHECK(rows[0].seconds_over_budget == doctest::Approx(10.0));
}

TEST_CASE("window peaks restart, all-time peaks only rise") {
    MemoryBudget budget;
    budget.report("Meshes", 300, 1);
    budget.report("Meshes", 100, 1);
    budget.reset_window_peaks();
    budget.report("Meshes", 150, 1);
    const auto rows = budget.snapshot();
    CHECK(rows[0].window_peak_bytes == 150);
    CHECK(rows[0].memory.peak_bytes == 300);
}

TEST_CASE("a subsystem that does not return to its baseline after an unload is a leak suspect") {
    LogCapture log;
    MemoryBudget budget;
    budget.report("Meshes", 10 * kMB, 1);
    budget.mark_baseline("Meshes");
    budget.report("Meshes", 50 * kMB, 1);         // level loaded
    budget.report("Meshes", 10 * kMB + 1000, 1);  // unloaded, within tolerance
    CHECK_FALSE(budget.report_unload("Meshes"));
    budget.report("Meshes", 22 * kMB, 1);  // 12 MB never came back
    CHECK(budget.report_unload("Meshes"));
    const auto leaks = events_of(budget, EventKind::leak_suspect);
    REQUIRE(leaks.size() == 1);
    CHECK(leaks[0].message.find("Subsystem 'Meshes' suspected leak") == 0);
    CHECK(leaks[0].message.find("12.0 MB above it") != std::string::npos);
    CHECK_FALSE(budget.report_unload("NeverMarked"));
}

TEST_CASE("the peak summary names every subsystem against its budget") {
    LogCapture log;
    MemoryBudget budget;
    budget.configure_default_budgets();
    budget.report("Chunks", 900 * kMB, 1);
    budget.report("Chunks", 100 * kMB, 1);
    budget.log_peak_summary();
    CHECK(log.count("Peak memory of Chunks: 900.0 MB of 1.00 GB (88%)") == 1);
    CHECK(log.count("Peak memory of Audio: 0 B of 128.0 MB (0%)") == 1);
    CHECK(log.count("Peak memory of all subsystems: 900.0 MB of 4.00 GB") == 1);
}

// ---- Threads -------------------------------------------------------------------------

TEST_CASE("game threads report while another thread reads") {
    memscope::BudgetOptions options;
    options.log_events = false;
    MemoryBudget budget(options);
    budget.set_budget("S0", 1000);
    budget.set_total_budget(4000);
    std::atomic<bool> stop{false};
    std::atomic<int> callbacks{0};
    budget.on_any_pressure([&](const PressureEvent&) { callbacks.fetch_add(1); });
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
        writers.emplace_back([&, t] {
            const std::string name = "S" + std::to_string(t);
            for (int i = 0; i < 20000; ++i)
                budget.report(name, static_cast<std::size_t>(i % 1200), 1);
        });
    }
    std::thread reader([&] {
        while (!stop.load()) {
            const auto rows = budget.snapshot();
            const auto ev = budget.events();
            const auto totals = budget.totals();
            CHECK(rows.size() <= 4);
            (void)ev;
            (void)totals;
        }
    });
    for (auto& w : writers) w.join();
    stop.store(true);
    reader.join();
    CHECK(budget.total_current() == 4 * (19999 % 1200));
    CHECK(callbacks.load() > 0);
}

TEST_CASE("wait_for_event wakes when an event fires") {
    MemoryBudget budget;
    budget.set_budget("X", 100);
    std::thread fire([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        budget.report("X", 99, 1);
    });
    const auto seq = budget.wait_for_event(0, std::chrono::seconds(10));
    fire.join();
    CHECK(seq == 1);
    CHECK(budget.wait_for_event(1, std::chrono::milliseconds(1)) == 1);  // times out
}

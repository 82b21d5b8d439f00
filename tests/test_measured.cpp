// SPDX-License-Identifier: MIT
// Measured rows: a tag of a subsystem's name feeds its MemoryBudget row through update(),
// with the same warnings, callbacks, peaks, timers and leak checks as a reported row.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <memscope/allocator.hpp>
#include <memscope/budget.hpp>
#include <memscope/history.hpp>
#include <memscope/sampler.hpp>
#include <memscope/scope.hpp>

#include "test_support.hpp"

using memscope::EventKind;
using memscope::MemoryBudget;
using memscope::MemoryStatus;
using memscope::PressureEvent;
using memscope::Scope;
using memscope::SubsystemSource;
using memscope_test::LogCapture;

namespace {

constexpr std::size_t kMB = 1024 * 1024;

// A block allocated under `tag`, held until reset. The pointer escapes to the optimiser,
// which may otherwise drop a new/delete pair whose memory is never used.
std::unique_ptr<char[]> allocate_in(const char* tag, std::size_t bytes) {
    const Scope s(tag);
    char* p = new char[bytes];
    asm volatile("" : : "r"(p) : "memory");
    return std::unique_ptr<char[]>(p);
}

// `count` blocks of 65520 bytes under `tag`: each one exactly 65520 counted bytes (a 64 KiB
// allocator block less memscope's 16-byte header), so the total is known in advance.
std::vector<std::unique_ptr<char[]>> allocate_blocks(const char* tag, std::size_t count) {
    std::vector<std::unique_ptr<char[]>> blocks;
    blocks.reserve(count);
    for (std::size_t i = 0; i < count; ++i) blocks.push_back(allocate_in(tag, 65520));
    return blocks;
}

std::size_t usable(const std::unique_ptr<char[]>& p) {
    return memscope::usable_size(p.get());
}

const memscope::SubsystemSnapshot* row(const std::vector<memscope::SubsystemSnapshot>& rows,
                                       const std::string& name) {
    for (const auto& r : rows)
        if (r.name == name) return &r;
    return nullptr;
}

}  // namespace

TEST_CASE(
    "update() raises the seeds' warning once per crossing and calls back, from measured bytes") {
    if (!memscope::tracking_enabled()) {
        MemoryBudget budget;
        budget.update();
        CHECK(budget.snapshot().empty());
        return;
    }
    LogCapture log;
    MemoryBudget budget;
    budget.set_budget("MeasuredWarn", 100 * kMB);
    std::vector<PressureEvent> seen;
    budget.on_pressure("MeasuredWarn", [&](const PressureEvent& e) { seen.push_back(e); });

    // 1440 x 65520 B = 89.98 MiB: "90 MB", 90%.
    auto blocks = allocate_blocks("MeasuredWarn", 1440);
    std::size_t held = 0;
    for (const auto& b : blocks) held += usable(b);
    CHECK(held == 1440 * 65520);
    budget.update();
    const auto warnings = budget.events();
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].kind == EventKind::warning);
    CHECK(warnings[0].message ==
          "Subsystem 'MeasuredWarn' at 90% of memory budget (90 MB / 100 MB)");
    CHECK(log.count("Subsystem 'MeasuredWarn' at 90% of memory budget (90 MB / 100 MB)") == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].status == MemoryStatus::warning);
    CHECK(seen[0].current_bytes == held);
    CHECK(budget.is_over_budget("MeasuredWarn"));
    CHECK(budget.status("MeasuredWarn").current_bytes == held);

    budget.update();  // same crossing: nothing new
    budget.update();
    CHECK(budget.events().size() == 1);
    CHECK(seen.size() == 1);

    auto more = allocate_blocks("MeasuredWarn", 320);  // 109.97 MiB: past 100%
    budget.update();
    REQUIRE(budget.events().size() == 2);
    CHECK(budget.events()[1].kind == EventKind::over_budget);
    CHECK(seen.size() == 2);
    CHECK(seen[1].status == MemoryStatus::over_budget);

    blocks.clear();
    more.clear();
    budget.update();
    REQUIRE(budget.events().size() == 3);
    CHECK(budget.events()[2].kind == EventKind::recovered);
    CHECK(seen.back().status == MemoryStatus::ok);
    const auto rows = budget.snapshot();
    const auto* r = row(rows, "MeasuredWarn");
    REQUIRE(r != nullptr);
    CHECK(r->source == SubsystemSource::measured);
    CHECK(r->memory.current_bytes == 0);
    CHECK(r->memory.peak_bytes >= 1760 * 65520);  // within the tolerance of the true peak
    CHECK(r->memory.allocation_count == 0);       // live blocks
    CHECK(r->warnings == 2);
}

TEST_CASE("a row is reported, measured or both; on a both row the measurement drives the budget") {
    if (!memscope::tracking_enabled()) return;
    MemoryBudget budget;
    budget.set_budget("BothRow", 10 * kMB);
    budget.report("OnlyReported", 1234, 5);
    auto measured = allocate_in("OnlyMeasured", 4096);
    std::vector<std::unique_ptr<char[]>> both;
    {
        const Scope s("BothRow");
        both.reserve(3);
    }
    for (int i = 0; i < 3; ++i) both.push_back(allocate_in("BothRow", 100000));
    std::size_t both_bytes = memscope::usable_size(both.data());
    for (const auto& b : both) both_bytes += usable(b);

    budget.update();
    budget.report("BothRow", 9 * kMB, 7);  // a wrong estimate: 90% of the budget
    const auto rows = budget.snapshot();
    const auto* reported = row(rows, "OnlyReported");
    const auto* only = row(rows, "OnlyMeasured");
    const auto* both_row = row(rows, "BothRow");
    REQUIRE(reported != nullptr);
    REQUIRE(only != nullptr);
    REQUIRE(both_row != nullptr);
    CHECK(reported->source == SubsystemSource::reported);
    CHECK(reported->memory.current_bytes == 1234);
    CHECK(reported->reported_bytes == 1234);
    CHECK(only->source == SubsystemSource::measured);
    CHECK(only->memory.current_bytes == usable(measured));
    CHECK(only->memory.allocation_count == 1);
    CHECK(only->reported_bytes == 0);
    CHECK(both_row->source == SubsystemSource::both);
    CHECK(both_row->memory.current_bytes == both_bytes);  // measured, not the 9 MB claim
    CHECK(both_row->memory.allocation_count == 4);
    CHECK(both_row->reported_bytes == 9 * kMB);
    CHECK(both_row->reported_count == 7);
    // The estimate's 90% does not warn: the measurement (well under 85%) drives the row.
    CHECK(budget.events().empty());
    CHECK(both_row->status == MemoryStatus::ok);
    CHECK(budget.totals().current_bytes == 1234 + usable(measured) + both_bytes);
    CHECK(to_string(SubsystemSource::both) == "both");
    CHECK(to_string(SubsystemSource::measured) == "measured");
    CHECK(to_string(SubsystemSource::reported) == "reported");
}

TEST_CASE("measured rows keep window peaks and time over the threshold as reported rows do") {
    if (!memscope::tracking_enabled()) return;
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    memscope::BudgetOptions options;
    options.clock = [&] { return now; };
    MemoryBudget budget(options);
    budget.set_budget("Timed", 10 * kMB);
    auto big = allocate_in("Timed", 9 * kMB);  // 90%: warning
    budget.update();
    now += std::chrono::seconds(3);
    budget.update();
    big.reset();
    budget.update();  // back to 0
    now += std::chrono::seconds(5);
    budget.update();
    const auto rows = budget.snapshot();
    const auto* r = row(rows, "Timed");
    REQUIRE(r != nullptr);
    CHECK(r->seconds_over_threshold == doctest::Approx(3.0));
    CHECK(r->seconds_over_budget == doctest::Approx(0.0));
    CHECK(r->window_peak_bytes >= 9 * kMB);
    budget.reset_window_peaks();
    const auto after = budget.snapshot();
    REQUIRE(row(after, "Timed") != nullptr);
    CHECK(row(after, "Timed")->window_peak_bytes == 0);
}

TEST_CASE("a measured row that does not return to its baseline after an unload is a leak suspect") {
    if (!memscope::tracking_enabled()) return;
    MemoryBudget budget;
    auto level = allocate_in("LeakyLevel", 2 * kMB);
    budget.update();
    budget.mark_baseline("LeakyLevel");
    auto leaked = allocate_in("LeakyLevel", 1 * kMB);  // loaded, never freed
    budget.update();
    CHECK(budget.report_unload("LeakyLevel", 64 * 1024));
    const auto events = budget.events();
    REQUIRE(!events.empty());
    CHECK(events.back().kind == EventKind::leak_suspect);
    CHECK(events.back().subsystem == "LeakyLevel");
    leaked.reset();
    budget.update();
    CHECK_FALSE(budget.report_unload("LeakyLevel", 64 * 1024));
}

TEST_CASE("the Sampler re-reads measured rows at every sample and records them in the history") {
    if (!memscope::tracking_enabled()) return;
    MemoryBudget budget;
    memscope::Sampler sampler(budget);
    auto block = allocate_in("Sampled", 300000);
    sampler.sample_now();
    const auto rows = budget.snapshot();
    const auto* r = row(rows, "Sampled");
    REQUIRE(r != nullptr);
    CHECK(r->source == SubsystemSource::measured);
    CHECK(r->memory.current_bytes == usable(block));
    const auto names = sampler.history().subsystem_names();
    CHECK(std::find(names.begin(), names.end(), "Sampled") != names.end());
}

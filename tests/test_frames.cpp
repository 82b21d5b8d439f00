// SPDX-License-Identifier: MIT
// Allocations per frame: per-tag and total counts of each frame, frames kept in the ring,
// the histogram, frame budgets (per subsystem, total, bytes) announced at most once per
// interval with a fake clock, callbacks, the config file's frame_budgets, and threads.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <memscope/allocator.hpp>
#include <memscope/budget.hpp>
#include <memscope/config_file.hpp>
#include <memscope/frames.hpp>
#include <memscope/scope.hpp>

namespace {

using memscope::EventKind;
using memscope::FrameBudget;
using memscope::FrameRecord;
using memscope::MemoryBudget;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A clock the test moves by hand: one frame of a 60 Hz game per tick.
struct FakeClock {
    steady_clock::time_point now{std::chrono::hours(1)};
    void advance(milliseconds d) { now += d; }
};

memscope::BudgetOptions options_with(FakeClock& clock) {
    memscope::BudgetOptions o;
    o.log_events = false;
    o.clock = [&clock] { return clock.now; };
    return o;
}

// `count` blocks of `size` bytes allocated in the scope `name`; their usable bytes.
struct Blocks {
    std::vector<std::unique_ptr<char[]>> held;
    std::size_t usable = 0;
    void make(std::string_view name, int count, std::size_t size) {
        held.reserve(held.size() + static_cast<std::size_t>(count));  // outside the scope
        const memscope::Scope scope(name);
        for (int i = 0; i < count; ++i) {
            held.emplace_back(new char[size]);
            usable += memscope::usable_size(held.back().get());
        }
    }
};

// `count` allocations and frees of `size` bytes each: calls the operators themselves, which
// the compiler may not elide as it may a `delete new int`.
void* volatile g_sink = nullptr;
void churn(int count, std::size_t size = 16) {
    for (int i = 0; i < count; ++i) {
        void* p = ::operator new(size);
        g_sink = p;
        ::operator delete(p);
    }
}

const memscope::FrameSubsystem* part(const FrameRecord& r, std::string_view name) {
    for (const auto& s : r.subsystems)
        if (s.name == name) return &s;
    return nullptr;
}

std::size_t events_of(const MemoryBudget& b, EventKind kind) {
    std::size_t n = 0;
    for (const auto& e : b.events())
        if (e.kind == kind) ++n;
    return n;
}

}  // namespace

TEST_CASE("a frame counts what each tag allocated and freed in it, and memscope's own in none") {
    if (!memscope::tracking_enabled()) return;
    FakeClock clock;
    MemoryBudget budget(options_with(clock));
    std::vector<Blocks> kept(1);
    kept.reserve(4);      // the test's own bookkeeping stays out of the frames below
    budget.end_frame(1);  // closes the frame since the budget was made

    kept[0].make("FramesA", 10, 100);
    {
        Blocks b;
        b.make("FramesB", 3, 5000);
    }  // allocated and freed in the same frame
    clock.advance(milliseconds(16));
    budget.end_frame(2);

    kept[0].held.clear();  // frame 3 frees FramesA's blocks
    clock.advance(milliseconds(17));
    budget.end_frame(3);

    const auto frames = budget.frames();
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].frame == 1);
    CHECK(frames[0].sequence == 1);
    CHECK(frames[0].duration_ms == 0.0);
    const FrameRecord& two = frames[1];
    CHECK(two.frame == 2);
    CHECK(two.duration_ms == doctest::Approx(16.0));
    const auto* a = part(two, "FramesA");
    REQUIRE(a != nullptr);
    CHECK(a->counts.allocations == 10);
    CHECK(a->counts.frees == 0);
    CHECK(a->counts.bytes_allocated == kept[0].usable);
    const auto* b = part(two, "FramesB");
    REQUIRE(b != nullptr);
    CHECK(b->counts.allocations == 3);
    CHECK(b->counts.frees == 3);
    CHECK(b->counts.bytes_allocated >= 3 * 5000);
    CHECK(part(two, "memscope") == nullptr);
    CHECK(two.total.allocations >= 13);
    CHECK(two.total.bytes_allocated >= a->counts.bytes_allocated + b->counts.bytes_allocated);

    const FrameRecord& three = frames[2];
    const auto* a3 = part(three, "FramesA");
    REQUIRE(a3 != nullptr);
    CHECK(a3->counts.allocations == 0);
    CHECK(a3->counts.frees == 10);
    CHECK(part(three, "FramesB") == nullptr);  // nothing in the frame: not listed

    // Incremental reads, as the dashboard polls.
    CHECK(budget.frames(2).size() == 1);
    CHECK(budget.frames(3).empty());
    const auto stats = budget.frame_stats();
    CHECK(stats.frames == 3);
    CHECK(stats.last_frame == 3);
    CHECK(stats.allocations ==
          frames[0].total.allocations + frames[1].total.allocations + frames[2].total.allocations);
}

TEST_CASE("allocations made by other threads count in the frame they happen in") {
    if (!memscope::tracking_enabled()) return;
    FakeClock clock;
    MemoryBudget budget(options_with(clock));
    budget.end_frame(1);
    const memscope::TagId id = memscope::tag("FramesWorker");
    std::thread worker([id] {
        const memscope::Scope scope(id);
        churn(50, 64);
    });
    worker.join();
    budget.end_frame(2);
    const auto last = budget.frames(1);
    REQUIRE(last.size() == 1);
    const auto* w = part(last[0], "FramesWorker");
    REQUIRE(w != nullptr);
    CHECK(w->counts.allocations == 50);
    CHECK(w->counts.frees == 50);
}

TEST_CASE("the ring keeps the last frame_capacity frames; the histogram and sums keep all") {
    if (!memscope::tracking_enabled()) return;
    FakeClock clock;
    auto o = options_with(clock);
    o.frame_capacity = 4;
    MemoryBudget budget(o);
    for (std::uint64_t f = 100; f < 110; ++f) {
        {
            const memscope::Scope scope("FramesRing");
            churn(20);
        }
        clock.advance(milliseconds(16));
        budget.end_frame(f);
    }
    const auto frames = budget.frames();
    REQUIRE(frames.size() == 4);
    CHECK(frames.front().frame == 106);
    CHECK(frames.front().sequence == 7);
    CHECK(frames.back().frame == 109);
    CHECK(budget.frames(8).size() == 2);
    CHECK(budget.frames(2).size() == 4);  // older ones are gone: what is kept
    const auto stats = budget.frame_stats();
    CHECK(stats.frames == 10);
    std::uint64_t in_histogram = 0;
    for (const std::uint64_t n : stats.allocation_histogram) in_histogram += n;
    CHECK(in_histogram == 10);
    // Every frame made at least 20 allocations: none in the buckets of 0 and of 10.
    CHECK(stats.allocation_histogram[0] == 0);
    CHECK(stats.allocation_histogram[1] == 0);
}

TEST_CASE("a frame budget broken every frame is announced once per second, with the count") {
    if (!memscope::tracking_enabled()) return;
    FakeClock clock;
    MemoryBudget budget(options_with(clock));
    budget.set_frame_budget("FramesChurn", FrameBudget{.max_allocations = 100});
    CHECK(budget.frame_budget("FramesChurn").max_allocations == 100);
    std::vector<memscope::FrameBudgetEvent> seen;
    std::vector<std::string> names;
    budget.on_frame_over_budget([&](const memscope::FrameBudgetEvent& e) {
        seen.push_back(e);
        names.emplace_back(e.subsystem);
    });
    seen.reserve(8);
    names.reserve(8);
    budget.end_frame(0);

    // A calm frame, then a bad second: 60 frames of 500 allocations each.
    {
        const memscope::Scope scope("FramesChurn");
        churn(50);
    }
    clock.advance(milliseconds(16));
    budget.end_frame(1);
    CHECK(seen.empty());
    for (std::uint64_t f = 2; f < 62; ++f) {
        {
            const memscope::Scope scope("FramesChurn");
            churn(500);
        }
        clock.advance(milliseconds(16));
        budget.end_frame(f);
    }
    // 60 frames over 960 ms: one message.
    REQUIRE(seen.size() == 1);
    CHECK(names[0] == "FramesChurn");
    CHECK(seen[0].frame == 2);
    CHECK(seen[0].counts.allocations == 500);
    CHECK(seen[0].budget.max_allocations == 100);
    CHECK(seen[0].unannounced_frames == 0);
    CHECK(events_of(budget, EventKind::frame_over_budget) == 1);
    const auto ev = budget.events().back();
    CHECK(ev.kind == EventKind::frame_over_budget);
    CHECK(ev.frame == 2);
    CHECK(ev.subsystem == "FramesChurn");
    CHECK(ev.message ==
          "Frame 2: subsystem 'FramesChurn' made 500 allocations, over its frame budget of 100 "
          "allocations");

    // The next bad frame after the interval is announced with the 59 frames in between.
    {
        const memscope::Scope scope("FramesChurn");
        churn(1500);
    }
    clock.advance(milliseconds(100));
    budget.end_frame(62);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].frame == 62);
    CHECK(seen[1].unannounced_frames == 59);
    CHECK(budget.events().back().message ==
          "Frame 62: subsystem 'FramesChurn' made 1,500 allocations, over its frame budget of "
          "100 allocations (and 59 more frames over it since the last message)");

    const auto stats = budget.frame_stats();
    REQUIRE(stats.budgets.size() == 1);
    CHECK(stats.budgets[0].name == "FramesChurn");
    CHECK(stats.budgets[0].frames_over == 61);
    CHECK(stats.budgets[0].last_frame_over == 62);
    CHECK(budget.event_counts().frame_over_budget == 2);
    const auto frames = budget.frames();
    CHECK_FALSE(part(frames[1], "FramesChurn")->over_budget);
    CHECK(part(frames.back(), "FramesChurn")->over_budget);

    // Removing the budget stops the checks.
    budget.set_frame_budget("FramesChurn", FrameBudget{});
    CHECK(budget.frame_budget("FramesChurn").none());
    CHECK(budget.frame_stats().budgets.empty());
}

TEST_CASE("bytes budgets and the total budget") {
    if (!memscope::tracking_enabled()) return;
    FakeClock clock;
    MemoryBudget budget(options_with(clock));
    budget.set_frame_budget("FramesBytes", FrameBudget{.max_bytes = 64 * 1024});
    budget.set_frame_budget(memscope::kTotalName, FrameBudget{.max_allocations = 5000});
    budget.end_frame(1);
    {
        Blocks b;
        b.make("FramesBytes", 4, 32 * 1024);  // 128 KiB in one frame
    }
    clock.advance(milliseconds(16));
    budget.end_frame(2);
    {
        const memscope::Scope scope("FramesSpread");  // no budget of its own
        churn(6000);
    }
    clock.advance(milliseconds(16));
    budget.end_frame(3);

    std::vector<memscope::BudgetEvent> frame_events;
    for (const auto& e : budget.events())
        if (e.kind == EventKind::frame_over_budget) frame_events.push_back(e);
    REQUIRE(frame_events.size() == 2);
    CHECK(frame_events[0].subsystem == "FramesBytes");
    CHECK(frame_events[0].frame == 2);
    CHECK(frame_events[0].message.find("allocated ") != std::string::npos);
    CHECK(frame_events[0].message.find("over its frame budget of 64.0 KB") != std::string::npos);
    CHECK(frame_events[1].subsystem == memscope::kTotalName);
    CHECK(frame_events[1].frame == 3);
    CHECK(frame_events[1].message.rfind("Frame 3: total memory made ", 0) == 0);
    const auto frames = budget.frames();
    CHECK_FALSE(frames[1].over_budget);
    CHECK(frames[2].over_budget);
    CHECK(budget.frame_stats().frames_over_total_budget == 1);
}

TEST_CASE("a throwing frame budget callback is reported and the others still run") {
    if (!memscope::tracking_enabled()) return;
    FakeClock clock;
    MemoryBudget budget(options_with(clock));
    budget.set_frame_budget("FramesThrow", FrameBudget{.max_allocations = 1});
    int calls = 0;
    budget.on_frame_over_budget(
        [](const memscope::FrameBudgetEvent&) { throw std::runtime_error("boom"); });
    const auto id =
        budget.on_frame_over_budget([&](const memscope::FrameBudgetEvent&) { ++calls; });
    budget.end_frame(1);
    {
        const memscope::Scope scope("FramesThrow");
        churn(3);
    }
    CHECK_NOTHROW(budget.end_frame(2));
    CHECK(calls == 1);
    CHECK(budget.remove_pressure_callback(id));
    CHECK_FALSE(budget.remove_pressure_callback(id));
}

TEST_CASE("frame_budgets in the config file") {
    MemoryBudget budget;
    auto r = memscope::apply_config_text(
        budget,
        R"json({"frame_budgets": {"Entities": {"allocations": 5000, "bytes": "4 MiB"},
                                  "(total)": {"allocations": 20000}}})json",
        "frames.json");
    REQUIRE_MESSAGE(r.loaded, r.error);
    CHECK(budget.frame_budget("Entities").max_allocations == 5000);
    CHECK(budget.frame_budget("Entities").max_bytes == 4u << 20);
    CHECK(budget.frame_budget(memscope::kTotalName).max_allocations == 20000);

    r = memscope::apply_config_text(budget, R"({"frame_budgets": {"Audio": {"allocs": 5}}})",
                                    "bad.json");
    CHECK_FALSE(r.loaded);
    CHECK(r.error ==
          "bad.json:1:30: frame_budgets.Audio: unknown key \"allocs\" (expected "
          "allocations or bytes)");
    r = memscope::apply_config_text(budget, R"({"frame_budgets": {"Audio": {"allocations": -1}}})",
                                    "bad.json");
    CHECK_FALSE(r.loaded);
    CHECK(r.error.find("frame_budgets.Audio.allocations: expected a whole number") !=
          std::string::npos);
    CHECK(budget.frame_budget("Audio").none());  // refused whole
}

TEST_CASE("without tracking, end_frame records nothing") {
    if (memscope::tracking_enabled()) return;
    MemoryBudget budget;
    budget.end_frame(1);
    CHECK(budget.frames().empty());
    CHECK(budget.frame_stats().frames == 0);
}

// SPDX-License-Identifier: MIT
// History: the trend rule on synthetic series, the floor test of series_looks_like_leak(),
// and the bounded ring. The Sampler that fills it is tested in test_sampler.cpp.

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

using Subsystems = std::vector<std::pair<std::string, std::size_t>>;

// Records one sample whose allocator total is `total_bytes`, `seconds` after the start.
std::uint64_t record_total(History& history, std::size_t total_bytes, double seconds,
                           const Subsystems& subsystems = {}) {
    memscope::AllocationStats stats;
    stats.total_allocated_bytes = total_bytes;
    return history.record(0, seconds, stats, memscope::ProcessMemory{}, subsystems);
}

// Records the series as allocator totals, one sample per second.
void record_series(History& history, const std::vector<std::size_t>& totals) {
    for (std::size_t i = 0; i < totals.size(); ++i)
        record_total(history, totals[i], static_cast<double>(i));
}

std::vector<std::size_t> steady_leak(std::size_t n, std::size_t start, std::size_t step) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(start + i * step);
    return v;
}

// Loads in `period` steps of `step` bytes, then unloads everything in one go; the floor
// (the value at every multiple of `period`) rises by `floor_step` each cycle.
std::vector<std::size_t> sawtooth(std::size_t n, std::size_t base, std::size_t step,
                                  std::size_t period, std::size_t floor_step = 0) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < n; ++i)
        v.push_back(base + (i / period) * floor_step + (i % period) * step);
    return v;
}

std::vector<double> as_doubles(const std::vector<std::size_t>& v) {
    return std::vector<double>(v.begin(), v.end());
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Trends

TEST_CASE("trend names") {
    CHECK(memscope::to_string(Trend::unknown) == "unknown");
    CHECK(memscope::to_string(Trend::increasing) == "increasing");
    CHECK(memscope::to_string(Trend::decreasing) == "decreasing");
    CHECK(memscope::to_string(Trend::stable) == "stable");
}

TEST_CASE("trend: a steady leak is increasing at the specification's rate") {
    History history(200);
    record_series(history, steady_leak(100, 64 * kMiB, 2048));
    const auto t = history.analyze_trend();
    CHECK(t.trend == Trend::increasing);
    CHECK(t.samples == 100);
    // (last - first) / sample count, as the specification divides.
    CHECK(t.bytes_per_sample == doctest::Approx(99.0 * 2048.0 / 100.0));
    // One sample per second over 99 seconds.
    CHECK(t.bytes_per_second == doctest::Approx(2048.0));
}

TEST_CASE("trend: a sawtooth that returns to its baseline is stable") {
    History history(200);
    record_series(history, sawtooth(101, 100 * kMiB, 5 * kMiB, 10));
    const auto t = history.analyze_trend();
    CHECK(t.trend == Trend::stable);
    CHECK(t.bytes_per_sample == doctest::Approx(0.0));
}

TEST_CASE("trend: flat is stable, shrinking is decreasing") {
    History flat(100);
    record_series(flat, std::vector<std::size_t>(50, 10 * kMiB));
    CHECK(flat.analyze_trend().trend == Trend::stable);

    History shrinking(100);
    std::vector<std::size_t> values;
    for (std::size_t i = 0; i < 50; ++i) values.push_back(10 * kMiB - i * 4 * kKiB);
    record_series(shrinking, values);
    const auto t = shrinking.analyze_trend();
    CHECK(t.trend == Trend::decreasing);
    CHECK(t.bytes_per_sample == doctest::Approx(-49.0 * 4096.0 / 50.0));
    CHECK(t.bytes_per_second == doctest::Approx(-4096.0));
}

TEST_CASE("trend: fewer than two samples is unknown") {
    History history(10);
    CHECK(history.analyze_trend().trend == Trend::unknown);
    CHECK(history.analyze_trend().samples == 0);
    record_total(history, kMiB, 0.0);
    CHECK(history.analyze_trend().trend == Trend::unknown);
    CHECK(history.analyze_trend().samples == 1);
    record_total(history, kMiB, 1.0);
    CHECK(history.analyze_trend().trend == Trend::stable);
    CHECK(history.analyze_trend("never reported").trend == Trend::unknown);
}

TEST_CASE("trend: the 1 KiB-per-sample rule at its boundary") {
    const auto trend_of = [](const std::vector<std::size_t>& values, double threshold = 1024.0) {
        History history(8);
        record_series(history, values);
        return history.analyze_trend(threshold);
    };
    // Two samples: the rate is growth / 2, and must be strictly beyond 1024.
    CHECK(trend_of({kMiB, kMiB + 2048}).trend == Trend::stable);  // exactly 1024 per sample
    CHECK(trend_of({kMiB, kMiB + 2048}).bytes_per_sample == doctest::Approx(1024.0));
    CHECK(trend_of({kMiB, kMiB + 2050}).trend == Trend::increasing);
    CHECK(trend_of({kMiB + 2048, kMiB}).trend == Trend::stable);
    CHECK(trend_of({kMiB + 2050, kMiB}).trend == Trend::decreasing);

    // Only the first and last samples count, and the divisor is the sample count (3).
    CHECK(trend_of({kMiB, 50 * kMiB, kMiB + 3072}).trend == Trend::stable);
    CHECK(trend_of({kMiB, 50 * kMiB, kMiB + 3075}).trend == Trend::increasing);

    // A threshold of the caller's choosing.
    CHECK(trend_of({0, 300}, 100.0).trend == Trend::increasing);
    CHECK(trend_of({0, 300}, 150.0).trend == Trend::stable);
}

TEST_CASE("trend: last_n looks at the newest samples only") {
    History history(200);
    std::vector<std::size_t> values(90, 8 * kMiB);  // flat for 90 samples...
    for (std::size_t i = 1; i <= 10; ++i)
        values.push_back(8 * kMiB + i * 4 * kKiB);  // ...then growing
    record_series(history, values);

    const auto all = history.analyze_trend();
    CHECK(all.trend == Trend::stable);
    CHECK(all.bytes_per_sample == doctest::Approx(40.0 * 1024.0 / 100.0));

    const auto recent = history.analyze_trend(1024.0, 10);
    CHECK(recent.trend == Trend::increasing);
    CHECK(recent.samples == 10);
    CHECK(recent.bytes_per_sample == doctest::Approx(36.0 * 1024.0 / 10.0));

    CHECK(history.analyze_trend(1024.0, 1000).samples == 100);  // capped at what is kept
}

TEST_CASE("trend per subsystem, over the samples that have it") {
    History history(100);
    for (std::size_t i = 0; i < 20; ++i)
        record_total(history, 0, static_cast<double>(i), {{"Chunks", 10 * kMiB}});
    // Meshes appears at sample 20 and grows 8 KiB per sample.
    for (std::size_t i = 0; i < 20; ++i) {
        record_total(history, 0, static_cast<double>(20 + i),
                     {{"Chunks", 10 * kMiB}, {"Meshes", kMiB + i * 8 * kKiB}});
    }
    const auto chunks = history.analyze_trend("Chunks");
    CHECK(chunks.trend == Trend::stable);
    CHECK(chunks.samples == 40);

    const auto meshes = history.analyze_trend("Meshes");
    CHECK(meshes.trend == Trend::increasing);
    CHECK(meshes.samples == 20);
    CHECK(meshes.bytes_per_sample == doctest::Approx(19.0 * 8192.0 / 20.0));
    CHECK(meshes.bytes_per_second == doctest::Approx(8192.0));

    CHECK(history.analyze_trend("Meshes", 1024.0, 5).samples == 5);
}

// ---------------------------------------------------------------------------------------
// series_looks_like_leak

TEST_CASE("leak test: a steady leak is a leak, with its slope") {
    double slope = 0.0;
    CHECK(memscope::series_looks_like_leak(as_doubles(steady_leak(100, 50 * kMiB, 2048)), 60, 4,
                                           1024.0, &slope));
    CHECK(slope == doctest::Approx(2048.0));

    // Noise on top of the leak does not hide it.
    std::vector<double> noisy = as_doubles(steady_leak(100, 50 * kMiB, 4096));
    for (std::size_t i = 0; i < noisy.size(); i += 2) noisy[i] += 3000.0;
    CHECK(memscope::series_looks_like_leak(noisy, 60, 4, 1024.0, &slope));
    CHECK(slope == doctest::Approx(4096.0).epsilon(0.05));
}

TEST_CASE("leak test: a sawtooth back to its baseline is not a leak") {
    double slope = -1.0;
    CHECK_FALSE(memscope::series_looks_like_leak(
        as_doubles(sawtooth(100, 100 * kMiB, 5 * kMiB, 10)), 60, 4, 1024.0, &slope));
    CHECK(slope == doctest::Approx(0.0));
}

TEST_CASE("leak test: every part's floor must be above the one before") {
    // Parts of 10 values whose floors are given; the overall rise is steep enough each time.
    const auto with_floors = [](const std::vector<double>& floors) {
        std::vector<double> v;
        for (double f : floors) {
            for (int j = 0; j < 10; ++j) v.push_back(f + (j % 2) * 4.0 * kMiB);
        }
        return v;
    };
    double slope = 0.0;
    CHECK(memscope::series_looks_like_leak(with_floors({0, 1e5, 2e5, 3e5}), 40, 4, 1024.0, &slope));
    CHECK(slope == doctest::Approx(1e4));
    // A pause in the rise, or a dip (a level unloaded), is not the steady climb of a leak.
    CHECK_FALSE(memscope::series_looks_like_leak(with_floors({0, 1e5, 1e5, 3e5}), 40, 4, 1024.0));
    CHECK_FALSE(memscope::series_looks_like_leak(with_floors({0, 2e5, 1e5, 3e5}), 40, 4, 1024.0));
    // Even with no threshold at all, equal floors are no rise.
    CHECK_FALSE(memscope::series_looks_like_leak(as_doubles(sawtooth(100, 100 * kMiB, kMiB, 10)),
                                                 60, 4, 0.0));
}

TEST_CASE("leak test: a sawtooth whose floor rises is a leak") {
    // Each 10-sample cycle comes back 20 KiB higher: 2 KiB per sample.
    double slope = 0.0;
    CHECK(memscope::series_looks_like_leak(
        as_doubles(sawtooth(100, 100 * kMiB, 5 * kMiB, 10, 20 * kKiB)), 60, 4, 1024.0, &slope));
    CHECK(slope > 1024.0);
    CHECK(slope == doctest::Approx(2048.0).epsilon(0.25));

    // The same shape rising too slowly stays under the threshold.
    CHECK_FALSE(memscope::series_looks_like_leak(
        as_doubles(sawtooth(100, 100 * kMiB, 5 * kMiB, 10, 5 * kKiB)), 60, 4, 1024.0, &slope));
    CHECK(slope > 0.0);
    CHECK(slope < 1024.0);
}

TEST_CASE("leak test: flat, decreasing and too-short series are not leaks") {
    double slope = -1.0;
    CHECK_FALSE(
        memscope::series_looks_like_leak(std::vector<double>(100, 1e6), 60, 4, 1024.0, &slope));
    CHECK(slope == doctest::Approx(0.0));

    std::vector<double> decreasing;
    for (int i = 0; i < 100; ++i) decreasing.push_back(1e8 - i * 4096.0);
    CHECK_FALSE(memscope::series_looks_like_leak(decreasing, 60, 4, 1024.0, &slope));
    CHECK(slope < 0.0);

    // Fewer values than the window, however steep.
    slope = -1.0;
    CHECK_FALSE(memscope::series_looks_like_leak(as_doubles(steady_leak(59, 0, kMiB)), 60, 4,
                                                 1024.0, &slope));
    CHECK(slope == 0.0);
    CHECK_FALSE(memscope::series_looks_like_leak({}, 60, 4, 1024.0));
    // Degenerate splits.
    CHECK_FALSE(
        memscope::series_looks_like_leak(as_doubles(steady_leak(100, 0, kMiB)), 60, 1, 1024.0));
    CHECK_FALSE(
        memscope::series_looks_like_leak(as_doubles(steady_leak(100, 0, kMiB)), 3, 4, 1024.0));
}

TEST_CASE("leak test: the window is the newest values") {
    // A leak that stopped 60 samples ago is not a leak any more...
    std::vector<double> stopped = as_doubles(steady_leak(100, 0, 8 * kKiB));
    stopped.insert(stopped.end(), 60, stopped.back());
    CHECK_FALSE(memscope::series_looks_like_leak(stopped, 60, 4, 1024.0));
    // ...and one that started recently is.
    std::vector<double> started(100, 1e6);
    for (int i = 1; i <= 60; ++i) started.push_back(1e6 + i * 8192.0);
    CHECK(memscope::series_looks_like_leak(started, 60, 4, 1024.0));
}

// ---------------------------------------------------------------------------------------
// The ring

TEST_CASE("the ring stays bounded and since() returns newer samples in order") {
    History history(5);
    CHECK(history.capacity() == 5);
    CHECK(history.size() == 0);
    CHECK_FALSE(history.latest().has_value());
    CHECK(history.since().empty());

    for (std::uint64_t i = 1; i <= 12; ++i) CHECK(record_total(history, i * kKiB, 0.0) == i);
    CHECK(history.size() == 5);

    const auto all = history.since();
    REQUIRE(all.size() == 5);
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].sequence == 8 + i);
        CHECK(all[i].allocator.total_allocated_bytes == (8 + i) * kKiB);
    }
    const auto newer = history.since(10);
    REQUIRE(newer.size() == 2);
    CHECK(newer[0].sequence == 11);
    CHECK(newer[1].sequence == 12);
    CHECK(history.since(3).size() == 5);  // older than anything kept: everything kept
    CHECK(history.since(12).empty());
    CHECK(history.since(99).empty());
    REQUIRE(history.latest().has_value());
    CHECK(history.latest()->sequence == 12);

    CHECK(History(0).capacity() == 2);
}

TEST_CASE("subsystems first seen later have shorter vectors") {
    History history(10);
    record_total(history, 0, 0.0, {{"Chunks", 100}});
    record_total(history, 0, 1.0, {{"Chunks", 200}, {"Meshes", 50}});
    record_total(history, 0, 2.0, {{"Audio", 7}, {"Chunks", 300}});

    CHECK(history.subsystem_names() == std::vector<std::string>{"Chunks", "Meshes", "Audio"});
    const auto samples = history.since();
    REQUIRE(samples.size() == 3);
    CHECK(samples[0].subsystem_bytes == std::vector<std::size_t>{100});
    CHECK(samples[1].subsystem_bytes == std::vector<std::size_t>{200, 50});
    // A known subsystem not passed this time reads 0.
    CHECK(samples[2].subsystem_bytes == std::vector<std::size_t>{300, 0, 7});
    CHECK(samples[1].reported_bytes == 250);
    CHECK(samples[2].reported_bytes == 307);
}

TEST_CASE("the footprint counts the ring and stops growing once it is full") {
    History history(8);
    const Subsystems subsystems = {
        {"Chunks", 1}, {"Meshes", 2}, {"a subsystem with a long name", 3}};
    for (int i = 0; i < 8; ++i) record_total(history, 0, i, subsystems);
    const std::size_t full = history.footprint_bytes();
    CHECK(full >= 8 * (sizeof(memscope::Sample) + 3 * sizeof(std::size_t)));
    for (int i = 0; i < 40; ++i) record_total(history, 0, i, subsystems);
    CHECK(history.footprint_bytes() == full);
}

// ---------------------------------------------------------------------------------------
// find_leak: the Sampler's rule

TEST_CASE("find_leak: a climb without releases is a leak only over the long window") {
    const memscope::LeakRule rule;  // 60 and 300 samples, 4 parts, 1 KiB per sample
    const auto leak = as_doubles(steady_leak(400, 50 * kMiB, 8 * kKiB));
    const std::vector<double> first_299(leak.begin(), leak.begin() + 299);
    CHECK_FALSE(memscope::find_leak(first_299, rule).leak);
    const auto found = memscope::find_leak(leak, rule);
    CHECK(found.leak);
    CHECK(found.window == 300);
    CHECK(found.slope_per_sample == doctest::Approx(8 * kKiB));
    // Slower than the threshold is not a leak, however long.
    CHECK_FALSE(memscope::find_leak(as_doubles(steady_leak(400, 0, 1000)), rule).leak);
}

TEST_CASE("find_leak: troughs that climb between releases are a leak over the short window") {
    const memscope::LeakRule rule;
    // Loads 10 MiB for half of every 10 samples; each unload leaves 512 KiB behind.
    std::vector<double> series;
    for (std::size_t i = 0; i < 60; ++i)
        series.push_back(static_cast<double>(100 * kMiB + (i / 10) * 512 * kKiB +
                                             (i % 10 >= 5 ? 10 * kMiB : 0)));
    const auto found = memscope::find_leak(series, rule);
    CHECK(found.leak);
    CHECK(found.window == 60);
    // Back to the same floor every time: no leak.
    CHECK_FALSE(memscope::find_leak(as_doubles(sawtooth(400, 100 * kMiB, kMiB, 10)), rule).leak);
}

TEST_CASE("find_leak: a rise no larger than the noise, or a step, is not a leak") {
    memscope::LeakRule rule;
    rule.long_window = 0;  // the short window alone
    // The floors climb by 16 KiB per part, under changes of 64 KiB from sample to sample.
    std::vector<double> noisy;
    for (std::size_t i = 0; i < 60; ++i)
        noisy.push_back(
            static_cast<double>(10 * kMiB + (i / 15) * 16 * kKiB + (i % 2) * 64 * kKiB));
    CHECK_FALSE(memscope::find_leak(noisy, rule).leak);
    // A step up that stays: the floor rises once.
    std::vector<double> step(400, 10.0 * kMiB);
    for (std::size_t i = 200; i < step.size(); ++i) step[i] += 50.0 * kMiB;
    CHECK_FALSE(memscope::find_leak(step, memscope::LeakRule{}).leak);
    // Too short for either window, or nonsense parts: nothing.
    CHECK_FALSE(memscope::find_leak({}, memscope::LeakRule{}).leak);
    rule.segments = 1;
    CHECK_FALSE(memscope::find_leak(as_doubles(steady_leak(100, 0, kMiB)), rule).leak);
}

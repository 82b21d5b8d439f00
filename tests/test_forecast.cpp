// SPDX-License-Identifier: MIT
// Forecasts: the rule on synthetic series (a steady approach, flat, falling, waves, noise),
// once per approach in the budget, and the Sampler's forecast events.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <memscope/budget.hpp>
#include <memscope/history.hpp>
#include <memscope/sampler.hpp>

#include "test_support.hpp"

namespace {

using memscope::EventKind;
using memscope::Forecast;
using memscope::MemoryBudget;
using memscope_test::kMiB;

constexpr double kBudget = 100.0 * kMiB;

memscope::BudgetOptions quiet() {
    memscope::BudgetOptions options;
    options.log_events = false;
    return options;
}

// What a run of one sample a second shows: when the first forecast fired, when the
// subsystem first went over budget, and how many forecasts fired in all.
struct Run {
    std::optional<int> forecast_at;
    std::optional<int> over_at;
    std::size_t forecasts = 0;
    std::vector<Forecast> predictions;  // every standing forecast, sample by sample
};

// Feeds `value(second)` for `seconds` samples through the rule and the budget, as the
// Sampler does: the value is reported, then the rule runs on the series so far.
Run run(const std::function<double(int)>& value, int seconds) {
    MemoryBudget budget(quiet());
    budget.set_budget("Chunks", static_cast<std::size_t>(kBudget));
    std::size_t forecast_calls = 0;
    budget.on_pressure("Chunks", [&](const memscope::PressureEvent& e) {
        if (e.forecast_seconds > 0.0) ++forecast_calls;
    });
    Run r;
    std::vector<double> times, values;
    for (int s = 0; s < seconds; ++s) {
        const double v = std::max(0.0, value(s));
        budget.report("Chunks", static_cast<std::size_t>(v), 1);
        times.push_back(s);
        values.push_back(v);
        const auto prediction = memscope::forecast_crossing(times, values, kBudget, {});
        budget.set_forecast("Chunks", prediction);
        if (prediction) r.predictions.push_back(*prediction);
        const auto counts = budget.event_counts();
        if (counts.forecast > 0 && !r.forecast_at) r.forecast_at = s;
        if (counts.over_budget > 0 && !r.over_at) r.over_at = s;
    }
    r.forecasts = budget.event_counts().forecast;
    CHECK(forecast_calls == r.forecasts);
    return r;
}

}  // namespace

TEST_CASE("forecast: a steady approach fires once, well before the crossing") {
    // 1% of the budget a second from 40%: over budget after 60 s.
    const Run r = run([](int s) { return 0.4 * kBudget + 0.01 * kBudget * s; }, 120);
    CHECK(r.forecasts == 1);
    REQUIRE(r.forecast_at);
    REQUIRE(r.over_at);
    CHECK(*r.over_at - *r.forecast_at >= 10);
    // Fired as soon as the samples spanned half the 30 s window: the crossing was then
    // within the 60 s horizon.
    CHECK(*r.forecast_at == 15);
    REQUIRE_FALSE(r.predictions.empty());
    CHECK(r.predictions.front().bytes_per_second == doctest::Approx(0.01 * kBudget));
}

TEST_CASE("forecast: the seconds are the distance to the budget over the trend") {
    std::vector<double> t, v;
    for (int s = 0; s < 20; ++s) {
        t.push_back(s);
        v.push_back(50.0 * kMiB + s * 1.0 * kMiB);  // 69 MiB at the newest sample
    }
    const auto f = memscope::forecast_crossing(t, v, kBudget, {});
    REQUIRE(f);
    CHECK(f->seconds == doctest::Approx(31.0));
    CHECK(f->bytes_per_second == doctest::Approx(1.0 * kMiB));
    memscope::ForecastRule near;
    near.horizon_seconds = 30.0;
    CHECK_FALSE(memscope::forecast_crossing(t, v, kBudget, near));  // beyond the horizon
    near.horizon_seconds = 0.0;
    CHECK_FALSE(memscope::forecast_crossing(t, v, kBudget, near));  // disabled
    t.resize(14);
    v.resize(14);
    CHECK_FALSE(memscope::forecast_crossing(t, v, kBudget, {}));  // 13 s: under half the window
}

TEST_CASE("forecast: flat and falling subsystems never get one") {
    CHECK(run([](int) { return 0.95 * kBudget; }, 120).forecasts == 0);
    CHECK(run([](int s) { return 0.99 * kBudget - 0.005 * kBudget * s; }, 120).forecasts == 0);
}

TEST_CASE("forecast: waves that never reach the budget get none") {
    // Shorter than the window, up to 90% of the budget: steep, but no trend.
    const Run fast = run(
        [](int s) {
            return 0.75 * kBudget + 0.15 * kBudget * std::sin(2 * std::numbers::pi * s / 20.0);
        },
        300);
    CHECK(fast.forecasts == 0);
    // A slow day/night wave up to 70%: its rise never brings the budget within 60 s.
    const Run slow = run(
        [](int s) {
            return 0.6 * kBudget + 0.1 * kBudget * std::sin(2 * std::numbers::pi * s / 120.0);
        },
        600);
    CHECK(slow.forecasts == 0);
}

TEST_CASE("forecast: noise near the budget gets none") {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> noise(-0.05, 0.05);
    std::vector<double> series;
    for (int s = 0; s < 600; ++s) series.push_back((0.85 + noise(rng)) * kBudget);
    CHECK(run([&](int s) { return series[static_cast<std::size_t>(s)]; }, 600).forecasts == 0);
}

TEST_CASE("forecast: a noisy approach still fires once") {
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> noise(-0.02, 0.02);
    std::vector<double> series;
    for (int s = 0; s < 120; ++s) series.push_back((0.4 + 0.01 * s + noise(rng)) * kBudget);
    const Run r = run([&](int s) { return series[static_cast<std::size_t>(s)]; }, 120);
    CHECK(r.forecasts == 1);
    REQUIRE(r.forecast_at);
    REQUIRE(r.over_at);
    CHECK(*r.over_at - *r.forecast_at >= 10);
}

TEST_CASE("forecast: a new approach after falling back fires again") {
    // Up past the budget, back down to 30%, then up again: two approaches, two forecasts.
    const Run r = run(
        [](int s) {
            if (s < 80) return 0.3 * kBudget + 0.01 * kBudget * s;  // over at 71 s
            if (s < 100) return 0.3 * kBudget;                      // unloaded
            return 0.3 * kBudget + 0.01 * kBudget * (s - 100);      // again
        },
        200);
    CHECK(r.forecasts == 2);
}

TEST_CASE("forecast: the budget's event, callback and standing forecast") {
    MemoryBudget budget(quiet());
    budget.set_budget("Chunks", 1024 * kMiB);
    budget.set_total_budget(4096 * kMiB);
    budget.report("Chunks", 890 * kMiB, 1);
    std::vector<memscope::PressureEvent> seen;
    budget.on_pressure("Chunks", [&](const memscope::PressureEvent& e) { seen.push_back(e); });

    budget.set_forecast("Chunks", Forecast{40.0, 12.0 * kMiB});
    budget.set_forecast("Chunks", Forecast{35.0, 12.0 * kMiB});  // the same approach
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].forecast_seconds == 40.0);
    CHECK(seen[0].bytes_per_second == 12.0 * kMiB);
    CHECK(seen[0].status == memscope::MemoryStatus::warning);
    CHECK(seen[0].previous == memscope::MemoryStatus::warning);
    const auto events = budget.events();
    REQUIRE(events.size() == 2);  // the warning of the report, then the forecast
    const auto& e = events.back();
    CHECK(e.kind == EventKind::forecast);
    CHECK(memscope::to_string(e.kind) == "forecast");
    CHECK(e.forecast_seconds == 40.0);
    CHECK(e.message ==
          "Subsystem 'Chunks' will exceed its memory budget in about 40 s at "
          "+12.0 MB/s (890 MB / 1024 MB)");
    CHECK(budget.snapshot().front().forecast.seconds == 35.0);  // the newest stands

    // A fit that dips for a few samples is the same approach.
    for (int i = 0; i < 4; ++i) budget.set_forecast("Chunks", std::nullopt);
    CHECK(budget.snapshot().front().forecast.seconds == 0.0);  // none stands meanwhile
    budget.set_forecast("Chunks", Forecast{30.0, 1.0 * kMiB});
    CHECK(budget.event_counts().forecast == 1);
    // Five samples in a row without one: the approach is over, the next one fires.
    for (int i = 0; i < 5; ++i) budget.set_forecast("Chunks", std::nullopt);
    budget.set_forecast("Chunks", Forecast{30.0, 1.0 * kMiB});
    CHECK(budget.event_counts().forecast == 2);

    budget.set_forecast(memscope::kTotalName, Forecast{50.0, 20.0 * kMiB});
    CHECK(budget.totals().forecast.seconds == 50.0);
    CHECK(budget.events().back().message.rfind(
              "Total memory will exceed its total memory budget in about 50 s at +", 0) == 0);
    budget.set_forecast("Unknown", Forecast{10.0, 1.0});  // no such subsystem: ignored
    CHECK(budget.event_counts().forecast == 3);
}

TEST_CASE("forecast: the sampler forecasts a rising subsystem, not a flat one") {
    MemoryBudget budget(quiet());
    budget.set_budget("Chunks", 1024 * kMiB);
    budget.set_budget("Physics", 256 * kMiB);
    memscope::SamplerOptions options;
    options.interval = std::chrono::hours{1};  // sampled by hand, 2 ms apart
    options.forecast_window = std::chrono::milliseconds{40};
    memscope::Sampler sampler(budget, options);
    for (std::size_t i = 0; i < 40; ++i) {
        budget.report("Chunks", 100 * kMiB + i * 4 * kMiB, 1);
        budget.report("Physics", 30 * kMiB, 1);
        sampler.sample_now();
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    std::vector<std::string> forecast_for;
    for (const auto& e : budget.events())
        if (e.kind == EventKind::forecast) forecast_for.push_back(e.subsystem);
    CHECK(forecast_for == std::vector<std::string>{"Chunks"});

    options.forecast_horizon = std::chrono::milliseconds{0};  // disabled
    MemoryBudget quiet_budget(quiet());
    quiet_budget.set_budget("Chunks", 1024 * kMiB);
    memscope::Sampler off(quiet_budget, options);
    for (std::size_t i = 0; i < 40; ++i) {
        quiet_budget.report("Chunks", 100 * kMiB + i * 4 * kMiB, 1);
        off.sample_now();
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    CHECK(quiet_budget.event_counts().forecast == 0);
}

// SPDX-License-Identifier: MIT
// Cost of the calls a game makes every frame: MemoryBudget::report() and
// is_over_budget(), with the default 6 subsystems and with 500.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <memscope/budget.hpp>

namespace {

std::vector<std::string> make_budget(memscope::MemoryBudget& budget, int subsystems) {
    std::vector<std::string> names;
    for (int i = 0; i < subsystems; ++i) {
        std::string name = "Subsystem";  // (operator+ on a literal trips GCC 12's -Wrestrict)
        name += std::to_string(i);
        names.push_back(std::move(name));
        budget.set_budget(names.back(), std::size_t{1} << 30);
        budget.report(names.back(), std::size_t{1} << 20, 1);
    }
    return names;
}

// One report() of one subsystem, cycling through all of them as a frame would.
void report(benchmark::State& state) {
    memscope::MemoryBudget budget;
    const auto names = make_budget(budget, static_cast<int>(state.range(0)));
    std::size_t i = 0;
    std::size_t bytes = std::size_t{1} << 20;
    for (auto _ : state) {
        budget.report(names[i], bytes, 1);
        bytes ^= 4096;  // vary the figure, staying well under the budget (no events)
        if (++i == names.size()) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}

void is_over_budget(benchmark::State& state) {
    memscope::MemoryBudget budget;
    const auto names = make_budget(budget, static_cast<int>(state.range(0)));
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(budget.is_over_budget(names[i]));
        if (++i == names.size()) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}

// What the dashboard does at every sample: copy out the whole sorted table.
void snapshot(benchmark::State& state) {
    memscope::MemoryBudget budget;
    make_budget(budget, static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(budget.snapshot());
}

}  // namespace

BENCHMARK(report)->Arg(6)->Arg(500);
BENCHMARK(is_over_budget)->Arg(6)->Arg(500);
BENCHMARK(snapshot)->Arg(6)->Arg(500);
BENCHMARK_MAIN();

// Server time of one scrape, without the network: the snapshot JSON and the metrics text
// for the specification's 6 subsystems and for 500, answered by the router in-process
// (reading the figures included). Issue 4 asks for under 1 ms at 500 subsystems.

#include <benchmark/benchmark.h>

#include <string>

#include <memscope/budget.hpp>
#include <memscope/history.hpp>

#include "endpoints.hpp"

namespace {

// A budget of `n` subsystems at 50% of 64 MiB, every fifth one in warning (so the event
// list holds up to n / 5 events), with a few samples of history.
struct Scene {
    memscope::MemoryBudget budget;
    memscope::Sampler sampler{budget};
    memscope::web::Api api{budget, sampler, {}};

    explicit Scene(int n) {
        memscope::set_log_level(memscope::LogLevel::error);  // no warning lines in the output
        constexpr std::size_t kBudget = std::size_t{64} << 20;
        for (int i = 0; i < n; ++i) {
            std::string name = "Subsystem";
            name += std::to_string(i);
            budget.set_budget(name, kBudget);
            budget.report(name, i % 5 == 0 ? kBudget / 10 * 9 : kBudget / 2, 1000 + i);
        }
        for (int i = 0; i < 10; ++i) sampler.sample_now();
    }
};

void scrape(benchmark::State& state, const char* target) {
    Scene scene(static_cast<int>(state.range(0)));
    const auto request = memscope::web::Request::from_target("GET", target);
    std::size_t bytes = 0;
    for (auto _ : state) {
        const auto response = scene.api.handle(request);
        bytes = response.body.size();
        benchmark::DoNotOptimize(response.body.data());
    }
    state.counters["response_bytes"] = static_cast<double>(bytes);
}

void snapshot_json(benchmark::State& state) {
    scrape(state, "/api/v1/snapshot");
}
void metrics_text(benchmark::State& state) {
    scrape(state, "/metrics");
}

}  // namespace

BENCHMARK(snapshot_json)->Arg(6)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK(metrics_text)->Arg(6)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();

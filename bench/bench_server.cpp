// SPDX-License-Identifier: MIT
// Server time of one scrape, without the network: the snapshot JSON and the metrics text
// for the default 6 subsystems and for 500, answered by the router in-process
// (reading the figures included). The budget is 1 ms at 500 subsystems.

#include <benchmark/benchmark.h>

#include <string>

#include <memscope/budget.hpp>
#include <memscope/sampler.hpp>

#include <nlohmann/json.hpp>

#include "endpoints.hpp"
#include "figures.hpp"
#include "json_api.hpp"
#include "memscope/format.hpp"

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

// The subsystem rows of a snapshot (the part that grows with the subsystem count), once
// through memscope's JSON writer and once as an nlohmann::ordered_json document dumped with
// invalid UTF-8 replaced: the comparison that decides which writer memscope uses.
void subsystems_writer(benchmark::State& state) {
    Scene scene(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        const auto figures = memscope::web::read_figures(scene.budget, &scene.sampler.history());
        std::string out = memscope::web::subsystems_document(figures);
        benchmark::DoNotOptimize(out.data());
    }
}

void subsystems_nlohmann(benchmark::State& state) {
    Scene scene(static_cast<int>(state.range(0)));
    using nlohmann::ordered_json;
    for (auto _ : state) {
        const auto f = memscope::web::read_figures(scene.budget, &scene.sampler.history());
        ordered_json doc;
        doc["warning_threshold"] = f.warning_threshold;
        ordered_json& rows = doc["subsystems"] = ordered_json::array();
        for (const auto& row : f.subsystems) {
            ordered_json r;
            r["name"] = row.name;
            r["status"] = memscope::to_string(row.status);
#define MEMSCOPE_X_(type, field, kind, metric, help) r[#field] = row.memory.field;
            MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(type, field, kind, metric, help) r[#field] = row.field;
            MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
            ordered_json& fm = r["formatted"];
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    if (memscope::web::is_byte_field(#field))        \
        fm[#field] = memscope::format_memory(row.memory.field);
            MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
            fm["window_peak_bytes"] = memscope::format_memory(row.window_peak_bytes);
            rows.push_back(std::move(r));
        }
        std::string out = doc.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
        benchmark::DoNotOptimize(out.data());
    }
}

}  // namespace

BENCHMARK(subsystems_writer)->Arg(6)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK(subsystems_nlohmann)->Arg(6)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK(snapshot_json)->Arg(6)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK(metrics_text)->Arg(6)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();

// SPDX-License-Identifier: MIT
// Overhead of memscope's tracked allocator against raw mimalloc and the specification's
// design, in one process. glibc malloc is measured by bench_glibc, built from this file
// with MEMSCOPE_BENCH_GLIBC, because linking mimalloc replaces malloc process-wide.
// bench/ratio_table.py runs both and prints the ratios.

#include "allocators.hpp"
#include "workloads.hpp"

#ifndef MEMSCOPE_BENCH_GLIBC
#include <memscope/scope.hpp>

namespace {

// Entering and leaving a scope by id: what a job system pays per job.
void scope_enter_leave(benchmark::State& state) {
    const memscope::TagId id = memscope::tag("bench-scope");
    for (auto _ : state) {
        const memscope::Scope scope(id);
        benchmark::ClobberMemory();
    }
}

// The same by name (MEMSCOPE_SCOPE("...")): a lock-free lookup of a known name.
void scope_by_name(benchmark::State& state) {
    static_cast<void>(memscope::tag("bench-scope-by-name"));
    for (auto _ : state) {
        MEMSCOPE_SCOPE("bench-scope-by-name");
        benchmark::ClobberMemory();
    }
}

}  // namespace
#endif

int main(int argc, char** argv) {
#ifdef MEMSCOPE_BENCH_GLIBC
    bench::register_workloads<bench::GlibcMalloc>();
#else
    bench::register_workloads<bench::RawMimalloc>();
    bench::register_workloads<bench::Memscope>();
    bench::register_workloads<bench::MemscopeScoped>();
    bench::register_workloads<bench::MimallocCall>();
    bench::register_workloads<bench::MemscopeUnsized>();
    bench::register_workloads<bench::SpecDesign>();
    benchmark::RegisterBenchmark("scope_enter_leave/by_id", scope_enter_leave);
    benchmark::RegisterBenchmark("scope_enter_leave/by_name", scope_by_name);
#endif
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

// SPDX-License-Identifier: MIT
// Overhead of memscope's tracked allocator against raw mimalloc and the specification's
// design, in one process. glibc malloc is measured by bench_glibc, built from this file
// with MEMSCOPE_BENCH_GLIBC, because linking mimalloc replaces malloc process-wide.
// bench/ratio_table.py runs both and prints the ratios.

#include "allocators.hpp"
#include "workloads.hpp"

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
#endif
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

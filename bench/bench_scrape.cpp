// SPDX-License-Identifier: MIT
// What a 10 Hz scrape of the dashboard costs a running game: the allocation throughput of
// a workload with the server running, in alternating phases without and with a client
// fetching /api/v1/snapshot and /metrics ten times a second.
//
//     build/bench/bench/bench_scrape [--threads N] [--rounds R] [--phase-ms MS] [--subsystems S]
//
// Each round measures one phase of each kind (their order alternates between rounds);
// the cost is the median over rounds of 1 - (ops/s with scrape) / (ops/s without).
// bench/server_load.sh runs it for BENCHMARKS.md.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <memscope/memscope.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct alignas(64) WorkerCount {
    std::atomic<std::uint64_t> ops{0};
};

// A game thread: mixed-size allocation churn over a live set, reporting its subsystem's
// bytes every 1024 operations as a frame would.
void worker(int index, memscope::MemoryBudget& budget, std::atomic<bool>& stop,
            WorkerCount& count) {
    std::mt19937 rng(static_cast<unsigned>(index) * 7919u + 11u);
    constexpr std::size_t kSlots = 2048;
    std::vector<std::pair<char*, std::size_t>> live(kSlots, {nullptr, 0});
    std::size_t held = 0;
    const std::string name = "Worker" + std::to_string(index);
    std::uint64_t ops = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 1024; ++i) {
            auto& slot = live[rng() % kSlots];
            held -= slot.second;
            delete[] slot.first;
            slot.second = std::size_t{16} << (rng() % 9);  // 16 B .. 4 KiB
            slot.first = new char[slot.second];
            slot.first[0] = 1;
            held += slot.second;
        }
        ops += 1024;
        count.ops.store(ops, std::memory_order_relaxed);
        budget.report(name, held, kSlots);
    }
    for (auto& slot : live) delete[] slot.first;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2;
    int rounds = 10;
    int phase_ms = 1000;
    int subsystems = 6;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--threads"))
            threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rounds"))
            rounds = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--phase-ms"))
            phase_ms = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--subsystems"))
            subsystems = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr,
                         "usage: %s [--threads N] [--rounds R] [--phase-ms MS] [--subsystems S]\n",
                         argv[0]);
            return 2;
        }
    }

    memscope::MemoryBudget budget;
    budget.configure_default_budgets();
    for (int i = 0; i < subsystems - 6; ++i) budget.report("Extra" + std::to_string(i), 1024, 1);
    memscope::ServerOptions options;
    options.port = 0;
    options.read_environment = false;
    memscope::Server server(budget, options);
    const auto started = server.start();
    if (!started) {
        std::fprintf(stderr, "bench_scrape: %s\n", started.error.c_str());
        return 1;
    }

    std::atomic<bool> stop{false};
    std::atomic<bool> scraping{false};
    std::vector<WorkerCount> counts(static_cast<std::size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back(worker, t, std::ref(budget), std::ref(stop),
                             std::ref(counts[static_cast<std::size_t>(t)]));

    // The scraper: a keep-alive client, as Prometheus or a dashboard tab would hold.
    std::atomic<std::uint64_t> scrapes{0};
    std::atomic<std::uint64_t> failures{0};
    std::thread scraper([&] {
        httplib::Client client("127.0.0.1", started.port);
        client.set_keep_alive(true);
        auto next = Clock::now();
        while (!stop.load()) {
            next += std::chrono::milliseconds(100);
            if (scraping.load()) {
                for (const char* path : {"/api/v1/snapshot", "/metrics"}) {
                    auto res = client.Get(path);
                    if (!res || res->status != 200) failures.fetch_add(1);
                }
                scrapes.fetch_add(1);
            }
            std::this_thread::sleep_until(next);
        }
    });

    auto total_ops = [&] {
        std::uint64_t sum = 0;
        for (auto& c : counts) sum += c.ops.load(std::memory_order_relaxed);
        return sum;
    };
    auto measure = [&](bool scrape) {
        scraping.store(scrape);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // settle
        const auto ops0 = total_ops();
        const auto t0 = Clock::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(phase_ms));
        const auto ops1 = total_ops();
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        return static_cast<double>(ops1 - ops0) / seconds;
    };

    measure(false);  // warm-up
    std::vector<double> off, on, cost;
    for (int r = 0; r < rounds; ++r) {
        double a, b;
        if (r % 2 == 0) {
            a = measure(false);
            b = measure(true);
        } else {
            b = measure(true);
            a = measure(false);
        }
        off.push_back(a);
        on.push_back(b);
        cost.push_back(1.0 - b / a);
    }
    scraping.store(false);
    stop.store(true);
    scraper.join();
    for (auto& w : workers) w.join();
    server.stop();

    std::printf("threads %d, subsystems %d, rounds %d x %d ms per phase\n", threads, subsystems,
                rounds, phase_ms);
    std::printf("allocation ops/s without scrape: %.3g (median)\n", median(off));
    std::printf(
        "allocation ops/s with 10 Hz scrape of /api/v1/snapshot + /metrics: %.3g (median)\n",
        median(on));
    std::printf("scrape cost: %.2f%% (median of per-round ratios; target <= 1%%)\n",
                100.0 * median(cost));
    std::printf("scrapes: %llu, failed requests: %llu\n",
                static_cast<unsigned long long>(scrapes.load()),
                static_cast<unsigned long long>(failures.load()));
    return failures.load() == 0 ? 0 : 1;
}

// SPDX-License-Identifier: MIT
// Cost of the calls a game makes every frame: MemoryBudget::report() and
// is_over_budget(), with the default 6 subsystems and with 500; and end_frame(), with 8 and
// 64 tags in use over 1 and 16 threads.

#include <benchmark/benchmark.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <memscope/budget.hpp>
#include <memscope/scope.hpp>

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

// Threads that have allocated in every tag once (so each holds rows end_frame() reads)
// and then wait, alive, until the benchmark ends.
class IdleThreads {
  public:
    IdleThreads(int count, const std::vector<memscope::TagId>& tags) {
        for (int i = 0; i < count; ++i) {
            threads_.emplace_back([this, &tags] {
                for (const memscope::TagId id : tags) {
                    const memscope::Scope scope(id);
                    ::operator delete(::operator new(16));
                }
                std::unique_lock lock(mutex_);
                ++ready_;
                cv_.notify_all();
                cv_.wait(lock, [this] { return done_; });
            });
        }
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this, count] { return ready_ == count; });
    }
    ~IdleThreads() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        for (std::thread& t : threads_) t.join();
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int ready_ = 0;
    bool done_ = false;
    std::vector<std::thread> threads_;
};

void* volatile g_sink = nullptr;

// One frame: one allocation and free in each of the tags (so every tag is in the frame),
// then end_frame() with six frame budgets to check. The allocations alone are
// frame_allocations below: the difference is end_frame()'s cost.
void frame(benchmark::State& state, bool end) {
    const int tag_count = static_cast<int>(state.range(0));
    std::vector<memscope::TagId> tags;
    for (int i = 0; i < tag_count; ++i) tags.push_back(memscope::tag("Tag" + std::to_string(i)));
    const IdleThreads others(static_cast<int>(state.range(1)) - 1, tags);
    memscope::BudgetOptions options;
    options.log_events = false;
    memscope::MemoryBudget budget(options);
    for (int i = 0; i < 6; ++i)
        budget.set_frame_budget("Tag" + std::to_string(i), {.max_allocations = 1'000'000});
    std::uint64_t frame_number = 0;
    for (auto _ : state) {
        for (const memscope::TagId id : tags) {
            const memscope::Scope scope(id);
            void* p = ::operator new(64);
            g_sink = p;
            ::operator delete(p);
        }
        if (end) budget.end_frame(++frame_number);
    }
    state.SetItemsProcessed(state.iterations());
}

void end_frame(benchmark::State& state) {
    frame(state, true);
}
void frame_allocations(benchmark::State& state) {
    frame(state, false);
}

}  // namespace

BENCHMARK(end_frame)
    ->ArgNames({"tags", "threads"})
    ->Args({8, 1})
    ->Args({64, 1})
    ->Args({8, 16})
    ->Args({64, 16});
BENCHMARK(frame_allocations)
    ->ArgNames({"tags", "threads"})
    ->Args({8, 1})
    ->Args({64, 1})
    ->Args({8, 16})
    ->Args({64, 16});
BENCHMARK(report)->Arg(6)->Arg(500);
BENCHMARK(is_over_budget)->Arg(6)->Arg(500);
BENCHMARK(snapshot)->Arg(6)->Arg(500);
BENCHMARK_MAIN();

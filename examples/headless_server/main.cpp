// SPDX-License-Identifier: MIT
// headless_server: memscope in a dedicated game server. No page is needed: the server
// serves JSON and Prometheus metrics for scrapers (see prometheus.yml), binds where the
// MEMSCOPE_BIND and MEMSCOPE_PORT environment variables say (the container image sets
// MEMSCOPE_BIND=0.0.0.0), takes its budgets from the file MEMSCOPE_CONFIG names (or
// memscope.json) over its built-in ones, and stops cleanly on SIGTERM, as `docker stop`
// sends.
//
// A 20 Hz tick loop with three subsystems of its own naming: the world cache (chunks
// around each player), player sessions, and network buffers. Players come and go in a
// slow wave, so the figures move.

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "memscope/memscope.hpp"
#include "memscope/verdict.hpp"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int signal_number) {
    g_stop.store(true, std::memory_order_relaxed);
    std::signal(signal_number, SIG_DFL);
}

constexpr int kTickRate = 20;
constexpr std::size_t kMiB = std::size_t{1} << 20;

// One connected player: what the server keeps for them.
struct Session {
    std::vector<std::uint8_t> state;                // inventory, quests, position history
    std::vector<std::uint8_t> send_buffer;          // outgoing snapshot ring
    std::vector<std::uint8_t> recv_buffer;          // incoming input ring
    std::vector<std::vector<std::uint8_t>> chunks;  // world chunks loaded around them
};

class GameServer {
  public:
    // 8 to 64 players over a two-minute wave.
    static std::size_t players_at(double seconds) {
        const double wave = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * seconds / 120.0);
        return 8 + static_cast<std::size_t>(std::lround(56.0 * wave));
    }

    void tick(double seconds) {
        const std::size_t target = players_at(seconds);
        if (sessions_.size() < target)
            join();
        else if (sessions_.size() > target)
            sessions_.pop_back();
    }

    void report(memscope::MemoryBudget& budget) const {
        std::size_t world = 0, chunks = 0, players = 0, network = 0;
        for (const auto& s : sessions_) {
            for (const auto& c : s->chunks) world += c.capacity();
            world += s->chunks.capacity() * sizeof(s->chunks[0]);
            chunks += s->chunks.size();
            players += s->state.capacity() + sizeof(Session);
            network += s->send_buffer.capacity() + s->recv_buffer.capacity();
        }
        players += sessions_.capacity() * sizeof(sessions_[0]);
        budget.report("World", world, chunks);
        budget.report("Sessions", players, sessions_.size());
        budget.report("Network", network, sessions_.size() * 2);
    }

  private:
    void join() {
        auto s = std::make_unique<Session>();
        s->state.assign(96 * 1024, 0);
        s->send_buffer.assign(256 * 1024, 0);
        s->recv_buffer.assign(32 * 1024, 0);
        s->chunks.reserve(48);
        for (int i = 0; i < 48; ++i) s->chunks.emplace_back(16 * 1024, std::uint8_t{1});
        sessions_.push_back(std::move(s));
    }

    std::vector<std::unique_ptr<Session>> sessions_;
};

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t max_ticks = 0;  // 0: until SIGINT/SIGTERM
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--ticks") == 0 && i + 1 < argc) {
            max_ticks = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr,
                         "usage: %s [--ticks N]\n"
                         "A dedicated-server example: a 20 Hz tick loop whose memory memscope\n"
                         "serves as JSON (/api/v1/...) and Prometheus metrics (/metrics).\n"
                         "Environment: MEMSCOPE_BIND (default 127.0.0.1), MEMSCOPE_PORT\n"
                         "(default 9090; 0 picks a free port), MEMSCOPE_TOKEN, MEMSCOPE_CONFIG\n"
                         "(a budget file; default memscope.json when there is one).\n",
                         argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    memscope::MemoryBudget budget;
    budget.set_budget("World", 128 * kMiB);
    budget.set_budget("Sessions", 16 * kMiB);
    budget.set_budget("Network", 32 * kMiB);
    budget.set_total_budget(192 * kMiB);
    // Operators tune budgets per deployment without a rebuild. The load logs what it
    // applied, or why it refused the file: then the built-in budgets stay.
    memscope::load_default_config(budget);

    GameServer game;
    memscope::VerdictRecorder verdict(budget, {.program = "headless_server"});

    // Default options: the server reads MEMSCOPE_BIND / MEMSCOPE_PORT / MEMSCOPE_TOKEN,
    // and samples history on its own thread.
    memscope::Server dashboard(budget);
    dashboard.set_verdict_provider([&verdict] { return verdict.evaluate().json; });
    const memscope::StartResult started = dashboard.start();
    if (started)
        std::printf("memscope dashboard: %s\n", started.url.c_str());
    else
        std::printf("memscope dashboard: not started: %s\n", started.error.c_str());

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    using Clock = std::chrono::steady_clock;
    const auto period = std::chrono::milliseconds(1000 / kTickRate);
    const Clock::time_point start = Clock::now();
    Clock::time_point next = start;
    std::uint64_t tick = 0;
    while (!g_stop.load(std::memory_order_relaxed) && (max_ticks == 0 || tick < max_ticks)) {
        ++tick;
        game.tick(static_cast<double>(tick) / kTickRate);
        game.report(budget);
        verdict.poll();
        verdict.set_progress(tick, static_cast<double>(tick) / kTickRate);
        memscope::log_periodic_stats(tick, 20 * 60);  // once a minute
        next += period;
        std::this_thread::sleep_until(next);
    }
    std::printf("headless_server: stopping after %llu ticks\n",
                static_cast<unsigned long long>(tick));
    dashboard.stop();
    budget.log_peak_summary();
    return 0;
}

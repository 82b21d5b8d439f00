// SPDX-License-Identifier: MIT
// A dashboard server over a budget whose figures move, for the promtool check
// (tests/promtool_check.sh) and for trying the API by hand:
//
//     build/tests/memscope_demo_server --port 9090 --seconds 600 --token secret
//     curl -s localhost:9090/api/v1/snapshot | jq
//
// Prints "listening on <url>" once it listens, then runs for --seconds (default 60) or
// until SIGINT/SIGTERM.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <memscope/memscope.hpp>

namespace {

volatile std::sig_atomic_t g_quit = 0;

void on_signal(int) {
    g_quit = 1;
}

}  // namespace

int main(int argc, char** argv) {
    memscope::ServerOptions options;
    int seconds = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--port") == 0)
            options.port = std::atoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--seconds") == 0)
            seconds = std::atoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--token") == 0)
            options.token = argv[i + 1];
        else if (std::strcmp(argv[i], "--workers") == 0)
            options.worker_threads = static_cast<std::size_t>(std::atoi(argv[i + 1]));
        else {
            std::fprintf(stderr, "usage: %s [--port N] [--seconds S] [--token T] [--workers N]\n",
                         argv[0]);
            return 2;
        }
    }
    options.sample_interval = std::chrono::milliseconds(200);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    memscope::MemoryBudget budget;
    budget.configure_default_budgets();
    memscope::Server server(budget, options);
    const memscope::StartResult started = server.start();
    if (!started) {
        std::fprintf(stderr, "memscope_demo_server: %s\n", started.error.c_str());
        return started.disabled ? 0 : 1;
    }
    std::printf("listening on %s\n", started.url.c_str());
    std::fflush(stdout);

    // Subsystems that load and unload, and a quoted name to exercise label escaping.
    constexpr std::size_t kMiB = std::size_t{1} << 20;
    for (int tick = 0; !g_quit && tick < seconds * 10; ++tick) {
        const std::size_t wave = static_cast<std::size_t>(tick % 100);
        budget.report("Chunks", (600 + 4 * wave) * kMiB, 1000 + wave);
        budget.report("Meshes", (200 + wave) * kMiB, 300);
        budget.report("Textures", 350 * kMiB, 64);
        budget.report("Entities", (40 + wave / 10) * kMiB, 5000);
        budget.report("Audio", (100 + wave / 4) * kMiB, 12);
        budget.report("Physics", 80 * kMiB, 900);
        budget.report("Mods \"beta\"", 3 * kMiB, 2);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    server.stop();
    return 0;
}

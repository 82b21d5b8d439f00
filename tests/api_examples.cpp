// SPDX-License-Identifier: MIT
// Prints a real response of every endpoint, for docs/api.md: a server on an ephemeral port
// over a budget with the specification's six subsystems, a few samples, events, marks and
// a verdict provider; then a budget with measured, reported and both rows. Each response is printed as
//
//     === GET /api/v1/totals -> 200
//     { ...pretty-printed JSON... }
//
// usage: memscope_api_examples > examples.txt

#include <httplib.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <memscope/memscope.hpp>

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr const char* kToken = "example-token";

void print(const std::string& what, const httplib::Result& r, bool show_headers = false) {
    if (!r) {
        std::printf("=== %s -> no response (%d)\n\n", what.c_str(), static_cast<int>(r.error()));
        return;
    }
    std::printf("=== %s -> %d\n", what.c_str(), r->status);
    if (show_headers)
        for (const auto& [k, v] : r->headers) std::printf("%s: %s\n", k.c_str(), v.c_str());
    // ordered_json keeps the server's key order.
    const auto parsed = nlohmann::ordered_json::parse(r->body, nullptr, false);
    if (!parsed.is_discarded())
        std::printf("%s\n\n", parsed.dump(2).c_str());
    else
        std::printf("%s\n\n", r->body.c_str());
}

// The specification's six subsystems as a game's first level loads them.
void report_level1(memscope::MemoryBudget& budget) {
    budget.report("Chunks", 610 * kMiB, 18000);
    budget.report("Meshes", 240 * kMiB, 5200);
    budget.report("Textures", 402 * kMiB, 310);
    budget.report("Entities", 96 * kMiB, 42000);
    budget.report("Audio", 70 * kMiB, 48);
    budget.report("Physics", 64 * kMiB, 9100);
}

// Two marks, with the second level's figures (a warning and an over-budget) and samples
// between them.
void load_level2(httplib::Client& c, memscope::MemoryBudget& budget, memscope::Sampler& sampler) {
    print("POST /api/v1/marks {\"name\":\"level1-loaded\"}",
          c.Post("/api/v1/marks", R"({"name":"level1-loaded"})", "application/json"));
    budget.report("Chunks", 880 * kMiB, 26000);  // warning
    budget.report("Audio", 131 * kMiB, 52);      // over budget
    budget.report("Meshes", 310 * kMiB, 6100);
    sampler.sample_now();
    c.Post("/api/v1/marks", R"({"name":"level2-loaded"})", "application/json");
    sampler.sample_now();
}

// Every reading endpoint.
void print_reads(httplib::Client& c) {
    print("GET /healthz", c.Get("/healthz"), true);
    for (const char* path :
         {"/api/v1/allocator", "/api/v1/process", "/api/v1/subsystems", "/api/v1/totals",
          "/api/v1/events?since=0", "/api/v1/events?since=1", "/api/v1/history?since=0",
          "/api/v1/trends", "/api/v1/reconciliation", "/api/v1/snapshot", "/api/v1/marks",
          "/api/v1/diff?from=level1-loaded&to=level2-loaded", "/api/v1/verdict"})
        print(std::string("GET ") + path, c.Get(path));
    print("GET /metrics", c.Get("/metrics"), true);
}

// Every control endpoint, with the token.
void print_controls(httplib::Client& c, const httplib::Headers& auth) {
    print("PUT /api/v1/budgets/Audio {\"budget\":\"192 MiB\"} (with the token)",
          c.Put("/api/v1/budgets/Audio", auth, R"({"budget":"192 MiB"})", "application/json"));
    print("POST /api/v1/peaks/reset (with the token)",
          c.Post("/api/v1/peaks/reset", auth, "", "application/json"));
    print("POST /api/v1/pressure/Chunks {\"status\":\"warning\"} (with the token)",
          c.Post("/api/v1/pressure/Chunks", auth, R"({"status":"warning"})", "application/json"));
}

// The errors: no token, a bad body, a bad type, a bad parameter, no such path or method,
// and a control endpoint of a server that has no token.
void print_errors(httplib::Client& c, const httplib::Headers& auth) {
    print("PUT /api/v1/budgets/Audio without a token header",
          c.Put("/api/v1/budgets/Audio", R"({"budget_bytes":1})", "application/json"), true);
    print("PUT /api/v1/budgets/Audio {\"budget_bytes\":-1}",
          c.Put("/api/v1/budgets/Audio", auth, R"({"budget_bytes":-1})", "application/json"));
    print("PUT /api/v1/budgets/Audio as text/plain",
          c.Put("/api/v1/budgets/Audio", auth, R"({"budget_bytes":1})", "text/plain"));
    print("GET /api/v1/events?since=abc", c.Get("/api/v1/events?since=abc"));
    print("GET /api/v1/nope", c.Get("/api/v1/nope"));
    print("DELETE /api/v1/snapshot", c.Delete("/api/v1/snapshot"), true);
    memscope::MemoryBudget other;
    memscope::ServerOptions o;
    o.port = 0;
    o.read_environment = false;
    memscope::Server no_token(other, o);
    const auto s = no_token.start();
    httplib::Client nc("127.0.0.1", s.port);
    print("POST /api/v1/peaks/reset on a server without a token",
          nc.Post("/api/v1/peaks/reset", auth, "", "application/json"));
}

// The live stream: the first snapshot, an event fired after connecting, a sample, and the
// end when the server stops.
void print_stream(memscope::Server& server, memscope::MemoryBudget& budget,
                  memscope::Sampler& sampler) {
    std::string stream;
    std::thread reader([&, port = server.port()] {
        httplib::Client sc("127.0.0.1", port);
        sc.Get("/api/v1/stream", [&](const char* data, std::size_t n) {
            stream.append(data, n);
            return stream.find("event: end") == std::string::npos;
        });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    budget.report("Physics", 250 * kMiB, 9400);  // warning, while the client listens
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sampler.sample_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server.stop();
    reader.join();
    std::printf("=== GET /api/v1/stream (data lines cut at 160 characters)\n");
    std::size_t at = 0;
    while (at < stream.size()) {
        std::size_t end = stream.find('\n', at);
        if (end == std::string::npos) end = stream.size();
        const std::string line = stream.substr(at, end - at);
        std::printf("%s\n",
                    line.size() > 160 ? (line.substr(0, 160) + "...").c_str() : line.c_str());
        at = end + 1;
    }
}

// A budget with a row of each source: Textures reported (GPU memory no tag sees), Meshes
// measured (blocks under a Scope), Chunks both (measured, and reported with an estimate
// that is too low). Its own server, after the others: the tags it makes would otherwise
// join the first budget's rows at its next sample.
void print_sources() {
    memscope::MemoryBudget budget;
    budget.configure_default_budgets();
    std::vector<std::unique_ptr<char[]>> blocks;
    blocks.reserve(80);
    const auto hold = [&blocks](const char* tag, int count) {
        const memscope::Scope scope(tag);
        for (int i = 0; i < count; ++i) blocks.emplace_back(new char[64 * 1024]);
    };
    hold("Meshes", 24);
    hold("Chunks", 48);
    budget.report("Textures", 402 * kMiB, 310);
    budget.report("Chunks", 2 * kMiB, 40);  // the game's estimate of what Chunks holds
    budget.update();
    memscope::ServerOptions options;
    options.port = 0;
    options.read_environment = false;
    memscope::Server server(budget, options);
    const auto started = server.start();
    if (!started) return;
    httplib::Client c("127.0.0.1", started.port);
    print("GET /api/v1/subsystems (measured, reported and both rows)", c.Get("/api/v1/subsystems"));
    print("GET /api/v1/reconciliation (measured, reported and both rows)",
          c.Get("/api/v1/reconciliation"));
    const auto metrics = c.Get("/metrics");
    if (!metrics) return;
    std::printf("=== GET /metrics (the source families)\n");
    std::size_t at = metrics->body.find("# HELP memscope_subsystem_info");
    const std::size_t end = metrics->body.find(
        "# HELP", metrics->body.find("# TYPE memscope_subsystem_reported_bytes"));
    std::printf("%s\n", metrics->body.substr(at, end - at).c_str());
}

// A game's frames: three quiet frames of Entities, then one that spawns a burst past the
// Entities frame budget. Its own budget and server, as print_sources().
void print_frames() {
    memscope::BudgetOptions bo;
    bo.log_events = false;
    memscope::MemoryBudget budget(bo);
    budget.set_frame_budget("Entities", {.max_allocations = 1000, .max_bytes = 0});
    budget.set_frame_budget(memscope::kTotalName, {.max_allocations = 5000, .max_bytes = 0});
    std::vector<std::unique_ptr<int>> live;
    live.reserve(4000);
    budget.end_frame(1);
    for (std::uint64_t frame = 2; frame <= 5; ++frame) {
        const int count = frame == 5 ? 3000 : 40;
        {
            const memscope::Scope scope("Entities");
            live.clear();
            for (int i = 0; i < count; ++i) live.push_back(std::make_unique<int>(i));
        }
        budget.end_frame(frame);
    }
    live.clear();
    memscope::ServerOptions options;
    options.port = 0;
    options.read_environment = false;
    memscope::Server server(budget, options);
    const auto started = server.start();
    if (!started) return;
    httplib::Client c("127.0.0.1", started.port);
    print("GET /api/v1/frames?since=3", c.Get("/api/v1/frames?since=3"));
    print("GET /api/v1/events (a frame_over_budget event)", c.Get("/api/v1/events"));
    const auto metrics = c.Get("/metrics");
    if (!metrics) return;
    std::printf("=== GET /metrics (the frame families)\n");
    const std::size_t at = metrics->body.find("# HELP memscope_frame_allocations");
    const std::size_t end = metrics->body.find("# HELP process_start_time_seconds");
    std::printf("%s\n", metrics->body.substr(at, end - at).c_str());
}

}  // namespace

int main() {
    memscope::set_log_level(memscope::LogLevel::error);
    memscope::MemoryBudget budget;
    budget.configure_default_budgets();
    memscope::SamplerOptions so;
    so.interval = std::chrono::hours(1);  // samples are taken by hand below
    memscope::Sampler sampler(budget, so);
    report_level1(budget);
    sampler.sample_now();

    memscope::ServerOptions options;
    options.port = 0;
    options.read_environment = false;
    options.token = kToken;
    options.sampler = &sampler;
    memscope::Server server(budget, options);
    const auto started = server.start();
    if (!started) {
        std::fprintf(stderr, "%s\n", started.error.c_str());
        return 1;
    }
    server.set_verdict_provider([] {
        return std::string(
            R"J({"pass": false, "failures": ["Audio went over its budget (131.0 MB / 128.0 MB)"]})J");
    });
    budget.on_pressure("Chunks",
                       [](const memscope::PressureEvent&) { /* the game would shed load */ });
    httplib::Client c("127.0.0.1", started.port);
    const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};

    load_level2(c, budget, sampler);
    print_reads(c);
    print_controls(c, auth);
    print_errors(c, auth);
    print_stream(server, budget, sampler);
    print_sources();
    print_frames();
    return 0;
}

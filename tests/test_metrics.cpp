// SPDX-License-Identifier: MIT
// /metrics without a socket: the exposition format's rules (one HELP and TYPE per family,
// families contiguous, counters named _total, label values escaped) and that every figure
// of the X-macro lists is exported.

#include <doctest/doctest.h>

#include <memscope/memscope.hpp>

#if MEMSCOPE_WITH_SERVER

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "figures.hpp"
#include "metrics.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct Family {
    std::string type;
    int help_lines = 0;
    int type_lines = 0;
    int samples = 0;
};

// Parses the exposition strictly enough to catch what promtool would refuse.
std::map<std::string, Family> check_exposition(const std::string& text) {
    std::map<std::string, Family> families;
    std::string current;  // the family whose samples may follow
    std::set<std::string> closed;
    std::istringstream in(text);
    std::string line;
    REQUIRE(text.ends_with("\n"));
    while (std::getline(in, line)) {
        REQUIRE_FALSE(line.empty());
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            if (name != current) {
                CHECK_MESSAGE(closed.count(name) == 0, ("family split: " + name));
                if (!current.empty()) closed.insert(current);
                current = name;
            }
            Family& f = families[name];
            if (line[2] == 'H')
                ++f.help_lines;
            else
                f.type = rest.substr(name.size() + 1), ++f.type_lines;
            continue;
        }
        std::string name = line.substr(0, line.find_first_of("{ "));
        // A histogram's samples carry the family's name plus a suffix.
        if (families[current].type == "histogram")
            for (std::string_view suffix : {"_bucket", "_sum", "_count"})
                if (name == current + std::string(suffix)) name = current;
        CHECK_MESSAGE(name == current, ("sample outside its family: " + line));
        ++families[name].samples;
        const std::string value = line.substr(line.rfind(' ') + 1);
        std::size_t used = 0;
        CHECK_NOTHROW((void)std::stod(value, &used));
        CHECK(used == value.size());
    }
    for (const auto& [name, f] : families) {
        CHECK_MESSAGE(f.help_lines == 1, name);
        CHECK_MESSAGE(f.type_lines == 1, name);
        CHECK_MESSAGE((f.type == "gauge" || f.type == "counter" || f.type == "histogram"), name);
        if (f.type == "counter") CHECK_MESSAGE(name.ends_with("_total"), name);
        // Ours, or the standard process family that every Prometheus client exports.
        CHECK_MESSAGE((name.starts_with("memscope_") || name == "process_start_time_seconds"),
                      name);
    }
    return families;
}

}  // namespace

TEST_CASE("the exposition follows the text format and exports every listed figure") {
    memscope::MemoryBudget budget;
    budget.configure_default_budgets();
    budget.report("Chunks", 900 * kMiB, 12);
    const auto f = memscope::web::read_figures(budget, nullptr);
    const std::string text = memscope::web::metrics_text(f);
    const auto families = check_exposition(text);

#define MEMSCOPE_X_(ctype, field, kind, metric, help)     \
    CHECK_MESSAGE(families.count(#metric) == 1, #metric); \
    if (families.count(#metric)) CHECK(families.at(#metric).type == #kind);
    MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
    MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
    MEMSCOPE_BUDGET_TOTALS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(ctype, field, kind, metric, help)       \
    REQUIRE_MESSAGE(families.count(#metric) == 1, #metric); \
    CHECK(families.at(#metric).samples == 6);
    MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
    MEMSCOPE_SUBSYSTEM_EXTRA_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
#define MEMSCOPE_X_(ctype, field, kind, metric, help) \
    if (!std::string_view(#metric).empty()) CHECK_MESSAGE(families.count(#metric) == 1, #metric);
    MEMSCOPE_RECONCILIATION_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_

    CHECK(text.find("memscope_subsystem_current_bytes{subsystem=\"Chunks\"} 943718400\n") !=
          std::string::npos);
    CHECK(text.find("memscope_subsystem_usage_ratio{subsystem=\"Chunks\"} 0.87890625\n") !=
          std::string::npos);
    CHECK(text.find("memscope_subsystem_warnings_total{subsystem=\"Chunks\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("memscope_events_total{kind=\"warning\"} 1\n") != std::string::npos);
    CHECK(text.find("memscope_events_total{kind=\"leak_suspect\"} 0\n") != std::string::npos);
    CHECK(text.find("memscope_events_total{kind=\"forecast\"} 0\n") != std::string::npos);
    CHECK(text.find("memscope_events_total{kind=\"frame_over_budget\"} 0\n") != std::string::npos);
    CHECK(families.at("memscope_events_total").samples == 6);
    REQUIRE(families.count("memscope_subsystem_forecast_seconds") == 1);
    CHECK(families.at("memscope_subsystem_forecast_seconds").type == "gauge");
    CHECK(families.at("memscope_subsystem_forecast_seconds").samples == 6);
    CHECK(text.find("memscope_subsystem_forecast_seconds{subsystem=\"Chunks\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("memscope_total_forecast_seconds 0\n") != std::string::npos);
    CHECK(text.find("memscope_warning_threshold_ratio 0.85\n") != std::string::npos);
    CHECK(text.find("memscope_build_info{version=\"" MEMSCOPE_VERSION "\",") != std::string::npos);
}

TEST_CASE("the allocator's totals split by source, in families of their own") {
    memscope::MemoryBudget budget;
    auto f = memscope::web::read_figures(budget, nullptr);
    f.allocator.total_allocated_bytes = 5000;
    f.allocator.allocation_count = 70;
    f.allocator.deallocation_count = 30;
    f.sources.operators = {.current_bytes = 3000, .allocation_count = 60, .deallocation_count = 25};
    f.sources.malloc_family = {
        .current_bytes = 2000, .allocation_count = 10, .deallocation_count = 5};
    const std::string text = memscope::web::metrics_text(f);
    const auto families = check_exposition(text);
#define MEMSCOPE_X_(ctype, field, kind, metric, help)       \
    REQUIRE_MESSAGE(families.count(#metric) == 1, #metric); \
    CHECK(families.at(#metric).type == #kind);              \
    CHECK(families.at(#metric).samples == 2);
    MEMSCOPE_SOURCE_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    for (const char* line : {"memscope_allocated_bytes_by_source{source=\"operators\"} 3000\n",
                             "memscope_allocated_bytes_by_source{source=\"malloc\"} 2000\n",
                             "memscope_allocations_by_source_total{source=\"operators\"} 60\n",
                             "memscope_allocations_by_source_total{source=\"malloc\"} 10\n",
                             "memscope_deallocations_by_source_total{source=\"operators\"} 25\n",
                             "memscope_deallocations_by_source_total{source=\"malloc\"} 5\n"})
        CHECK_MESSAGE(text.find(line) != std::string::npos, line);
    // The totals keep their unlabelled series, which the fleet's rules query.
    CHECK(text.find("\nmemscope_allocated_bytes 5000\n") != std::string::npos);
    CHECK(text.find("\nmemscope_allocations_total 70\n") != std::string::npos);
    CHECK(text.find("\nmemscope_deallocations_total 30\n") != std::string::npos);
}

TEST_CASE("memscope_events_total counts each kind, past the event ring's capacity") {
    memscope::BudgetOptions options;
    options.event_capacity = 2;
    options.log_events = false;
    memscope::MemoryBudget budget(options);
    budget.set_budget("Chunks", 100);
    for (int i = 0; i < 3; ++i) {
        budget.report("Chunks", 120, 1);  // warning and over budget
        budget.report("Chunks", 10, 1);   // recovered
    }
    memscope::BudgetEvent leak;
    leak.kind = memscope::EventKind::leak_suspect;
    leak.subsystem = "Chunks";
    budget.push_event(leak);
    budget.report("Chunks", 50, 1);
    budget.set_forecast("Chunks", memscope::Forecast{30.0, 1.0});
    const std::string text =
        memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    check_exposition(text);
    const memscope::EventCounts counts = budget.event_counts();
    CHECK(counts.leak_suspect == 1);
    CHECK(counts.forecast == 1);
    CHECK(counts.warning + counts.over_budget + counts.recovered + counts.leak_suspect +
              counts.forecast ==
          budget.last_event_sequence());
    CHECK(budget.events().size() == 2);
    for (auto kind : {memscope::EventKind::warning, memscope::EventKind::over_budget,
                      memscope::EventKind::recovered, memscope::EventKind::leak_suspect,
                      memscope::EventKind::forecast, memscope::EventKind::frame_over_budget}) {
        const std::string line = "memscope_events_total{kind=\"" +
                                 std::string(memscope::to_string(kind)) + "\"} " +
                                 std::to_string(counts.of(kind)) + "\n";
        CHECK_MESSAGE(text.find(line) != std::string::npos, line);
    }
    CHECK(counts.recovered == 3);
}

TEST_CASE("the standing forecasts are gauges of seconds, back to 0 when they end") {
    memscope::BudgetOptions options;
    options.log_events = false;
    memscope::MemoryBudget budget(options);
    budget.set_budget("Chunks", 1000);
    budget.set_budget("Meshes", 1000);
    budget.set_total_budget(4000);
    budget.report("Chunks", 500, 1);
    budget.report("Meshes", 100, 1);
    budget.set_forecast("Chunks", memscope::Forecast{42.5, 10.0});
    budget.set_forecast(memscope::kTotalName, memscope::Forecast{55.0, 12.0});
    auto text = memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    check_exposition(text);
    CHECK(text.find("memscope_subsystem_forecast_seconds{subsystem=\"Chunks\"} 42.5\n") !=
          std::string::npos);
    CHECK(text.find("memscope_subsystem_forecast_seconds{subsystem=\"Meshes\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("memscope_total_forecast_seconds 55\n") != std::string::npos);
    budget.set_forecast("Chunks", std::nullopt);
    budget.set_forecast(memscope::kTotalName, std::nullopt);
    text = memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    CHECK(text.find("memscope_subsystem_forecast_seconds{subsystem=\"Chunks\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("memscope_total_forecast_seconds 0\n") != std::string::npos);
}

// `count` allocations and frees in the scope `name`, through the operators themselves.
void* volatile g_sink = nullptr;
void churn_in(std::string_view name, int count) {
    const memscope::Scope scope(name);
    for (int i = 0; i < count; ++i) {
        void* p = ::operator new(16);
        g_sink = p;
        ::operator delete(p);
    }
}

TEST_CASE("memscope_frame_allocations: a cumulative histogram of allocations per frame") {
    memscope::BudgetOptions options;
    options.log_events = false;
    memscope::MemoryBudget budget(options);
    budget.set_frame_budget("Entities", {.max_allocations = 500});
    budget.set_frame_budget(memscope::kTotalName, {.max_allocations = 5000, .max_bytes = 0});
    budget.end_frame(1);  // the first frame counts whatever came before
    churn_in("Entities", 100);
    budget.end_frame(2);
    churn_in("Entities", 2000);
    budget.end_frame(3);
    const std::string text =
        memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    const auto families = check_exposition(text);
    REQUIRE(families.count("memscope_frame_allocations") == 1);
    CHECK(families.at("memscope_frame_allocations").type == "histogram");
    // One sample per bound, +Inf, _sum and _count.
    CHECK(families.at("memscope_frame_allocations").samples ==
          static_cast<int>(memscope::kFrameAllocationBuckets.size()) + 3);
    // Without tracking end_frame() records nothing: an empty histogram.
    const std::string frames = memscope::tracking_enabled() ? "3" : "0";
    CHECK(text.find("memscope_frame_allocations_bucket{le=\"+Inf\"} " + frames + "\n") !=
          std::string::npos);
    CHECK(text.find("memscope_frame_allocations_count " + frames + "\n") != std::string::npos);
    if (memscope::tracking_enabled()) {
        // Frame 3 made 2000 allocations or a few more; frame 1 whatever came before it.
        const memscope::FrameStats stats = budget.frame_stats();
        CHECK(stats.worst_allocations >= 2000);
        CHECK(text.find("memscope_frame_allocations_sum " + std::to_string(stats.allocations) +
                        "\n") != std::string::npos);
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < memscope::kFrameAllocationBuckets.size(); ++i) {
            cumulative += stats.allocation_histogram[i];
            const std::string line = "memscope_frame_allocations_bucket{le=\"" +
                                     std::to_string(memscope::kFrameAllocationBuckets[i]) + "\"} " +
                                     std::to_string(cumulative) + "\n";
            CHECK_MESSAGE(text.find(line) != std::string::npos, line);
        }
        CHECK(text.find("memscope_frames_over_budget_total{subsystem=\"Entities\"} 1\n") !=
              std::string::npos);
        CHECK(text.find("memscope_events_total{kind=\"frame_over_budget\"} 1\n") !=
              std::string::npos);
    }
    CHECK(text.find("memscope_frames_over_budget_total{subsystem=\"(total)\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("memscope_frame_budget_allocations{subsystem=\"(total)\"} 5000\n") !=
          std::string::npos);
    CHECK(text.find("memscope_frame_budget_allocations{subsystem=\"Entities\"} 500\n") !=
          std::string::npos);
    CHECK(text.find("memscope_frame_budget_bytes{subsystem=\"Entities\"} 0\n") !=
          std::string::npos);
}

TEST_CASE("process_start_time_seconds: when this process started, since the Unix epoch") {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double started = memscope::web::process_start_time_seconds();
    CHECK(started <= now + 1);  // btime is whole seconds
    CHECK(started > now - 24 * 3600);
    memscope::MemoryBudget budget;
    const std::string text =
        memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    CHECK(check_exposition(text).at("process_start_time_seconds").type == "gauge");
}

TEST_CASE("memscope_subsystem_info says each row's source; reported rows their report") {
    if (!memscope::tracking_enabled()) return;  // no tags, no measured rows
    memscope::MemoryBudget budget;
    budget.report("MetReported", 5 * kMiB, 7);
    std::vector<std::unique_ptr<char[]>> blocks;
    blocks.reserve(8);  // outside the scopes: each tag holds its blocks alone
    {
        const memscope::Scope scope("MetMeasured");
        for (int i = 0; i < 4; ++i) blocks.emplace_back(new char[64 * 1024]);
    }
    {
        const memscope::Scope scope("MetBoth");
        for (int i = 0; i < 4; ++i) blocks.emplace_back(new char[32 * 1024]);
    }
    budget.report("MetBoth", 3 * kMiB, 9);
    budget.update();
    const std::string text =
        memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    const auto families = check_exposition(text);
    const auto has = [&](const std::string& line) {
        CHECK_MESSAGE(text.find(line) != std::string::npos, line);
    };
    has("memscope_subsystem_info{subsystem=\"MetReported\",source=\"reported\"} 1\n");
    has("memscope_subsystem_info{subsystem=\"MetMeasured\",source=\"measured\"} 1\n");
    has("memscope_subsystem_info{subsystem=\"MetBoth\",source=\"both\"} 1\n");
    CHECK(families.at("memscope_subsystem_info").type == "gauge");
    has("memscope_subsystem_reported_bytes{subsystem=\"MetReported\"} 5242880\n");
    has("memscope_subsystem_reported_bytes{subsystem=\"MetBoth\"} 3145728\n");
    CHECK(text.find("memscope_subsystem_reported_bytes{subsystem=\"MetMeasured\"}") ==
          std::string::npos);  // nothing reported, no sample
    CHECK(families.at("memscope_subsystem_reported_bytes").samples == 2);
    // The existing series keep their one label: queries written against them still match.
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("memscope_subsystem_") &&
            !line.starts_with("memscope_subsystem_info{"))
            CHECK_MESSAGE(line.find("source=") == std::string::npos, line);
}

TEST_CASE("subsystem names are escaped as label values") {
    memscope::MemoryBudget budget;
    budget.report("quote\" back\\slash\nnewline", 1, 1);
    const std::string text =
        memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr));
    check_exposition(text);
    CHECK(text.find("memscope_subsystem_current_bytes{subsystem=\"quote\\\" "
                    "back\\\\slash\\nnewline\"} 1\n") != std::string::npos);
}

TEST_CASE("an empty budget still gives a valid exposition") {
    memscope::MemoryBudget budget;
    check_exposition(memscope::web::metrics_text(memscope::web::read_figures(budget, nullptr)));
}

#else

TEST_CASE("metrics are part of the server build only") {
    CHECK_FALSE(memscope::server_available());
}

#endif

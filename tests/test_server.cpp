// SPDX-License-Identifier: MIT
// The dashboard server over real HTTP on ephemeral ports, with cpp-httplib's client:
// every endpoint and its schema, the live stream, token rules, bad requests, stop with a
// client connected, two servers at once, a busy port, the environment overrides, marks
// and diffs. In a build without the server, only that start() says so.

#include <doctest/doctest.h>

#include <memscope/memscope.hpp>

#if MEMSCOPE_WITH_SERVER

#include <fcntl.h>
#include <httplib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "router.hpp"
#include "test_support.hpp"

using memscope::MemoryBudget;
using memscope::Server;
using memscope::ServerOptions;
using memscope_test::kMiB;
using memscope_test::LogCapture;
using memscope_test::RawSocket;
using memscope_test::Running;
using memscope_test::ScopedEnv;
using memscope_test::TempDir;
using memscope_test::test_options;
using memscope_test::wait_until;
using nlohmann::json;

namespace {

constexpr const char* kToken = "s3cret-T0ken";

httplib::Headers bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
}

json parse(const httplib::Result& r) {
    REQUIRE(r);
    const auto type = r->get_header_value("Content-Type");
    CHECK(type == "application/json; charset=utf-8");
    return json::parse(r->body);
}

// The schema rules of docs/api.md, checked recursively: every "*_bytes" figure is an
// integer (or a {from, to, delta} object in diffs), and every "formatted" object holds
// strings, each beside an integer of the same key in its parent.
void check_byte_rules(const json& j, const std::string& where = "$") {
    if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i)
            check_byte_rules(j[i], where + "[" + std::to_string(i) + "]");
        return;
    }
    if (!j.is_object()) return;
    for (const auto& [key, value] : j.items()) {
        const std::string path = where + "." + key;
        if (key == "formatted") {
            REQUIRE_MESSAGE(value.is_object(), path);
            for (const auto& [fkey, fvalue] : value.items()) {
                CHECK_MESSAGE(fvalue.is_string(), (path + "." + fkey));
                CHECK_MESSAGE(j.contains(fkey), (path + "." + fkey + " has no figure beside it"));
            }
            continue;
        }
        if (key.ends_with("_bytes") && value.is_array()) {
            for (const json& x : value)
                CHECK_MESSAGE(x.is_number_integer(), (path + " has a non-integer"));
        } else if (key.ends_with("_bytes") && !value.is_object()) {
            CHECK_MESSAGE(value.is_number_integer(), (path + " is not an integer"));
        }
        check_byte_rules(value, path);
    }
}

void check_common_headers(const httplib::Result& r) {
    REQUIRE(r);
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(r->get_header_value("Content-Security-Policy").find("default-src 'self'") !=
          std::string::npos);
    CHECK(r->get_header_value("Cache-Control") == "no-store");
    CHECK_FALSE(r->has_header("Access-Control-Allow-Origin"));
}

void require_keys(const json& j, std::initializer_list<const char*> keys) {
    for (const char* k : keys)
        CHECK_MESSAGE(j.contains(k),
                      (std::string("missing key ") + k + " in " + j.dump().substr(0, 200)));
}

// The allocator's `sources`: both families with their figures as integers. Their sums
// against the totals are checked with fixed figures in test_router.cpp: here the server's
// own threads allocate between the two readings.
void check_sources(const json& allocator) {
    REQUIRE(allocator.contains("sources"));
    const json& s = allocator["sources"];
    require_keys(s, {"malloc_counted", "operators", "malloc"});
    CHECK(s["malloc_counted"] == memscope::malloc_counting_enabled());
    for (const char* source : {"operators", "malloc"}) {
        require_keys(s[source],
                     {"current_bytes", "allocation_count", "deallocation_count", "formatted"});
        CHECK(s[source]["allocation_count"].is_number_integer());
        CHECK(s[source]["deallocation_count"].is_number_integer());
    }
    if (memscope::tracking_enabled())
        CHECK(s["operators"]["allocation_count"].get<std::uint64_t>() > 0);
    if (!memscope::malloc_counting_enabled())
        CHECK(s["malloc"]["allocation_count"].get<std::uint64_t>() == 0);
}

// Reads a live stream on its own thread until told to stop.
class StreamReader {
  public:
    StreamReader(int port, std::string path = "/api/v1/stream") {
        thread_ = std::thread([this, port, path] {
            httplib::Client c("127.0.0.1", port);
            c.set_read_timeout(std::chrono::seconds(60));
            auto result = c.Get(path, [this](const char* data, std::size_t size) {
                std::lock_guard lock(mutex_);
                text_.append(data, size);
                return !quit_.load();
            });
            std::lock_guard lock(mutex_);
            if (result) status_ = result->status;
            finished_ = true;
        });
    }
    ~StreamReader() {
        quit_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::string text() const {
        std::lock_guard lock(mutex_);
        return text_;
    }
    bool contains(std::string_view s) const { return text().find(s) != std::string::npos; }
    bool finished() const {
        std::lock_guard lock(mutex_);
        return finished_;
    }
    // Stops reading at the next chunk and waits for the client to return.
    void quit() {
        quit_ = true;
        if (thread_.joinable()) thread_.join();
    }

    // The data lines of every message of type `event`.
    std::vector<json> messages(std::string_view event) const {
        std::vector<json> out;
        const std::string all = text();
        std::size_t at = 0;
        while ((at = all.find("event: " + std::string(event) + "\n", at)) != std::string::npos) {
            const auto data = all.find("data: ", at);
            const auto end = all.find("\n\n", data);
            if (data == std::string::npos || end == std::string::npos) break;
            out.push_back(json::parse(all.substr(data + 6, end - data - 6)));
            at = end;
        }
        return out;
    }

  private:
    std::thread thread_;
    mutable std::mutex mutex_;
    std::string text_;
    std::atomic<bool> quit_{false};
    bool finished_ = false;
    int status_ = 0;
};

// The status of GET /healthz on 127.0.0.1:port, or -1 when nothing answered.
int healthz_status(int port) {
    httplib::Client c("127.0.0.1", port);
    const auto r = c.Get("/healthz");
    return r ? r->status : -1;
}

}  // namespace

TEST_CASE("server_available() is true in this build") {
    CHECK(memscope::server_available());
}

TEST_CASE("start() on port 0 reports the real port and url; stop() and restart work") {
    MemoryBudget budget;
    Server server(budget, test_options());
    CHECK_FALSE(server.running());
    const auto started = server.start();
    REQUIRE(started);
    CHECK(started.port > 0);
    CHECK(started.url == "http://127.0.0.1:" + std::to_string(started.port) + "/");
    CHECK(server.running());
    CHECK(server.port() == started.port);
    CHECK(server.start().port == started.port);  // a second start() changes nothing
    server.stop();
    CHECK_FALSE(server.running());
    CHECK(server.port() == 0);
    server.stop();  // twice is fine
    const auto again = server.start();
    REQUIRE(again);
    CHECK(healthz_status(again.port) == 200);
}

TEST_CASE("GET /healthz") {
    Running s;
    auto c = s.client();
    auto r = c.Get("/healthz");
    check_common_headers(r);
    CHECK(r->status == 200);
    CHECK(parse(r)["status"] == "ok");
}

TEST_CASE("GET /api/v1/allocator: every allocator field as an integer") {
    Running s;
    auto c = s.client();
    auto r = c.Get("/api/v1/allocator");
    check_common_headers(r);
    CHECK(r->status == 200);
    const json j = parse(r);
    require_keys(j, {"total_allocated_bytes", "peak_allocated_bytes", "allocation_count",
                     "deallocation_count", "net_allocations", "peak_tolerance_bytes",
                     "tracking_enabled", "backend", "formatted"});
    CHECK(j["allocation_count"].is_number_integer());
    CHECK(j["formatted"].contains("total_allocated_bytes"));
    check_byte_rules(j);
    if (memscope::tracking_enabled()) CHECK(j["allocation_count"].get<std::uint64_t>() > 0);
    check_sources(j);
}

TEST_CASE("GET /api/v1/process") {
    Running s;
    auto c = s.client();
    const json j = parse(c.Get("/api/v1/process"));
    require_keys(j, {"resident_bytes", "peak_resident_bytes", "committed_bytes",
                     "peak_committed_bytes", "formatted"});
    CHECK(j["resident_bytes"].get<std::uint64_t>() > 0);
    check_byte_rules(j);
}

TEST_CASE("GET /api/v1/subsystems: the table, sorted by name, with status and usage") {
    Running s;
    s.budget.report("Audio", 120 * kMiB, 3);  // 94% of 128 MiB: warning
    auto c = s.client();
    const json j = parse(c.Get("/api/v1/subsystems"));
    CHECK(j["warning_threshold"].get<double>() == doctest::Approx(0.85));
    const json& rows = j["subsystems"];
    REQUIRE(rows.size() == 6);
    CHECK(rows[0]["name"] == "Audio");
    CHECK(rows[0]["status"] == "warning");
    CHECK(rows[0]["usage"].get<double>() == doctest::Approx(120.0 / 128.0));
    CHECK(rows[0]["warnings"] == 1);
    CHECK(rows[1]["name"] == "Chunks");
    CHECK(rows[1]["current_bytes"] == 300 * kMiB);
    CHECK(rows[1]["budget_bytes"] == 1024 * kMiB);
    CHECK(rows[1]["allocation_count"] == 1200);
    CHECK(rows[1]["formatted"]["current_bytes"] == "300.0 MB");
    for (const json& row : rows)
        require_keys(row,
                     {"name", "status", "current_bytes", "peak_bytes", "budget_bytes",
                      "allocation_count", "usage", "window_peak_bytes", "seconds_over_threshold",
                      "seconds_over_budget", "warnings", "formatted"});
    check_byte_rules(j);
}

TEST_CASE("GET /api/v1/totals") {
    Running s;
    auto c = s.client();
    const json j = parse(c.Get("/api/v1/totals"));
    require_keys(j, {"current_bytes", "peak_bytes", "budget_bytes", "usage", "subsystem_count",
                     "status", "warning_threshold", "formatted"});
    CHECK(j["current_bytes"] == 400 * kMiB);
    CHECK(j["budget_bytes"] == 4096 * kMiB);
    CHECK(j["subsystem_count"] == 6);
    CHECK(j["status"] == "ok");
    check_byte_rules(j);
}

TEST_CASE("GET /api/v1/reconciliation: reported, tracked, committed, resident, unattributed, own") {
    Running s;
    auto c = s.client();
    const json j = parse(c.Get("/api/v1/reconciliation"));
    require_keys(j, {"reported_bytes", "tracked_bytes", "committed_bytes", "resident_bytes",
                     "unattributed_bytes", "memscope_bytes", "memscope_thread_bytes",
                     "history_bytes", "formatted"});
    CHECK(j["reported_bytes"] == 400 * kMiB);
    // The subsystems report far more than this test allocates: unattributed is negative.
    CHECK(j["unattributed_bytes"].get<std::int64_t>() ==
          j["tracked_bytes"].get<std::int64_t>() - j["reported_bytes"].get<std::int64_t>());
    CHECK(j["unattributed_bytes"].get<std::int64_t>() < 0);
    CHECK(j["formatted"]["unattributed_bytes"].get<std::string>().starts_with("-"));
    CHECK(j["memscope_bytes"].get<std::int64_t>() ==
          j["memscope_thread_bytes"].get<std::int64_t>() + j["history_bytes"].get<std::int64_t>());
    CHECK(j["history_bytes"].get<std::int64_t>() > 0);
    check_byte_rules(j);
}

TEST_CASE("GET /api/v1/events?since=SEQ") {
    Running s;
    s.budget.report("Audio", 120 * kMiB, 3);  // warning: event 1
    s.budget.report("Audio", 130 * kMiB, 3);  // over budget: event 2
    auto c = s.client();
    json j = parse(c.Get("/api/v1/events"));
    CHECK(j["last_sequence"] == 2);
    REQUIRE(j["events"].size() == 2);
    const json& e = j["events"][0];
    require_keys(e, {"sequence", "unix_ms", "time", "kind", "level", "subsystem", "current_bytes",
                     "budget_bytes", "slope_bytes_per_second", "message", "formatted"});
    CHECK(e["sequence"] == 1);
    CHECK(e["kind"] == "warning");
    CHECK(e["subsystem"] == "Audio");
    CHECK(j["events"][1]["kind"] == "over_budget");
    CHECK(j["events"][1]["level"] == "error");
    check_byte_rules(j);

    j = parse(c.Get("/api/v1/events?since=1"));
    REQUIRE(j["events"].size() == 1);
    CHECK(j["events"][0]["sequence"] == 2);
    j = parse(c.Get("/api/v1/events?since=2"));
    CHECK(j["events"].empty());
    CHECK(j["last_sequence"] == 2);
    j = parse(c.Get("/api/v1/events?since=18446744073709551615"));  // the largest: fine, empty
    CHECK(j["events"].empty());
}

TEST_CASE("GET /api/v1/frames?since=SEQ: frames, frame budgets, stats") {
    memscope::BudgetOptions options;
    options.log_events = false;
    memscope::MemoryBudget budget(options);
    budget.set_frame_budget("Entities", {.max_allocations = 100, .max_bytes = 0});
    memscope::Server server(budget, memscope_test::test_options());
    const memscope::StartResult started = server.start();
    REQUIRE_MESSAGE(started.started, started.error);
    httplib::Client c("127.0.0.1", started.port);
    c.set_read_timeout(std::chrono::seconds(30));

    json j = parse(c.Get("/api/v1/frames"));
    require_keys(j, {"tracking_enabled", "last_sequence", "frames", "budgets", "stats"});
    CHECK(j["frames"].empty());
    CHECK(j["last_sequence"] == 0);
    REQUIRE(j["budgets"].size() == 1);
    CHECK(j["budgets"][0]["name"] == "Entities");
    CHECK(j["budgets"][0]["max_allocations"] == 100);

    budget.end_frame(10);
    {
        const memscope::Scope scope("Entities");
        std::vector<std::unique_ptr<int>> many;
        for (int i = 0; i < 200; ++i) many.push_back(std::make_unique<int>(i));
    }
    budget.end_frame(11);
    j = parse(c.Get("/api/v1/frames"));
    CHECK(j["tracking_enabled"] == memscope::tracking_enabled());
    if (!memscope::tracking_enabled()) {  // end_frame() records nothing without tracking
        CHECK(j["frames"].empty());
        CHECK(j["stats"]["frames"] == 0);
        server.stop();
        return;
    }
    REQUIRE(j["frames"].size() == 2);
    CHECK(j["last_sequence"] == 2);
    const json& f = j["frames"][1];
    require_keys(f, {"sequence", "frame", "unix_ms", "duration_ms", "allocations", "frees",
                     "bytes_allocated", "over_budget", "subsystems"});
    CHECK(f["frame"] == 11);
    require_keys(j["stats"], {"frames", "last_frame", "allocations", "bytes_allocated",
                              "worst_allocations", "worst_frame", "histogram"});
    CHECK(j["stats"]["frames"] == 2);
    CHECK(j["stats"]["last_frame"] == 11);
    CHECK(j["stats"]["histogram"].size() == memscope::kFrameAllocationBuckets.size() + 1);
    CHECK(j["stats"]["histogram"].back()["le"].is_null());
    check_byte_rules(j);
    if (memscope::tracking_enabled()) {
        bool entities_over = false;
        for (const json& part : f["subsystems"])
            if (part["name"] == "Entities") entities_over = part["over_budget"].get<bool>();
        CHECK(entities_over);
        CHECK(j["budgets"][0]["frames_over"] == 1);
        CHECK(j["budgets"][0]["last_frame_over"] == 11);
        const json events = parse(c.Get("/api/v1/events"));
        REQUIRE(events["events"].size() == 1);
        CHECK(events["events"][0]["kind"] == "frame_over_budget");
        CHECK(events["events"][0]["frame"] == 11);
    }

    j = parse(c.Get("/api/v1/frames?since=1"));
    REQUIRE(j["frames"].size() == 1);
    CHECK(j["frames"][0]["sequence"] == 2);
    j = parse(c.Get("/api/v1/frames?since=2"));
    CHECK(j["frames"].empty());
    CHECK(j["last_sequence"] == 2);
    server.stop();
}

TEST_CASE("bad since= values answer 400 JSON naming the parameter") {
    Running s;
    auto c = s.client();
    for (const char* path :
         {"/api/v1/events?since=abc", "/api/v1/events?since=-1",
          "/api/v1/events?since=18446744073709551616",
          "/api/v1/events?since=99999999999999999999999999", "/api/v1/events?since=1.5",
          "/api/v1/events?since=", "/api/v1/events?since=%2B1", "/api/v1/history?since=abc",
          "/api/v1/history?since=-5", "/api/v1/frames?since=x"}) {
        auto r = c.Get(path);
        REQUIRE_MESSAGE(r, path);
        CHECK_MESSAGE(r->status == 400, path);
        const json j = json::parse(r->body);
        CHECK(j["field"] == "since");
        check_common_headers(r);
    }
}

TEST_CASE("GET /api/v1/history?since=SEQ and /api/v1/trends") {
    Running s;
    auto c = s.client();
    REQUIRE(wait_until([&] { return parse(c.Get("/api/v1/history"))["samples"].size() >= 3; }));
    json j = parse(c.Get("/api/v1/history"));
    require_keys(j, {"interval_ms", "capacity", "last_sequence", "subsystem_names", "samples"});
    CHECK(j["interval_ms"] == 50);
    CHECK(j["capacity"] == 600);
    const json& sample = j["samples"][0];
    require_keys(sample, {"sequence", "unix_ms", "seconds", "reported_bytes", "allocator",
                          "process", "subsystem_bytes"});
    CHECK(sample["reported_bytes"] == 400 * kMiB);
    CHECK(sample["subsystem_bytes"].size() == j["subsystem_names"].size());
    check_byte_rules(j);

    const std::uint64_t first = j["samples"][0]["sequence"];
    const json later = parse(c.Get("/api/v1/history?since=" + std::to_string(first)));
    REQUIRE_FALSE(later["samples"].empty());
    CHECK(later["samples"][0]["sequence"] == first + 1);

    const json t = parse(c.Get("/api/v1/trends"));
    require_keys(t, {"threshold_bytes_per_sample", "global", "subsystems"});
    require_keys(t["global"], {"trend", "bytes_per_sample", "bytes_per_second", "samples"});
    CHECK(t["global"]["samples"].get<int>() >= 3);
    REQUIRE(t["subsystems"].size() == 6);
    CHECK(t["subsystems"][1]["name"] == "Chunks");
    CHECK(t["subsystems"][1]["trend"] == "stable");
}

TEST_CASE("GET /api/v1/snapshot: everything in one document") {
    Running s;
    s.budget.report("Audio", 120 * kMiB, 3);
    auto c = s.client();
    auto r = c.Get("/api/v1/snapshot");
    check_common_headers(r);
    const json j = parse(r);
    require_keys(j, {"unix_ms", "time", "memscope", "allocator", "process", "totals", "subsystems",
                     "reconciliation", "trends", "history", "last_event_sequence", "events"});
    CHECK(j["memscope"]["version"] == MEMSCOPE_VERSION);
    CHECK(j["subsystems"].size() == 6);
    CHECK(j["totals"]["current_bytes"] == 520 * kMiB);
    CHECK(j["events"].size() == 1);
    CHECK(j["last_event_sequence"] == 1);
    require_keys(j["history"], {"size", "capacity", "interval_ms", "last_sequence"});
    check_sources(j["allocator"]);
    check_byte_rules(j);

    auto head = c.Head("/api/v1/snapshot");
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->body.empty());
}

TEST_CASE("GET /metrics: Prometheus text with the subsystem label") {
    Running s;
    auto c = s.client();
    auto r = c.Get("/metrics");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    check_common_headers(r);
    CHECK(r->body.find("# TYPE memscope_allocations_total counter\n") != std::string::npos);
    CHECK(r->body.find("memscope_subsystem_current_bytes{subsystem=\"Chunks\"} 314572800\n") !=
          std::string::npos);
    CHECK(r->body.find("memscope_subsystem_budget_bytes{subsystem=\"Audio\"} 134217728\n") !=
          std::string::npos);
    CHECK(r->body.find("memscope_reported_bytes 419430400\n") != std::string::npos);
}

TEST_CASE("unknown paths answer 404 JSON, wrong methods 405 JSON with Allow") {
    Running s;
    auto c = s.client();
    for (const char* path : {"/nope", "/api/v1/", "/api/v2/snapshot", "/api/v1/snapshot/extra",
                             "/api/v1/budgets", "/static"}) {
        auto r = c.Get(path);
        REQUIRE_MESSAGE(r, path);
        CHECK_MESSAGE(r->status == 404, path);
        CHECK(json::parse(r->body).contains("error"));
        check_common_headers(r);
    }
    auto r = c.Post("/api/v1/snapshot", "{}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->get_header_value("Allow") == "GET, HEAD");
    CHECK(json::parse(r->body).contains("error"));
    r = c.Get("/api/v1/budgets/Chunks");
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->get_header_value("Allow") == "PUT");
    r = c.Delete("/api/v1/marks");
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->get_header_value("Allow") == "GET, HEAD, POST");
}

TEST_CASE("the page: index.html at /, its files under /static/, typed, with an ETag") {
    Running s;
    auto c = s.client();
    const struct {
        const char* path;
        const char* type;
        const char* starts_with;
    } files[] = {
        {"/", "text/html; charset=utf-8", "<!doctype html>"},
        {"/static/app.js", "text/javascript; charset=utf-8",
         "// SPDX-License-Identifier: MIT\n// memscope dashboard page"},
        {"/static/style.css", "text/css; charset=utf-8",
         "/* SPDX-License-Identifier: MIT */\n/* memscope dashboard."},
        {"/static/chart.min.js", "text/javascript; charset=utf-8", "/*!\n * Chart.js v3."},
        {"/static/favicon.svg", "image/svg+xml", "<svg"},
    };
    for (const auto& f : files) {
        CAPTURE(f.path);
        auto r = c.Get(f.path);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->get_header_value("Content-Type") == f.type);
        CHECK(r->body.rfind(f.starts_with, 0) == 0);
        CHECK(r->get_header_value("Cache-Control") == "no-cache");
        CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
        CHECK(r->get_header_value("Content-Security-Policy") ==
              std::string(memscope::web::kContentSecurityPolicy));
        const std::string etag = r->get_header_value("ETag");
        CHECK(etag.size() == 22);  // "20 hex digits of the SHA-256"

        // Revalidation: the same ETag gets 304 and no body; another gets the file.
        auto again = c.Get(f.path, {{"If-None-Match", etag}});
        REQUIRE(again);
        CHECK(again->status == 304);
        CHECK(again->body.empty());
        CHECK(again->get_header_value("ETag") == etag);
        again = c.Get(f.path, {{"If-None-Match", "W/\"0\", " + etag}});
        REQUIRE(again);
        CHECK(again->status == 304);
        again = c.Get(f.path, {{"If-None-Match", "\"0123\""}});
        REQUIRE(again);
        CHECK(again->status == 200);
        CHECK(again->body == r->body);
    }
    auto index = c.Get("/");
    REQUIRE(index);
    // Nothing inline (the CSP forbids it) and nothing from another origin.
    CHECK(index->body.find("<script type=\"module\" src=\"/static/app.js\">") != std::string::npos);
    CHECK(index->body.find("<script>") == std::string::npos);
    CHECK(index->body.find("<style") == std::string::npos);
    CHECK(index->body.find("style=") == std::string::npos);
    CHECK(index->body.find("http://") == std::string::npos);
    CHECK(index->body.find("https://") == std::string::npos);
}

TEST_CASE("the page: every module app.js imports, directly or not, is served as JavaScript") {
    Running s;
    auto c = s.client();
    std::vector<std::string> pending{"app.js"};
    std::set<std::string> served;
    while (!pending.empty()) {
        const std::string name = pending.back();
        pending.pop_back();
        if (!served.insert(name).second) continue;
        CAPTURE(name);
        auto r = c.Get("/static/" + name);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->get_header_value("Content-Type") == "text/javascript; charset=utf-8");
        CHECK(r->get_header_value("Cache-Control") == "no-cache");
        CHECK(r->get_header_value("ETag").size() == 22);
        // The page's imports are all relative: `from './<name>.js'`.
        for (std::size_t at = r->body.find("from './"); at != std::string::npos;
             at = r->body.find("from './", at + 1)) {
            const std::size_t begin = at + 8;
            pending.push_back(r->body.substr(begin, r->body.find('\'', begin) - begin));
        }
    }
    CHECK(served.size() > 5);
    CHECK(served.count("format.js") == 1);
}

TEST_CASE("the page: only the embedded files exist, whatever the path") {
    Running s;
    auto c = s.client();
    for (const char* path :
         {"/static/", "/static/nope.js", "/static/APP.JS", "/static/app.js/", "/index.html",
          "/static/../CMakeLists.txt", "/static/%2e%2e/%2e%2e/etc/passwd",
          "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/static/%2Fetc%2Fpasswd", "/static//etc/passwd",
          "/static/app.js%00.txt", "/static/./app.js"}) {
        CAPTURE(path);
        auto r = c.Get(path);
        REQUIRE(r);
        CHECK(r->status == 404);
        CHECK(json::parse(r->body).contains("error"));
    }
}

TEST_CASE("the page: MEMSCOPE_WEB_ROOT serves the table's files from disk, nothing else") {
    const TempDir root("memscope-webroot");
    root.write("app.js", "// the developer's copy\n");
    root.write("secret.txt", "not served\n");
    ScopedEnv env("MEMSCOPE_WEB_ROOT", root.path().c_str());

    Running s;
    auto c = s.client();
    auto r = c.Get("/static/app.js");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "// the developer's copy\n");
    CHECK(r->get_header_value("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(r->get_header_value("Cache-Control") == "no-store");
    CHECK_FALSE(r->has_header("ETag"));
    // Not in the table: 404 even though the file is there.
    r = c.Get("/static/secret.txt");
    REQUIRE(r);
    CHECK(r->status == 404);
    // In the table but not on disk: the embedded copy.
    r = c.Get("/static/chart.min.js");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.rfind("/*!\n * Chart.js v3.", 0) == 0);
    CHECK(r->get_header_value("Cache-Control") == "no-cache");
}

TEST_CASE("control endpoints: 403 without a configured token") {
    Running s;  // no token
    auto c = s.client();
    auto r = c.Put("/api/v1/budgets/Chunks", bearer("anything"), R"({"budget_bytes": 1})",
                   "application/json");
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(json::parse(r->body).contains("error"));
    r = c.Post("/api/v1/peaks/reset", bearer("anything"), "", "application/json");
    REQUIRE(r);
    CHECK(r->status == 403);
    r = c.Post("/api/v1/pressure/Chunks", bearer("anything"), R"({"status":"warning"})",
               "application/json");
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(s.budget.subsystem("Chunks")->budget_bytes == 1024 * kMiB);  // unchanged
}

TEST_CASE("control endpoints: 401 with a missing or wrong token, 2xx with the right one") {
    ServerOptions o = test_options();
    o.token = kToken;
    Running s(o);
    auto c = s.client();
    const std::string body = R"({"budget_bytes": 2147483648})";

    auto r = c.Put("/api/v1/budgets/Chunks", body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate").starts_with("Bearer"));
    for (const std::string& wrong : {std::string("wrong"), std::string(kToken) + "x",
                                     std::string(kToken).substr(1), std::string()}) {
        r = c.Put("/api/v1/budgets/Chunks", bearer(wrong), body, "application/json");
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(r->body.find(kToken) == std::string::npos);  // never echoed
    }
    r = c.Put("/api/v1/budgets/Chunks", {{"Authorization", std::string("Basic ") + kToken}}, body,
              "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(s.budget.subsystem("Chunks")->budget_bytes == 1024 * kMiB);

    r = c.Put("/api/v1/budgets/Chunks", bearer(kToken), body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.find(kToken) == std::string::npos);
    const json row = json::parse(r->body);
    CHECK(row["name"] == "Chunks");
    CHECK(row["budget_bytes"] == 2048 * kMiB);
    CHECK(s.budget.subsystem("Chunks")->budget_bytes == 2048 * kMiB);

    r = c.Put("/api/v1/budgets/Chunks", bearer(kToken), R"({"budget": "512 MiB"})",
              "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(s.budget.subsystem("Chunks")->budget_bytes == 512 * kMiB);

    // The total budget has its own name.
    r = c.Put("/api/v1/budgets/(total)", bearer(kToken), R"({"budget_bytes": 1073741824})",
              "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["budget_bytes"] == 1024 * kMiB);
    CHECK(s.budget.total_budget_bytes() == 1024 * kMiB);
}

TEST_CASE("POST /api/v1/pressure/{name} calls the game's callbacks") {
    ServerOptions o = test_options();
    o.token = kToken;
    Running s(o);
    std::atomic<int> calls{0};
    std::atomic<bool> simulated{false};
    s.budget.on_pressure("Chunks", [&](const memscope::PressureEvent& e) {
        simulated = e.simulated && e.status == memscope::MemoryStatus::over_budget;
        ++calls;
    });
    auto c = s.client();
    auto r = c.Post("/api/v1/pressure/Chunks", bearer(kToken), R"({"status":"over_budget"})",
                    "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    const json j = json::parse(r->body);
    CHECK(j["subsystem"] == "Chunks");
    CHECK(j["status"] == "over_budget");
    CHECK(j["callbacks_called"] == 1);
    CHECK(calls == 1);
    CHECK(simulated);

    r = c.Post("/api/v1/pressure/Chunks", bearer(kToken), R"({"status":"panic"})",
               "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["field"] == "status");
    r = c.Post("/api/v1/pressure/NoSuchThing", bearer(kToken), R"({"status":"ok"})",
               "application/json");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(calls == 1);
}

TEST_CASE("POST /api/v1/peaks/reset resets the allocator peak and the window peaks") {
    ServerOptions o = test_options();
    o.token = kToken;
    Running s(o);
    s.budget.report("Chunks", 900 * kMiB, 1);
    s.budget.report("Chunks", 100 * kMiB, 1);
    CHECK(s.budget.snapshot()[1].window_peak_bytes == 900 * kMiB);
    auto c = s.client();
    auto r = c.Post("/api/v1/peaks/reset", bearer(kToken), "", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    const json j = json::parse(r->body);
    CHECK(j["reset"] == true);
    CHECK(j["allocator"].contains("peak_allocated_bytes"));
    check_sources(j["allocator"]);
    CHECK(s.budget.snapshot()[1].window_peak_bytes == 100 * kMiB);
    CHECK(s.budget.snapshot()[1].memory.peak_bytes == 900 * kMiB);  // the all-time peak stays

    r = c.Post("/api/v1/peaks/reset", bearer(kToken), R"({"everything": true})",
               "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
}

TEST_CASE("bad request bodies get clear JSON errors") {
    ServerOptions o = test_options();
    o.token = kToken;
    o.max_body_bytes = 1024;
    Running s(o);
    auto c = s.client();
    struct Case {
        std::string body;
        std::string content_type;
        int status;
        std::string field;
    };
    const std::vector<Case> cases = {
        {"{", "application/json", 400, ""},
        {"[1, 2]", "application/json", 400, ""},
        {"", "application/json", 400, ""},
        {R"({"budget_bytes": -5})", "application/json", 400, "budget_bytes"},
        {R"({"budget_bytes": 1.5})", "application/json", 400, "budget_bytes"},
        {R"({"budget_bytes": 1e30})", "application/json", 400, "budget_bytes"},
        {R"({"budget_bytes": "12"})", "application/json", 400, "budget_bytes"},
        {R"({"budget_bytes": 1, "budget": "1 MiB"})", "application/json", 400, "budget"},
        {R"({})", "application/json", 400, "budget_bytes"},
        {R"({"budget": "12 XB"})", "application/json", 400, "budget"},
        {R"({"budget": 12})", "application/json", 400, "budget"},
        {R"({"budget_byte": 12})", "application/json", 400, "budget_byte"},
        {R"({"budget_bytes": 12})", "text/plain", 415, ""},
        {R"({"budget_bytes": 12})", "application/x-www-form-urlencoded", 415, ""},
        {"{\"budget_bytes\": 1, \"pad\": \"" + std::string(2000, 'x') + "\"}", "application/json",
         413, ""},
    };
    for (const Case& k : cases) {
        auto r = c.Put("/api/v1/budgets/Chunks", bearer(kToken), k.body, k.content_type.c_str());
        REQUIRE_MESSAGE(r, k.body);
        CHECK_MESSAGE(r->status == k.status, k.body);
        check_common_headers(r);
        const json j = json::parse(r->body);
        CHECK_MESSAGE(j.contains("error"), k.body);
        if (!k.field.empty()) CHECK_MESSAGE(j.value("field", "") == k.field, k.body);
    }
    auto r = c.Put("/api/v1/budgets/NoSuchThing", bearer(kToken), R"({"budget_bytes": 1})",
                   "application/json");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK_FALSE(s.budget.subsystem("NoSuchThing"));  // the network cannot add subsystems
    CHECK(s.budget.subsystem("Chunks")->budget_bytes == 1024 * kMiB);
}

TEST_CASE("marks and diffs") {
    Running s;
    auto c = s.client();
    auto r = c.Post("/api/v1/marks", R"({"name": "level1-loaded"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 201);
    json mark = json::parse(r->body);
    require_keys(mark,
                 {"id", "name", "unix_ms", "time", "reported_bytes", "tracked_bytes", "formatted"});
    CHECK(mark["name"] == "level1-loaded");
    CHECK(mark["id"] == 1);
    CHECK(mark["reported_bytes"] == 400 * kMiB);

    s.budget.report("Chunks", 500 * kMiB, 1500);
    s.budget.report("Physics", 10 * kMiB, 7);
    r = c.Post("/api/v1/marks", R"({"name": "level2-loaded"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 201);

    const json list = parse(c.Get("/api/v1/marks"));
    CHECK(list["marks"].size() == 2);
    CHECK(list["marks"][1]["name"] == "level2-loaded");
    CHECK(list["capacity"].get<int>() > 0);

    json d = parse(c.Get("/api/v1/diff?from=level1-loaded&to=level2-loaded"));
    require_keys(d, {"from", "to", "seconds", "global", "subsystems"});
    CHECK(d["from"]["name"] == "level1-loaded");
    CHECK(d["to"]["name"] == "level2-loaded");
    CHECK(d["global"]["reported_bytes"]["delta"] == 210 * kMiB);
    CHECK(d["global"]["reported_bytes"]["formatted"]["delta"] == "+210.0 MB");
    require_keys(d["global"]["allocator"], {"total_allocated_bytes", "allocation_count"});
    require_keys(d["global"]["process"], {"resident_bytes"});
    const json& rows = d["subsystems"];
    auto row = [&](const std::string& name) {
        for (const json& x : rows)
            if (x["name"] == name) return x;
        return json();
    };
    CHECK(row("Chunks")["current_bytes"]["from"] == 300 * kMiB);
    CHECK(row("Chunks")["current_bytes"]["to"] == 500 * kMiB);
    CHECK(row("Chunks")["current_bytes"]["delta"] == 200 * kMiB);
    CHECK(row("Chunks")["allocation_count"]["delta"] == 300);
    CHECK(row("Physics")["current_bytes"]["delta"] == 10 * kMiB);
    CHECK(row("Meshes")["current_bytes"]["delta"] == 0);
    check_byte_rules(d);

    // To now, when `to` is left out.
    s.budget.report("Chunks", 100 * kMiB, 1);
    d = parse(c.Get("/api/v1/diff?from=level2-loaded"));
    CHECK(d["to"]["name"] == "now");
    for (const json& x : d["subsystems"])
        if (x["name"] == "Chunks")
            CHECK(x["current_bytes"]["delta"].get<std::int64_t>() == -400 * std::int64_t(kMiB));

    r = c.Get("/api/v1/diff?from=nope");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(json::parse(r->body)["field"] == "from");
    r = c.Get("/api/v1/diff?from=level1-loaded&to=nope");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(json::parse(r->body)["field"] == "to");
    r = c.Get("/api/v1/diff");
    REQUIRE(r);
    CHECK(r->status == 400);

    for (const auto& [body, type] : std::vector<std::pair<std::string, std::string>>{
             {R"({"name": ""})", "application/json"},
             {R"({"name": 5})", "application/json"},
             {R"({})", "application/json"},
             {R"({"name": "a\nb"})", "application/json"},
             {"{\"name\": \"" + std::string(200, 'n') + "\"}", "application/json"},
             {R"({"name": "x", "extra": 1})", "application/json"},
             {R"({"name": "x"})", "text/plain"}}) {
        r = c.Post("/api/v1/marks", body, type.c_str());
        REQUIRE(r);
        CHECK_MESSAGE((r->status == 400 || r->status == 415), body);
    }
    CHECK(parse(c.Get("/api/v1/marks"))["marks"].size() == 2);
}

TEST_CASE("Server::mark(): a mark from code is listed, diffed and announced like the page's") {
    Running s;
    auto c = s.client();
    CHECK(parse(c.Get("/api/v1/snapshot"))["last_mark_id"] == 0);
    CHECK(s.server->mark("level2-loaded", 1200));
    s.budget.report("Chunks", 400 * kMiB, 1300);
    REQUIRE(c.Post("/api/v1/marks", R"({"name": "from-the-page"})", "application/json"));
    CHECK(s.server->mark("after-load"));

    const json marks = parse(c.Get("/api/v1/marks"))["marks"];
    REQUIRE(marks.size() == 3);
    CHECK(marks[0]["name"] == "level2-loaded");
    CHECK(marks[0]["frame"] == 1200);
    CHECK(marks[1]["frame"].is_null());
    CHECK(marks[2]["id"] == 3);
    CHECK(parse(c.Get("/api/v1/snapshot"))["last_mark_id"] == 3);
    const json d = parse(c.Get("/api/v1/diff?from=level2-loaded&to=after-load"));
    CHECK(d["from"]["frame"] == 1200);
    for (const json& row : d["subsystems"])
        if (row["name"] == "Chunks") CHECK(row["current_bytes"]["delta"] == 100 * kMiB);
}

TEST_CASE("Server::mark() refuses bad names, and records nothing while stopped") {
    Running s;
    CHECK_FALSE(s.server->mark(""));
    CHECK_FALSE(s.server->mark(std::string(129, 'x')));
    CHECK_FALSE(s.server->mark("tab\there"));
    s.server->stop();
    CHECK_FALSE(s.server->mark("while-stopped"));
    const memscope::StartResult again = s.server->start();  // on a new port
    REQUIRE(again);
    httplib::Client c("127.0.0.1", again.port);
    CHECK(parse(c.Get("/api/v1/marks"))["marks"].empty());
}

TEST_CASE("ServerOptions::recording: samples and the page's and the game's marks reach the file") {
    memscope_test::TempDir dir;
    const auto path = dir.path() / "session.ndjson";
    auto options = test_options();
    options.recording.path = path.string();
    {
        Running s(options);
        CHECK(s.server->mark("from-the-game", 7));
        auto c = s.client();
        REQUIRE(c.Post("/api/v1/marks", R"({"name": "from-the-page"})", "application/json"));
        std::this_thread::sleep_for(std::chrono::milliseconds(120));  // two samples or more
    }                                                                 // stop(): the rest is written
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.starts_with(R"({"type":"header","format":"memscope-recording")"));
    CHECK(text.find(R"({"type":"mark")") != std::string::npos);
    CHECK(text.find(R"("name":"from-the-game","frame":7})") != std::string::npos);
    CHECK(text.find(R"("name":"from-the-page","frame":null})") != std::string::npos);
    CHECK(text.find(R"("subsystems":{"Audio":0,"Chunks":314572800)") != std::string::npos);
}

TEST_CASE("GET /api/v1/verdict: 404 until a provider is set") {
    Running s;
    auto c = s.client();
    auto r = c.Get("/api/v1/verdict");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(json::parse(r->body).contains("error"));
    s.server->set_verdict_provider([] { return std::string(R"({"pass": true, "failures": []})"); });
    const json j = parse(c.Get("/api/v1/verdict"));
    CHECK(j["pass"] == true);
    s.server->set_verdict_provider([] { return std::string("not json"); });
    r = c.Get("/api/v1/verdict");
    REQUIRE(r);
    CHECK(r->status == 500);
    s.server->set_verdict_provider(
        []() -> std::string { throw std::runtime_error("no verdict yet"); });
    r = c.Get("/api/v1/verdict");
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(json::parse(r->body)["error"].get<std::string>().find("no verdict yet") !=
          std::string::npos);
}

TEST_CASE(
    "the live stream sends a snapshot, then an event fired after connecting, then snapshots") {
    Running s;
    StreamReader reader(s.port);
    REQUIRE(wait_until([&] { return reader.contains("event: snapshot\n"); }));
    const json first = reader.messages("snapshot").at(0);
    CHECK(first.contains("events"));
    CHECK(first["subsystems"].size() == 6);

    s.budget.report("Audio", 120 * kMiB, 3);  // fires a warning now, after connecting
    REQUIRE(wait_until([&] { return reader.contains("event: budget_event\n"); }));
    const std::vector<json> events = reader.messages("budget_event");
    REQUIRE(events.size() == 1);
    CHECK(events[0]["subsystem"] == "Audio");
    CHECK(events[0]["kind"] == "warning");
    CHECK(reader.contains("id: 1\n"));

    // Snapshots keep coming with every sample; they leave the event list out.
    REQUIRE(wait_until([&] { return reader.messages("snapshot").size() >= 3; }));
    CHECK_FALSE(reader.messages("snapshot").back().contains("events"));
    reader.quit();
    CHECK(reader.finished());
}

TEST_CASE("stop() returns with a stream client connected, and the client sees the end") {
    Running s;
    StreamReader reader(s.port);
    REQUIRE(wait_until([&] { return reader.contains("event: snapshot\n"); }));
    s.server->stop();  // must return, not wait for the client
    CHECK_FALSE(s.server->running());
    REQUIRE(wait_until([&] { return reader.finished(); }));
    CHECK(reader.contains("event: end\n"));
}

TEST_CASE("stop() returns with an idle connection and a half-sent request open") {
    Running s;
    // A raw socket that sends half a request line and then nothing (slowloris).
    httplib::Client keep(("127.0.0.1"), s.port);
    keep.set_keep_alive(true);
    auto r = keep.Get("/healthz");  // leaves a keep-alive connection open
    REQUIRE(r);
    RawSocket half(s.port);
    REQUIRE(half.fd() >= 0);
    REQUIRE(half.send("GET /heal"));
    s.server->stop();
    CHECK_FALSE(s.server->running());
}

TEST_CASE("live streams beyond half the workers get 503, and JSON is still served") {
    ServerOptions o = test_options();
    o.worker_threads = 2;  // one stream at most
    Running s(o);
    StreamReader first(s.port);
    REQUIRE(wait_until([&] { return first.contains("event: snapshot\n"); }));
    auto c = s.client();
    auto r = c.Get("/api/v1/stream");
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->get_header_value("Retry-After") == "5");
    CHECK(json::parse(r->body).contains("error"));
    r = c.Get("/api/v1/totals");
    REQUIRE(r);
    CHECK(r->status == 200);
    first.quit();
    // The slot is free again once the first stream ended.
    REQUIRE(wait_until([&] {
        StreamReader second(s.port);
        const bool ok =
            wait_until([&] { return second.contains("event: snapshot\n") || second.finished(); });
        return ok && second.contains("event: snapshot\n");
    }));
}

TEST_CASE("two servers in one process, on different ports") {
    Running a;
    Running b;
    CHECK(a.port != b.port);
    a.budget.report("Chunks", 1 * kMiB, 1);
    b.budget.report("Chunks", 2 * kMiB, 1);
    auto ca = a.client();
    auto cb = b.client();
    CHECK(parse(ca.Get("/api/v1/totals"))["current_bytes"] == 101 * kMiB);
    CHECK(parse(cb.Get("/api/v1/totals"))["current_bytes"] == 102 * kMiB);
    a.server->stop();
    CHECK(parse(cb.Get("/healthz"))["status"] == "ok");
}

// The names of the calling process's threads, from /proc/self/task/<tid>/comm.
std::map<std::string, int> thread_names() {
    std::map<std::string, int> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (std::getline(comm, name)) ++names[name];
    }
    return names;
}

TEST_CASE("every thread of the dashboard is named for debuggers and profilers") {
    ServerOptions options = test_options();
    options.worker_threads = 3;
    // Threads of servers that earlier cases stopped may still be on their way out.
    const auto no_memscope_threads = [] {
        const auto names = thread_names();
        return std::none_of(names.begin(), names.end(),
                            [](const auto& n) { return n.first.starts_with("ms-"); });
    };
    REQUIRE(wait_until(no_memscope_threads));
    Running r(options);
    // The workers name themselves as they start: wait until all have.
    CHECK(wait_until([&] { return thread_names()["ms-http"] == 3; }));
    auto names = thread_names();
    CHECK(names["ms-listen"] == 1);
    CHECK(names["ms-poll"] == 1);
    CHECK(names["ms-sample"] == 1);
    r.server->stop();
    CHECK(wait_until(no_memscope_threads));
}

TEST_CASE("a busy port is a clear error returned to the game, which goes on") {
    Running first;
    MemoryBudget budget;
    ServerOptions o = test_options();
    o.port = first.port;
    Server second(budget, o);
    const auto result = second.start();
    CHECK_FALSE(result.started);
    CHECK_FALSE(result.disabled);
    CHECK(result.error.find("cannot listen on 127.0.0.1:" + std::to_string(first.port)) !=
          std::string::npos);
    CHECK(result.error.find("address already in use") != std::string::npos);
    CHECK_FALSE(second.running());
    budget.report("Chunks", 1, 1);  // the game goes on
    CHECK(budget.total_current() == 1);
    auto c = first.client();
    CHECK(parse(c.Get("/healthz"))["status"] == "ok");
}

TEST_CASE("a bad bind address is a clear error") {
    MemoryBudget budget;
    for (const char* address : {"not-an-address", "300.1.2.3", ""}) {
        ServerOptions o = test_options();
        o.bind_address = address;
        Server server(budget, o);
        const auto result = server.start();
        CHECK_FALSE(result.started);
        CHECK_MESSAGE(!result.error.empty(), address);
    }
    ServerOptions o = test_options();
    o.bind_address = "192.0.2.1";  // TEST-NET-1: not an address of this machine
    Server server(budget, o);
    const auto result = server.start();
    CHECK_FALSE(result.started);
    CHECK(result.error.find("cannot listen on 192.0.2.1:0") != std::string::npos);
}

TEST_CASE("invalid options are refused with a reason") {
    MemoryBudget budget;
    ServerOptions o = test_options();
    o.worker_threads = 1;
    CHECK(Server(budget, o).start().error.find("worker_threads") != std::string::npos);
    o = test_options();
    o.port = 70000;
    CHECK(Server(budget, o).start().error.find("port") != std::string::npos);
    o = test_options();
    o.token = "has space";
    const auto r = Server(budget, o).start();
    CHECK(r.error.find("token") != std::string::npos);
    CHECK(r.error.find("has space") == std::string::npos);  // never quoted
}

TEST_CASE("MEMSCOPE_PORT, MEMSCOPE_BIND and MEMSCOPE_TOKEN override the options") {
    ScopedEnv port("MEMSCOPE_PORT", "0");
    ScopedEnv bind("MEMSCOPE_BIND", "127.0.0.1");
    ScopedEnv token("MEMSCOPE_TOKEN", "from-the-environment");
    ScopedEnv disable("MEMSCOPE_DISABLE", nullptr);
    MemoryBudget budget;
    budget.report("Chunks", 1, 1);
    ServerOptions o;  // port 9090, read_environment true
    o.bind_address = "0.0.0.0";
    Server server(budget, o);
    CHECK(server.options().port == 0);
    CHECK(server.options().bind_address == "127.0.0.1");
    CHECK(server.options().token == "from-the-environment");
    const auto started = server.start();
    REQUIRE_MESSAGE(started, started.error);
    httplib::Client c("127.0.0.1", started.port);
    auto r = c.Put("/api/v1/budgets/Chunks", bearer("from-the-environment"),
                   R"({"budget_bytes": 10})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);

    // read_environment = false ignores them.
    ServerOptions plain = test_options();
    plain.port = 0;
    Server other(budget, plain);
    CHECK(other.options().token.empty());
}

TEST_CASE("MEMSCOPE_DISABLE=1 turns start() into a no-op that says so") {
    ScopedEnv disable("MEMSCOPE_DISABLE", "1");
    MemoryBudget budget;
    Server server(budget, ServerOptions{});
    const auto result = server.start();
    CHECK_FALSE(result.started);
    CHECK(result.disabled);
    CHECK(result.error.find("MEMSCOPE_DISABLE") != std::string::npos);
    CHECK_FALSE(server.running());
}

TEST_CASE("a bad MEMSCOPE_* value is logged with its name and value; the default is kept") {
    memscope_test::LogCapture log;
    const auto logged = [&](const std::string& text) { return log.count(text) > 0; };
    MemoryBudget budget;
    ServerOptions options = test_options();  // port 0: the default the variables must keep
    options.read_environment = true;
    SUBCASE("MEMSCOPE_PORT not a number, or out of range") {
        for (const char* value : {"abc", "65536"}) {
            ScopedEnv port("MEMSCOPE_PORT", value);
            Server server(budget, options);
            CHECK(server.options().port == 0);
            CHECK(logged("MEMSCOPE_PORT=\"" + std::string(value) +
                         "\" is not valid (expected a port number from 0 to 65535"));
            CHECK(server.start().started);
        }
    }
    SUBCASE("MEMSCOPE_DISABLE neither 1 nor 0") {
        ScopedEnv disable("MEMSCOPE_DISABLE", "yes");
        Server server(budget, options);
        CHECK(
            logged("MEMSCOPE_DISABLE=\"yes\" is not valid (expected 1 or 0); the default is kept"));
        CHECK(server.start().started);
    }
    SUBCASE("MEMSCOPE_BIND not an address") {
        ScopedEnv bind("MEMSCOPE_BIND", "nowhere");
        Server server(budget, options);
        CHECK(server.options().bind_address == "127.0.0.1");
        CHECK(logged("MEMSCOPE_BIND=\"nowhere\" is not valid (\"nowhere\" is not an IP address"));
        CHECK(server.start().started);
    }
    SUBCASE("MEMSCOPE_TOKEN with a space: refused, and never written to the log") {
        ScopedEnv token("MEMSCOPE_TOKEN", "two words");
        Server server(budget, options);
        CHECK(server.options().token.empty());
        CHECK(logged("MEMSCOPE_TOKEN is not valid (expected printable ASCII without spaces)"));
        CHECK_FALSE(logged("two words"));
    }
}

TEST_CASE("a given sampler is used and left running; the server's own footprint is counted") {
    MemoryBudget budget;
    budget.report("Chunks", 5 * kMiB, 1);
    memscope::SamplerOptions so;
    so.interval = std::chrono::hours(1);
    memscope::Sampler sampler(budget, so);
    sampler.sample_now();
    sampler.sample_now();
    ServerOptions o = test_options();
    o.sampler = &sampler;
    Server server(budget, o);
    const auto started = server.start();
    REQUIRE(started);
    httplib::Client c("127.0.0.1", started.port);
    const json h = parse(c.Get("/api/v1/history"));
    CHECK(h["samples"].size() == 2);
    CHECK(h["interval_ms"] == 3600000);
    // Building a large document on a server thread shows as memscope's allocation.
    const json rec = parse(c.Get("/api/v1/reconciliation"));
    CHECK(rec["history_bytes"].get<std::int64_t>() ==
          static_cast<std::int64_t>(sampler.history().footprint_bytes()));
    server.stop();
    sampler.sample_now();
    CHECK(sampler.history().size() == 3);
}

TEST_CASE("a warning is logged when bound beyond loopback without a token") {
    LogCapture log;
    {
        MemoryBudget budget;
        ServerOptions o = test_options();
        o.bind_address = "0.0.0.0";
        o.token = kToken;
        Server with_token(budget, o);
        REQUIRE(with_token.start());
        with_token.stop();
        CHECK(log.warnings().empty());
        o.token.clear();
        Server without(budget, o);
        REQUIRE(without.start());
        without.stop();
    }
    const std::vector<std::string> lines = log.warnings();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("without a token") != std::string::npos);
    for (const auto& line : lines) CHECK(line.find(kToken) == std::string::npos);
}

// The descriptors of this process that are sockets or pipes (what the server makes; the
// sampler's short-lived /proc files and the directory listed here are neither).
std::set<int> socket_and_pipe_descriptors() {
    std::set<int> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        const int fd = std::stoi(entry.path().filename().string());
        struct stat st {};
        if (::fstat(fd, &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode))) out.insert(fd);
    }
    return out;
}

double cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

TEST_CASE(
    "the program closes the server's descriptors and opens files under their numbers: the "
    "server warns once, never touches the files, does not spin, and stop() ends at once") {
    LogCapture log;
    MemoryBudget budget;
    ServerOptions options = test_options();
    // No sampling during the test: the sampler's short-lived /proc descriptor could take
    // one of the numbers the "program" reuses below.
    options.sample_interval = std::chrono::hours(1);
    Server server(budget, options);
    const std::set<int> before = socket_and_pipe_descriptors();
    const auto started = server.start();
    REQUIRE(started);
    // One request answered, then the connection waits in the poller with half a request
    // head. The only connection: one the server closed by itself meanwhile would race with
    // the "program" below, which would then close the server's socket, not reuse it.
    RawSocket client(started.port);
    REQUIRE(client.fd() >= 0);
    REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(started.port) +
                        "\r\n\r\n"));
    CHECK(client.receive(std::chrono::milliseconds(300)).starts_with("HTTP/1.1 200"));
    REQUIRE(client.send("GET /healthz HTTP/1.1\r\n"));

    // The server's descriptors: its listening socket, the poller's doorbell (a pipe) and
    // the accepted connection; all of them closed by the "program".
    std::vector<int> theirs;
    int listening = 0, pipes = 0, connections = 0;
    REQUIRE(wait_until([&] {
        theirs.clear();
        listening = pipes = connections = 0;
        for (int fd : socket_and_pipe_descriptors()) {
            if (before.count(fd) != 0 || fd == client.fd()) continue;
            theirs.push_back(fd);
            struct stat st {};
            REQUIRE(::fstat(fd, &st) == 0);
            int accepts = 0;
            socklen_t length = sizeof accepts;
            if (S_ISFIFO(st.st_mode))
                ++pipes;
            else if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepts, &length) == 0 &&
                     accepts != 0)
                ++listening;
            else
                ++connections;
        }
        return connections >= 1;
    }));
    CHECK(listening == 1);
    CHECK(pipes == 2);
    CHECK(connections == 1);
    CHECK(log.count("closed the dashboard's descriptors") == 0);

    // What a daemon does: close them all, then open files that take the same numbers.
    TempDir dir;
    for (int fd : theirs) REQUIRE(::close(fd) == 0);
    const std::string text = "0123456789";
    for (std::size_t i = 0; i < theirs.size(); ++i) {
        const std::string path = (dir.path() / ("file" + std::to_string(i))).string();
        int f = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(f >= 0);
        if (f != theirs[i]) {
            REQUIRE(::dup2(f, theirs[i]) == theirs[i]);
            ::close(f);
        }
        REQUIRE(::write(theirs[i], text.data(), text.size()) == 10);
    }

    REQUIRE(wait_until([&] { return log.count("closed the dashboard's descriptors") > 0; },
                       std::chrono::seconds(5)));
    // Nothing spins on the closed descriptors meanwhile.
    const double cpu_before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    CHECK(cpu_seconds() - cpu_before < 0.2);

    const auto stop_began = std::chrono::steady_clock::now();
    server.stop();
    const auto stop_took = std::chrono::steady_clock::now() - stop_began;
    CHECK(stop_took < std::chrono::milliseconds(1500));
    CHECK_FALSE(server.running());
    CHECK(log.count("closed the dashboard's descriptors") == 1);
    CHECK(log.count("closed the dashboard's descriptors", memscope::LogLevel::warning) == 1);

    // The files are still open, as written: nothing closed, read or wrote them.
    for (int fd : theirs) {
        INFO("descriptor " << fd);
        CHECK(::fcntl(fd, F_GETFD) != -1);
        CHECK(::lseek(fd, 0, SEEK_CUR) == 10);
        struct stat st {};
        REQUIRE(::fstat(fd, &st) == 0);
        CHECK(S_ISREG(st.st_mode));
        CHECK(st.st_size == 10);
        char back[16] = {};
        CHECK(::pread(fd, back, sizeof back, 0) == 10);
        CHECK(std::string(back, 10) == text);
    }
    for (int fd : theirs) ::close(fd);

    // A new start() serves again, on descriptors of its own.
    const auto again = server.start();
    REQUIRE(again);
    CHECK(healthz_status(again.port) == 200);
    server.stop();
}

#else  // a build without the server

TEST_CASE("without the server, start() reports that it is not built in") {
    CHECK_FALSE(memscope::server_available());
    memscope::MemoryBudget budget;
    memscope::Server server(budget);
    const auto result = server.start();
    CHECK_FALSE(result.started);
    CHECK(result.disabled);
    CHECK(result.error.find("built without") != std::string::npos);
    CHECK_FALSE(server.running());
    CHECK(server.port() == 0);
    server.set_verdict_provider([] { return std::string("{}"); });
    server.stop();
}

#endif

// SPDX-License-Identifier: MIT
// The HTTP layer without a socket: routing, decoding, the 404/405/414 answers, the
// security headers, request bodies, the token comparison, and the check
// that every route is documented in docs/api.md.

#include <doctest/doctest.h>

#include <memscope/memscope.hpp>

#if MEMSCOPE_WITH_SERVER

#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bodies.hpp"
#include "control.hpp"
#include "endpoints.hpp"
#include "json_api.hpp"
#include "memscope/json.hpp"
#include "router.hpp"

using memscope::JsonWriter;
using memscope::web::Api;
using memscope::web::ApiOptions;
using memscope::web::Request;
using memscope::web::Response;
using memscope::web::Router;
using nlohmann::json;

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

Request request(std::string method, std::string_view target, std::string body = {},
                memscope::web::Headers headers = {}) {
    Request r = Request::from_target(std::move(method), target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

Router echo_router() {
    Router router;
    const auto echo = [](const memscope::web::Call& call) {
        std::string out;
        JsonWriter w(out);
        w.begin_object().key("params").begin_array();
        for (const auto& p : call.path_params) w.value(p);
        w.end_array().key("query").begin_array();
        for (const auto& [k, v] : call.query) w.begin_array().value(k).value(v).end_array();
        w.end_array().end_object();
        return memscope::web::json_response(200, std::move(out));
    };
    router.add("GET", "/a/{x}", echo);
    router.add("PUT", "/a/{x}", echo);
    router.add("GET", "/files/{path*}", echo);
    router.add("GET", "/throws",
               [](const memscope::web::Call&) -> Response { throw std::runtime_error("boom"); });
    return router;
}

// A budget, a sampler and the Api over them.
struct Fixture {
    memscope::MemoryBudget budget;
    memscope::Sampler sampler{budget};
    std::unique_ptr<Api> api;
    explicit Fixture(std::string token = "tok") {
        budget.configure_default_budgets();
        budget.report("Chunks", 300 * kMiB, 1);
        budget.report("Audio/Music", 1 * kMiB, 1);
        sampler.sample_now();
        ApiOptions o;
        o.token = std::move(token);
        api = std::make_unique<Api>(budget, sampler, o);
    }
};

// Blocks allocated under memscope::Scope(name): what a measured subsystem holds. Each
// name is charged by this test alone, so its figures are exactly these blocks.
struct TaggedBlocks {
    std::vector<std::unique_ptr<char[]>> blocks;
    std::size_t bytes = 0;  // their usable sizes, as the tag counts them
    TaggedBlocks(std::string_view name, std::size_t count, std::size_t size) {
        blocks.reserve(count);  // outside the scope: the tag holds the blocks alone
        const memscope::Scope scope(name);
        for (std::size_t i = 0; i < count; ++i) {
            blocks.emplace_back(new char[size]);
            bytes += memscope::usable_size(blocks.back().get());
        }
    }
};

// The row named `name` of a JSON array of rows.
json row_named(const json& rows, std::string_view name) {
    for (const json& row : rows)
        if (row["name"] == name) return row;
    FAIL("no row named " << name);
    return {};
}

}  // namespace

TEST_CASE("path parameters are percent-decoded segment by segment") {
    const Router router = echo_router();
    Response r = router.handle(request("GET", "/a/Audio%2FMusic"));
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["params"][0] == "Audio/Music");
    r = router.handle(request("GET", "/a/with%20space+plus"));
    CHECK(json::parse(r.body)["params"][0] == "with space+plus");  // '+' is literal in a path
    r = router.handle(request("GET", "/files/css/site%2Ecss"));
    CHECK(json::parse(r.body)["params"][0] == "css/site.css");
    r = router.handle(request("GET", "/a/%zz"));
    CHECK(r.status == 400);
    r = router.handle(request("GET", "/a/%4"));
    CHECK(r.status == 400);
}

TEST_CASE("query parameters are decoded, '+' as a space, and kept in order") {
    const Router router = echo_router();
    const Response r = router.handle(request("GET", "/a/x?b=1+2&a=%41&flag&&c="));
    const json q = json::parse(r.body)["query"];
    REQUIRE(q.size() == 4);
    CHECK(q[0] == json::array({"b", "1 2"}));
    CHECK(q[1] == json::array({"a", "A"}));
    CHECK(q[2] == json::array({"flag", ""}));
    CHECK(q[3] == json::array({"c", ""}));
    CHECK(router.handle(request("GET", "/a/x?a=%G1")).status == 400);
}

TEST_CASE("404, 405 with Allow, 414, 400: all JSON with the security headers") {
    const Router router = echo_router();
    auto check = [](const Response& r, int status) {
        CHECK(r.status == status);
        CHECK(r.content_type == "application/json; charset=utf-8");
        CHECK(json::parse(r.body).contains("error"));
        CHECK(r.header("X-Content-Type-Options") == "nosniff");
        CHECK(r.header("Content-Security-Policy")->find("frame-ancestors 'none'") !=
              std::string::npos);
        CHECK(r.header("X-Frame-Options") == "DENY");
        CHECK(r.header("Cache-Control") == "no-store");
        CHECK_FALSE(r.header("Access-Control-Allow-Origin"));
    };
    check(router.handle(request("GET", "/nope")), 404);
    check(router.handle(request("GET", "/a")), 404);
    check(router.handle(request("GET", "/a/x/y")), 404);
    check(router.handle(request("GET", "/a//")), 404);
    check(router.handle(request("GET", "/files")), 404);  // a rest parameter needs one segment
    const Response wrong = router.handle(request("DELETE", "/a/x"));
    check(wrong, 405);
    CHECK(wrong.header("Allow") == "GET, HEAD, PUT");
    check(router.handle(request("BREW", "/a/x")), 405);
    check(router.handle(request("GET", "/a/" + std::string(3000, 'x'))), 414);
    check(router.handle(request("GET", "no-slash")), 400);
    check(router.handle(request("GET", "")), 400);
    const Response thrown = router.handle(request("GET", "/throws"));
    check(thrown, 500);
    CHECK(json::parse(thrown.body)["error"] == "internal error: boom");
}

TEST_CASE("HEAD is answered like GET") {
    const Router router = echo_router();
    CHECK(router.handle(request("HEAD", "/a/x")).status == 200);
    Fixture f;
    const Response r = f.api->handle(request("HEAD", "/api/v1/stream"));
    CHECK(r.status == 200);
    CHECK_FALSE(r.stream);  // no stream is started for HEAD
    CHECK(f.api->stream_clients() == 0);
}

TEST_CASE("the Api answers without a socket; control by percent-encoded name") {
    Fixture f;
    Response r = f.api->handle(request("GET", "/api/v1/totals"));
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["current_bytes"] == 301 * kMiB);

    r = f.api->handle(
        request("PUT", "/api/v1/budgets/Audio%2FMusic", R"({"budget_bytes": 4194304})",
                {{"Content-Type", "application/json"}, {"authorization", "bearer tok"}}));
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["name"] == "Audio/Music");
    CHECK(f.budget.subsystem("Audio/Music")->budget_bytes == 4 * kMiB);
}

TEST_CASE("rows say their source; both rows carry the report and the estimate's error") {
    if (!memscope::tracking_enabled()) return;  // no tags, no measured rows
    memscope::MemoryBudget budget;
    budget.report("SrcReported", 5 * kMiB, 7);
    const TaggedBlocks measured("SrcMeasured", 4, 64 * 1024);
    const TaggedBlocks both("SrcBoth", 3, 32 * 1024);
    budget.report("SrcBoth", 1 * kMiB, 9);  // the game's estimate, beside the measurement
    budget.update();
    const auto figures = memscope::web::read_figures(budget, nullptr);
    const json rows = json::parse(memscope::web::subsystems_document(figures))["subsystems"];

    const json reported = row_named(rows, "SrcReported");
    CHECK(reported["source"] == "reported");
    CHECK(reported["current_bytes"] == 5 * kMiB);
    CHECK(reported["reported_bytes"] == 5 * kMiB);
    CHECK(reported["reported_count"] == 7);
    CHECK(reported["formatted"]["reported_bytes"] == "5.0 MB");
    CHECK_FALSE(reported.contains("estimate_error_bytes"));

    const json m = row_named(rows, "SrcMeasured");
    CHECK(m["source"] == "measured");
    CHECK(m["current_bytes"] == measured.bytes);
    CHECK(m["allocation_count"] == 4);
    CHECK_FALSE(m.contains("reported_bytes"));  // no report: absent, not 0
    CHECK_FALSE(m["formatted"].contains("reported_bytes"));
    CHECK_FALSE(m.contains("estimate_error_bytes"));

    const json b = row_named(rows, "SrcBoth");
    const auto error = static_cast<std::int64_t>(kMiB) - static_cast<std::int64_t>(both.bytes);
    CHECK(b["source"] == "both");
    CHECK(b["current_bytes"] == both.bytes);  // the measurement drives the row
    CHECK(b["allocation_count"] == 3);
    CHECK(b["reported_bytes"] == kMiB);
    CHECK(b["reported_count"] == 9);
    CHECK(b["estimate_error_bytes"] == error);
    CHECK(b["formatted"]["reported_bytes"] == "1.0 MB");
    CHECK(b["formatted"]["estimate_error_bytes"] == memscope::format_signed_memory(error, true));

    // The reconciliation, per subsystem: each figure where it exists.
    const json recon = json::parse(memscope::web::reconciliation_document(figures));
    CHECK(recon.contains("unattributed_bytes"));  // the global figures stay
    const json rr = row_named(recon["subsystems"], "SrcReported");
    CHECK(rr["source"] == "reported");
    CHECK(rr["reported_bytes"] == 5 * kMiB);
    CHECK_FALSE(rr.contains("measured_bytes"));
    CHECK_FALSE(rr.contains("estimate_error_bytes"));
    const json rm = row_named(recon["subsystems"], "SrcMeasured");
    CHECK(rm["measured_bytes"] == measured.bytes);
    CHECK_FALSE(rm.contains("reported_bytes"));
    const json rb = row_named(recon["subsystems"], "SrcBoth");
    CHECK(rb["source"] == "both");
    CHECK(rb["measured_bytes"] == both.bytes);
    CHECK(rb["reported_bytes"] == kMiB);
    CHECK(rb["estimate_error_bytes"] == error);
    CHECK(rb["formatted"]["measured_bytes"] == memscope::format_memory(both.bytes));
    for (const json& row : recon["subsystems"])
        for (const auto& [key, text] : row["formatted"].items())
            CHECK_MESSAGE(row.contains(key), key);  // a text beside every figure
}

TEST_CASE("the live stream is a source of SSE messages") {
    Fixture f;
    Response r = f.api->handle(request("GET", "/api/v1/stream"));
    REQUIRE(r.stream);
    CHECK(r.content_type == "text/event-stream");
    CHECK(f.api->stream_clients() == 1);
    std::string out;
    CHECK(r.stream->next(out));
    CHECK(out.find("retry: ") == 0);
    CHECK(out.find("event: snapshot\nid: 0\ndata: {") != std::string::npos);
    CHECK(out.ends_with("\n\n"));

    f.budget.report("Chunks", 1000 * kMiB, 1);  // warning
    out.clear();
    CHECK(r.stream->next(out));
    CHECK(out.find("event: budget_event\nid: 1\ndata: {") == 0);

    f.api->stop_streams();
    out.clear();
    CHECK_FALSE(r.stream->next(out));
    CHECK(out.find("event: end\n") == 0);
    r.stream.reset();
    CHECK(f.api->stream_clients() == 0);
}

TEST_CASE("the router survives arbitrary input") {
    Fixture f;
    std::mt19937 rng(12345);
    const std::vector<std::string> methods = {"GET",  "POST",    "PUT", "DELETE",
                                              "HEAD", "OPTIONS", "",    "G\x01T"};
    const std::vector<std::string> pieces = {
        "/",    "api",  "v1",     "budgets", "%",  "%2F",     "%00",  "..",
        "?",    "&",    "=",      "since",   "-1", "(total)", "\xff", "marks",
        "diff", "from", "stream", "Chunks",  "{",  "}",       "\""};
    for (int i = 0; i < 3000; ++i) {
        std::string target;
        const int n = static_cast<int>(rng() % 12);
        for (int k = 0; k < n; ++k) target += pieces[rng() % pieces.size()];
        std::string body;
        for (int k = static_cast<int>(rng() % 40); k > 0; --k)
            body += static_cast<char>(rng() % 256);
        Request r =
            request(methods[rng() % methods.size()], target, body,
                    {{"Content-Type", "application/json"}, {"Authorization", "Bearer tok"}});
        const Response out = f.api->handle(r);
        CHECK(out.status >= 200);
        CHECK(out.status < 600);
        if (!out.stream && out.content_type.starts_with("application/json"))
            CHECK_MESSAGE(json::accept(out.body), target);
    }
}

TEST_CASE("request bodies: budget, pressure, mark, empty") {
    using namespace memscope::web;
    auto json_request = [](std::string body) {
        return request("PUT", "/", std::move(body),
                       {{"Content-Type", "application/json; charset=utf-8"}});
    };
    BudgetBody budget;
    CHECK_FALSE(
        parse_budget_body(json_request(R"({"budget_bytes": 18446744073709551615})"), 1024, budget));
    CHECK(budget.budget_bytes == std::numeric_limits<std::uint64_t>::max());
    CHECK_FALSE(parse_budget_body(json_request(R"({"budget": "512 MiB"})"), 1024, budget));
    CHECK(budget.budget_bytes == 512 * kMiB);
    CHECK(parse_budget_body(json_request(R"({"budget_bytes": 18446744073709551616})"), 1024, budget)
              ->field == "budget_bytes");
    CHECK(parse_budget_body(json_request(std::string(2000, ' ')), 1024, budget)->status == 413);
    CHECK(parse_budget_body(request("PUT", "/", "{}"), 1024, budget)->status == 415);
    CHECK(
        parse_budget_body(json_request("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["), 1024, budget)->status ==
        400);

    PressureBody pressure;
    CHECK_FALSE(parse_pressure_body(json_request(R"({"status": "warning"})"), 1024, pressure));
    CHECK(pressure.status == memscope::MemoryStatus::warning);
    CHECK(parse_pressure_body(json_request(R"({"status": "unbudgeted"})"), 1024, pressure)->field ==
          "status");

    MarkBody mark;
    CHECK_FALSE(parse_mark_body(json_request(R"({"name": "boss-fight \u00e9"})"), 1024, mark));
    CHECK(mark.name == "boss-fight \xc3\xa9");
    CHECK(parse_mark_body(json_request(R"({"name": "tab\there"})"), 1024, mark)->field == "name");

    CHECK_FALSE(parse_empty_body(request("POST", "/"), 1024));
    CHECK_FALSE(parse_empty_body(json_request("{}"), 1024));
    CHECK(parse_empty_body(json_request("[]"), 1024));
    CHECK(parse_empty_body(json_request(R"({"x": 1})"), 1024)->field == "x");
}

TEST_CASE("the token comparison is exact") {
    using memscope::web::constant_time_equal;
    CHECK(constant_time_equal("abc", "abc"));
    CHECK_FALSE(constant_time_equal("abd", "abc"));
    CHECK_FALSE(constant_time_equal("ab", "abc"));
    CHECK_FALSE(constant_time_equal("abcabc", "abc"));  // read cyclically, still refused
    CHECK_FALSE(constant_time_equal("", "abc"));
    CHECK_FALSE(constant_time_equal("abc", ""));
    CHECK(constant_time_equal("", ""));
}

TEST_CASE("signed figures are formatted like format_memory() with a sign") {
    CHECK(memscope::format_signed_memory(-2097152) == "-2.0 MB");
    CHECK(memscope::format_signed_memory(2048, true) == "+2.0 KB");
    CHECK(memscope::format_signed_memory(2048) == "2.0 KB");
    CHECK(memscope::format_signed_memory(std::numeric_limits<std::int64_t>::min()) ==
          "-8589934592.00 GB");
}

TEST_CASE("the allocator's sources split its totals, each family with its own figures") {
    memscope::AllocationStats stats;
    stats.total_allocated_bytes = 12 * kMiB + 4096;
    stats.allocation_count = 700;
    stats.deallocation_count = 300;
    stats.net_allocations = 400;
    memscope::AllocationSources sources;
    sources.operators = {
        .current_bytes = 12 * kMiB, .allocation_count = 600, .deallocation_count = 250};
    sources.malloc_family = {
        .current_bytes = 4096, .allocation_count = 100, .deallocation_count = 50};
    std::string out;
    JsonWriter w(out);
    memscope::web::write_allocator(w, stats, sources);
    const json j = json::parse(out);
    const json& s = j["sources"];
    CHECK(s["malloc_counted"] == memscope::malloc_counting_enabled());
    for (const char* field : {"current_bytes", "allocation_count", "deallocation_count"}) {
        CHECK(s["operators"][field].is_number_integer());
        CHECK(s["malloc"][field].is_number_integer());
    }
    CHECK(s["operators"]["current_bytes"].get<std::size_t>() +
              s["malloc"]["current_bytes"].get<std::size_t>() ==
          j["total_allocated_bytes"].get<std::size_t>());
    CHECK(s["operators"]["allocation_count"].get<std::size_t>() +
              s["malloc"]["allocation_count"].get<std::size_t>() ==
          j["allocation_count"].get<std::size_t>());
    CHECK(s["operators"]["deallocation_count"].get<std::size_t>() +
              s["malloc"]["deallocation_count"].get<std::size_t>() ==
          j["deallocation_count"].get<std::size_t>());
    CHECK(s["operators"]["formatted"]["current_bytes"] == "12.0 MB");
    CHECK(s["malloc"]["formatted"]["current_bytes"] == "4.0 KB");

    // History samples keep the bare figures.
    out.clear();
    JsonWriter compact(out);
    memscope::web::write_allocator(compact, stats, sources, memscope::web::Detail::compact);
    CHECK_FALSE(json::parse(out).contains("sources"));
}

// Every route of the router has a "### METHOD /path" heading in docs/api.md, and every
// such heading is a route: the reference cannot fall behind the code, nor the reverse.
TEST_CASE("every endpoint is documented in docs/api.md") {
    Fixture f;
    std::set<std::string> routes;
    for (const auto& r : f.api->router().routes()) routes.insert(r.method + " " + r.pattern);

    std::ifstream file(MEMSCOPE_SOURCE_DIR "/docs/api.md");
    REQUIRE_MESSAGE(file.good(), "docs/api.md is missing");
    std::set<std::string> documented;
    // Headings "### METHOD /path" (parsed by hand: GCC 12 warns falsely about std::regex
    // under the sanitizers, and CI builds with -Werror).
    std::string line;
    while (std::getline(file, line)) {
        std::istringstream words(line);
        std::string hashes, method, path, rest;
        words >> hashes >> method >> path;
        const bool is_method = method == "GET" || method == "POST" || method == "PUT" ||
                               method == "DELETE" || method == "PATCH";
        if (hashes == "###" && is_method && path.rfind('/', 0) == 0 && !(words >> rest))
            documented.insert(method + " " + path);
    }
    for (const std::string& r : routes)
        CHECK_MESSAGE(documented.count(r) == 1, ("undocumented: " + r));
    for (const std::string& d : documented)
        CHECK_MESSAGE(routes.count(d) == 1, ("no such route: " + d));
}

#else

TEST_CASE("the router is part of the server build only") {
    CHECK_FALSE(memscope::server_available());
}

#endif

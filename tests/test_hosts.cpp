// SPDX-License-Identifier: MIT
// The Host check (web/hosts.hpp), without a socket: which names and addresses are answered,
// the port rule, the allowed list, and the refusal's body. test_security.cpp checks the
// same rule over real sockets.

#include <doctest/doctest.h>

#include <memscope/memscope.hpp>

#if MEMSCOPE_WITH_SERVER

#include <nlohmann/json.hpp>
#include <string>

#include "endpoints.hpp"
#include "hosts.hpp"
#include "router.hpp"

using memscope::web::check_host;
using memscope::web::HostPolicy;
using memscope::web::Request;

namespace {

Request with_host(const std::string& host, const std::string& local_address = "") {
    Request r = Request::from_target("GET", "/api/v1/snapshot");
    r.headers.emplace_back("Host", host);
    r.local_address = local_address;
    return r;
}

bool answered(const HostPolicy& policy, const std::string& host,
              const std::string& local_address = "") {
    return !check_host(policy, with_host(host, local_address));
}

}  // namespace

TEST_CASE("loopback names and literals are answered, with or without the server's port") {
    const HostPolicy policy{"127.0.0.1", 9090, {}};
    for (const char* host : {"localhost", "LOCALHOST:9090", "127.0.0.1", "127.0.0.1:9090",
                             "127.1.2.3:9090", "[::1]", "[::1]:9090", "[0:0::1]:9090"}) {
        CAPTURE(host);
        CHECK(answered(policy, host));
    }
}

TEST_CASE("other names, another port, or a malformed Host get 421") {
    const HostPolicy policy{"127.0.0.1", 9090, {}};
    for (const char* host : {"evil.example.com", "evil.example.com:9090", "localhost:9091",
                             "localhost.evil.example", "127.0.0.1:80", "10.0.0.5", "[::1",
                             "localhost:", "localhost:abc", "a b", "[evil]:9090", "::1"}) {
        CAPTURE(host);
        const auto refusal = check_host(policy, with_host(host));
        REQUIRE(refusal);
        CHECK(refusal->status == 421);
    }
}

TEST_CASE("the refusal is the API's JSON error, naming the Host seen and how to allow it") {
    const auto refusal =
        check_host(HostPolicy{"127.0.0.1", 9090, {}}, with_host("Evil.Example.com:9090"));
    REQUIRE(refusal);
    const auto body = nlohmann::json::parse(refusal->body);
    CHECK(body["host"] == "Evil.Example.com:9090");
    const std::string error = body["error"];
    CHECK(error.find("\"Evil.Example.com:9090\"") != std::string::npos);
    CHECK(error.find("MEMSCOPE_ALLOWED_HOSTS") != std::string::npos);
    CHECK(error.find("allowed_hosts") != std::string::npos);
}

TEST_CASE("no Host header, or an empty one, is answered: a browser always sends one") {
    const HostPolicy policy{"127.0.0.1", 9090, {}};
    CHECK_FALSE(check_host(policy, Request::from_target("GET", "/")));
    CHECK(answered(policy, ""));
}

TEST_CASE("two Host headers are a bad request") {
    Request r = with_host("localhost");
    r.headers.emplace_back("host", "localhost");
    const auto refusal = check_host(HostPolicy{"127.0.0.1", 9090, {}}, r);
    REQUIRE(refusal);
    CHECK(refusal->status == 400);
}

TEST_CASE("the bind address is answered; 0.0.0.0 and :: answer the address dialled") {
    CHECK(answered(HostPolicy{"10.0.0.5", 9090, {}}, "10.0.0.5:9090"));
    CHECK(answered(HostPolicy{"fd00::5", 9090, {}}, "[fd00::5]:9090"));
    CHECK_FALSE(answered(HostPolicy{"10.0.0.5", 9090, {}}, "10.0.0.6:9090"));

    const HostPolicy any{"0.0.0.0", 9090, {}};
    CHECK_FALSE(answered(any, "0.0.0.0:9090"));
    CHECK(answered(any, "10.0.0.5:9090", "10.0.0.5"));
    CHECK(answered(any, "10.0.0.5:9090", "::ffff:10.0.0.5"));
    CHECK_FALSE(answered(any, "10.0.0.6:9090", "10.0.0.5"));
    CHECK_FALSE(answered(any, "game.example:9090", "10.0.0.5"));
    CHECK(answered(HostPolicy{"::", 9090, {}}, "[fd00::5]:9090", "fd00::5"));
}

TEST_CASE("allowed_hosts adds names (any case, port still checked); * answers any Host") {
    const HostPolicy fleet{"0.0.0.0", 9090, {"Game-01.Fleet.example", "[fd00::7]"}};
    CHECK(answered(fleet, "game-01.fleet.example:9090"));
    CHECK(answered(fleet, "GAME-01.FLEET.EXAMPLE"));
    CHECK(answered(fleet, "[fd00::7]:9090"));
    CHECK_FALSE(answered(fleet, "game-01.fleet.example:8080"));
    CHECK_FALSE(answered(fleet, "game-02.fleet.example"));
    CHECK(answered(HostPolicy{"127.0.0.1", 9090, {"*"}}, "anything.example:1234"));
}

TEST_CASE("check_allowed_host: names, addresses and * only") {
    using memscope::web::check_allowed_host;
    for (const char* ok : {"game-01.fleet.example", "10.0.0.5", "fd00::5", "[fd00::5]", "*"})
        CHECK_MESSAGE(check_allowed_host(ok).empty(), ok);
    for (const char* bad : {"", "http://a.example", "a.example:9090", "*.example", "a b"})
        CHECK_FALSE_MESSAGE(check_allowed_host(bad).empty(), bad);
}

TEST_CASE("the Api refuses a foreign Host before any endpoint, with the security headers") {
    memscope::MemoryBudget budget;
    memscope::Sampler sampler(budget, {});
    memscope::web::ApiOptions options;
    options.hosts = {"127.0.0.1", 9090, {}};
    const memscope::web::Api api(budget, sampler, options);
    Request mark = with_host("evil.example.com:9090");
    mark.method = "POST";
    mark.path = "/api/v1/marks";
    mark.body = R"({"name":"x"})";
    for (const Request& r : {with_host("evil.example.com:9090"), mark}) {
        const auto response = api.handle(r);
        CHECK(response.status == 421);
        CHECK(response.header("X-Frame-Options") == "DENY");
        CHECK(response.header("Content-Security-Policy"));
    }
    CHECK(api.handle(with_host("localhost:9090")).status == 200);
}

#else

TEST_CASE("without the server there is no Host check") {
    CHECK_FALSE(memscope::server_available());
}

#endif

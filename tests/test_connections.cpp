// SPDX-License-Identifier: MIT
// The connection layer under the dashboard server (web/connections.hpp) over real sockets:
// the connection cap, connections that wait without holding a worker, the request head
// and body limits, framing errors, keep-alive and pipelining, and stop() with connections
// in every state. The hostile-client test (tests/hostile/) runs the same attacks, and
// more, against the voxel demo.

#include <doctest/doctest.h>

#include <memscope/memscope.hpp>

#if MEMSCOPE_WITH_SERVER

#include <dirent.h>
#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "connections.hpp"
#include "test_support.hpp"

using memscope::ServerOptions;
using memscope_test::raw_request;
using memscope_test::RawResponse;
using memscope_test::RawSocket;
using memscope_test::Running;
using memscope_test::test_options;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kHealthz =
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Sends `head` then `body_bytes` of 'x' in 64 KiB pieces while reading, as a client that
// watches for an early answer does; returns what arrived and how much was sent.
RawResponse send_while_reading(int port, const std::string& head, std::size_t body_bytes,
                               std::size_t* sent_body = nullptr) {
    RawSocket s(port);
    s.send(head);
    const std::string piece(64 * 1024, 'x');
    std::size_t sent = 0;
    std::string got;
    bool closed = false;
    while (sent < body_bytes && !closed) {
        got += s.receive(std::chrono::milliseconds(0), &closed);
        if (!got.empty() || closed) break;
        if (!s.send(std::string_view(piece).substr(0, std::min(piece.size(), body_bytes - sent))))
            break;
        sent += std::min(piece.size(), body_bytes - sent);
    }
    got += s.receive(std::chrono::seconds(10), &closed);
    if (sent_body != nullptr) *sent_body = sent;
    RawResponse r = memscope_test::parse_response(got);
    r.closed = closed;
    return r;
}

}  // namespace

TEST_CASE("idle connections beyond the cap starve nobody, and the server recovers at once") {
    ServerOptions o = test_options();
    o.worker_threads = 2;
    o.max_connections = 16;
    Running s(o);
    std::vector<RawSocket> idle;
    for (int i = 0; i < 300; ++i) idle.emplace_back(s.port);
    const auto t0 = Clock::now();
    const RawResponse r = raw_request(s.port, kHealthz);
    const double served_in = seconds_since(t0);
    CHECK(r.status == 200);
    MESSAGE("300 idle connections held (cap 16, 2 workers): a request answered in "
            << served_in * 1000 << " ms");
    // cpp-httplib alone took each connection to a worker for the keep-alive time (2 s):
    // 300 of them held 2 workers for 5 minutes.
    CHECK(served_in < 2.0);
    // The server closed the oldest idle ones to stay at the cap.
    int closed = 0;
    for (RawSocket& c : idle) {
        bool eof = false;
        c.receive(std::chrono::milliseconds(0), &eof);
        closed += eof;
    }
    MESSAGE(closed << " of the 300 idle connections were closed by the server at once");
    CHECK(closed >= 300 - 16);
    idle.clear();
    CHECK(raw_request(s.port, kHealthz).status == 200);
}

TEST_CASE("connections trickling a request head hold no worker, and get 408 when too slow") {
    ServerOptions o = test_options();
    o.worker_threads = 2;
    o.read_timeout = std::chrono::milliseconds(600);
    Running s(o);
    std::vector<RawSocket> slow;
    for (int i = 0; i < 8; ++i) {
        slow.emplace_back(s.port);
        slow.back().send("GET /healthz HTTP/1.1\r\nHo");
    }
    const auto t0 = Clock::now();
    CHECK(raw_request(s.port, kHealthz).status == 200);
    MESSAGE("8 trickling heads, 2 workers: a request answered in " << seconds_since(t0) * 1000
                                                                   << " ms");
    CHECK(seconds_since(t0) < 0.5);
    // One byte now and then does not extend the time a head may take.
    slow[0].send("s");
    const RawResponse late =
        memscope_test::parse_response(slow[0].receive(std::chrono::seconds(10), nullptr));
    CHECK(late.status == 408);
    CHECK(late.header("connection") == "close");
}

TEST_CASE("a request head over 32 KiB gets 431, a request line over it 414, without growth") {
    Running s;
    const std::size_t before = memscope::allocation_stats().total_allocated_bytes;
    // Headers in 8 KiB lines, each within cpp-httplib's per-line limit (alone, it read any
    // number of them), then a request line that never ends.
    std::string many = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (int i = 0; i < 8; ++i) many += "X-Filler: " + std::string(8000, 'f') + "\r\n";
    RawResponse r;
    {
        RawSocket c(s.port);
        c.send(many);
        bool closed = false;
        r = memscope_test::parse_response(c.receive(std::chrono::seconds(10), &closed));
        CHECK(r.status == 431);
        CHECK(closed);
    }
    {
        RawSocket c(s.port);
        c.send("GET /" + std::string(64 * 1024, 'a'));
        bool closed = false;
        r = memscope_test::parse_response(c.receive(std::chrono::seconds(10), &closed));
        CHECK(r.status == 414);
        CHECK(closed);
    }
    // A line over cpp-httplib's 8 KiB per line but within the head limit: its 400.
    r = raw_request(s.port, "GET /healthz HTTP/1.1\r\nX-Long: " + std::string(9000, 'l') +
                                "\r\nConnection: close\r\n\r\n");
    CHECK(r.status == 400);
    const std::size_t after = memscope::allocation_stats().total_allocated_bytes;
    MESSAGE("allocated bytes before " << before << ", after " << after);
    CHECK(after < before + 1024 * 1024);
    CHECK(raw_request(s.port, kHealthz).status == 200);
}

TEST_CASE("a body over max_body_bytes gets 413 before it is read") {
    Running s;
    const std::string json = "Content-Type: application/json\r\n";
    const std::size_t hundred_mb = 100u << 20;
    std::size_t sent = 0;
    SUBCASE("declared length, POST") {
        const RawResponse r =
            send_while_reading(s.port,
                               "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + json +
                                   "Content-Length: 104857600\r\n\r\n",
                               hundred_mb, &sent);
        CHECK(r.status == 413);
        CHECK(r.header("connection") == "close");
    }
    SUBCASE("declared length, GET") {
        const RawResponse r = send_while_reading(
            s.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 104857600\r\n\r\n",
            hundred_mb, &sent);
        CHECK(r.status == 413);
    }
    SUBCASE("chunked, which declares no length: cut at the limit") {
        RawSocket c(s.port);
        c.send("POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + json +
               "Transfer-Encoding: chunked\r\n\r\n");
        const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
        bool closed = false;
        std::string got;
        for (int i = 0; i < 1600 && got.empty() && !closed; ++i) {  // 100 MiB at most
            if (!c.send(chunk)) break;
            sent += 0x10000;
            got = c.receive(std::chrono::milliseconds(0), &closed);
        }
        got += c.receive(std::chrono::seconds(10), &closed);
        const RawResponse r = memscope_test::parse_response(got);
        CAPTURE(got.substr(0, 400));
        CHECK(r.status == 413);
    }
    SUBCASE("Expect: 100-continue is answered 413 instead of 100") {
        const RawResponse r =
            raw_request(s.port, "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + json +
                                    "Content-Length: 104857600\r\nExpect: 100-continue\r\n\r\n");
        CHECK(r.status == 413);
        CHECK(r.raw.find("100 Continue") == std::string::npos);
    }
    MESSAGE("body bytes the client managed to send before the answer: " << sent);
    CHECK(sent < 16u << 20);
    CHECK(raw_request(s.port, kHealthz).status == 200);
}

TEST_CASE("malformed framing is refused and the connection closed") {
    Running s;
    const struct {
        const char* what;
        std::string request;
        int status;
    } cases[] = {
        {"both lengths", "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}", 400},
        {"negative length", "Content-Length: -5\r\n\r\n", 400},
        {"non-numeric length", "Content-Length: abc\r\n\r\n", 400},
        {"two lengths", "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},
        {"huge length", "Content-Length: 99999999999999999999999\r\n\r\n", 400},
        {"gzip coding", "Transfer-Encoding: gzip\r\n\r\n", 501},
        {"bad chunk size", "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const RawResponse r = raw_request(
            s.port,
            "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                c.request);
        CHECK(r.status == c.status);
        CHECK(r.closed);
        CHECK(r.header("connection") == "close");
    }
}

TEST_CASE("keep-alive and pipelining work; errors of the request itself close") {
    Running s;
    {
        RawSocket c(s.port);
        // Two requests in one write, and a 404 in between: all answered, in order, on one
        // connection that stays open.
        c.send(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /nope HTTP/1.1\r\nHost: "
            "127.0.0.1\r\n\r\n"
            "GET /api/v1/totals HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        bool closed = false;
        std::string got;
        const auto deadline = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < deadline && got.find("\"subsystem_count\"") == std::string::npos &&
               !closed)
            got += c.receive(std::chrono::milliseconds(100), &closed);
        CHECK_FALSE(closed);
        const auto first = got.find("HTTP/1.1 200");
        const auto second = got.find("HTTP/1.1 404");
        const auto third = got.find("HTTP/1.1 200", first + 1);
        CHECK(first == 0);
        CHECK(second != std::string::npos);
        CHECK(third != std::string::npos);
        CHECK(second < third);
        // Still usable.
        c.send(kHealthz);
        CHECK(c.receive(std::chrono::seconds(5), &closed).starts_with("HTTP/1.1 200"));
    }
    // A malformed request line: 400 and closed.
    const RawResponse bad = raw_request(s.port, "GARBAGE\r\n\r\n");
    CHECK(bad.status == 400);
    CHECK(bad.closed);
    // HTTP/1.0 without keep-alive: closed after the answer.
    const RawResponse old = raw_request(s.port, "GET /healthz HTTP/1.0\r\n\r\n");
    CHECK(old.status == 200);
    CHECK(old.closed);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
    Running s;
    RawSocket c(s.port);
    c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    bool closed = false;
    const auto t0 = Clock::now();
    const std::string got = c.receive(std::chrono::seconds(10), &closed);
    CHECK(got.starts_with("HTTP/1.1 200"));
    CHECK(closed);
    const double idle = seconds_since(t0);
    MESSAGE("closed after " << idle << " s");
    CHECK(idle >= 1.5);
    CHECK(idle < 6.0);
}

TEST_CASE("stop() returns promptly with connections in every state, and closes them") {
    ServerOptions o = test_options();
    o.max_connections = 200;
    o.worker_threads = 8;  // room for the two stuck bodies and the three streams at once
    Running s(o);
    std::vector<RawSocket> held;
    for (int i = 0; i < 100; ++i) held.emplace_back(s.port);  // idle
    for (int i = 0; i < 20; ++i) {                            // trickling heads
        held.emplace_back(s.port);
        held.back().send("GET /healthz HTTP/1.1\r\n");
    }
    for (int i = 0; i < 2; ++i) {  // bodies that never finish
        held.emplace_back(s.port);
        held.back().send(
            "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 50\r\n\r\n{");
    }
    for (int i = 0; i < 3; ++i) {  // live streams
        held.emplace_back(s.port);
        held.back().send("GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        REQUIRE(
            held.back().receive(std::chrono::seconds(5), nullptr, 12).starts_with("HTTP/1.1 200"));
    }
    const auto t0 = Clock::now();
    s.server->stop();
    const double took = seconds_since(t0);
    MESSAGE("stop() with " << held.size() << " connections took " << took * 1000 << " ms");
    CHECK(took < 2.0);
    int closed = 0;
    for (RawSocket& c : held) {
        bool eof = false;
        c.receive(std::chrono::seconds(2), &eof);
        closed += eof;
    }
    CHECK(closed == static_cast<int>(held.size()));
}

TEST_CASE("the server's side of a connection is closed on exec") {
    Running s;
    RawSocket client(s.port);
    client.send("GET /healthz HTTP/1.1\r\n");  // a head that waits in the poller
    // The server runs in this process: its accepted socket is the descriptor bound to
    // its port that has a peer (the listening socket has none).
    const auto server_side_cloexec = [&] {
        DIR* dir = opendir("/proc/self/fd");
        if (dir == nullptr) return false;
        bool found = false;
        while (dirent* entry = readdir(dir)) {
            const int fd = std::atoi(entry->d_name);
            sockaddr_in local{}, peer{};
            socklen_t length = sizeof local;
            if (fd <= 2 || fd == dirfd(dir) ||
                getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
                local.sin_family != AF_INET || ntohs(local.sin_port) != s.port)
                continue;
            length = sizeof peer;
            if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;
            found = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
        }
        closedir(dir);
        return found;
    };
    CHECK(memscope_test::wait_until(server_side_cloexec, std::chrono::seconds(10)));
}

TEST_CASE("canned refusals are complete HTTP responses") {
    const std::string text = memscope::web::canned_response(503, "too many connections");
    const RawResponse r = memscope_test::parse_response(text);
    CHECK(r.status == 503);
    CHECK(r.header("connection") == "close");
    CHECK(r.header("retry-after") == "1");
    CHECK(r.header("content-type") == "application/json; charset=utf-8");
    CHECK(r.body == R"({"error":"too many connections"})");
    CHECK(std::stoul(r.header("content-length")) == r.body.size());
}

#else  // a build without the server

TEST_CASE("connections: without the server there is nothing to connect to") {
    CHECK_FALSE(memscope::server_available());
}

#endif

// SPDX-License-Identifier: MIT
// The dashboard server's security rules (issue 7, item 5), one test case per rule, over
// real sockets: loopback by default and a warning elsewhere without a token; the token
// compared in constant time, never logged, never echoed; control endpoints refused
// without it; no CORS; static files only from the embedded table; the headers that stop
// framing and sniffing on every response, errors and refusals included.

#include <doctest/doctest.h>

#include <memscope/memscope.hpp>

#if MEMSCOPE_WITH_SERVER

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "control.hpp"
#include "router.hpp"
#include "test_support.hpp"

using memscope::MemoryBudget;
using memscope::Server;
using memscope::ServerOptions;
using memscope_test::get;
using memscope_test::kMiB;
using memscope_test::LogCapture;
using memscope_test::raw_request;
using memscope_test::RawResponse;
using memscope_test::RawSocket;
using memscope_test::Running;
using memscope_test::ScopedEnv;
using memscope_test::TempDir;
using memscope_test::test_options;
using memscope_test::wait_until;
using memscope_test::with_body;

using namespace std::string_literals;

namespace {

constexpr const char* kToken = "Tq9-security-test-token-7f3a";

std::string bearer(const std::string& token) {
    return "Authorization: Bearer " + token + "\r\n";
}

// The four headers of docs/api.md "Headers of every response", as this rule requires.
void check_security_headers(const RawResponse& r, const std::string& what) {
    CAPTURE(what);
    REQUIRE_MESSAGE(r.status != 0, "no response to " << what << ": " << r.raw.substr(0, 200));
    CHECK(r.header("x-content-type-options") == "nosniff");
    const std::string csp = r.header("content-security-policy");
    CHECK(csp == memscope::web::kContentSecurityPolicy);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(csp.find("unsafe-eval") == std::string::npos);
    CHECK(r.header("x-frame-options") == "DENY");
    CHECK(r.header("referrer-policy") == "no-referrer");
    for (const auto& [name, value] : r.headers)
        CHECK_MESSAGE(!name.starts_with("access-control-"), name << ": " << value);
}

// A non-loopback IPv4 address of this machine, if it has one.
std::string external_ipv4() {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return {};
    std::string found;
    for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
        const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        char text[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        if (!std::string_view(text).starts_with("127.")) found = text;
    }
    freeifaddrs(list);
    return found;
}

// Connects to address:port; true when the connection is accepted.
bool reachable(const std::string& address, int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// What a careless implementation would do: return at the first difference. Written out
// (not memcmp, which sanitizers replace with a version that reads every byte).
[[gnu::noinline]] bool early_exit_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// The shortest of `rounds` timings of each of `fs`, in nanoseconds. The functions take turns
// within each round, so that a stretch of noise (another process, a slower clock) slows
// them all rather than one of them.
template <class... F>
std::array<double, sizeof...(F)> fastest_ns(int rounds, F... fs) {
    std::array<double, sizeof...(F)> best;
    best.fill(1e300);
    for (int r = 0; r < rounds; ++r) {
        std::size_t i = 0;
        const auto time_one = [&](auto& f) {
            const auto t0 = std::chrono::steady_clock::now();
            f();
            const auto t1 = std::chrono::steady_clock::now();
            best[i] = std::min(best[i], std::chrono::duration<double, std::nano>(t1 - t0).count());
            ++i;
        };
        (time_one(fs), ...);
    }
    return best;
}

}  // namespace

TEST_CASE("rule: the server listens on loopback by default, unreachable from other hosts") {
    CHECK(ServerOptions{}.bind_address == "127.0.0.1");
    ScopedEnv bind("MEMSCOPE_BIND", nullptr);
    ScopedEnv port("MEMSCOPE_PORT", "0");
    MemoryBudget budget;
    Server server(budget, ServerOptions{});  // the defaults, environment read
    const auto started = server.start();
    REQUIRE_MESSAGE(started, started.error);
    CHECK(started.url == "http://127.0.0.1:" + std::to_string(started.port) + "/");
    CHECK(reachable("127.0.0.1", started.port));
    // Another address of this machine stands for the network: nothing listens there.
    if (const std::string other = external_ipv4(); !other.empty()) {
        CAPTURE(other);
        CHECK_FALSE(reachable(other, started.port));
    } else {
        MESSAGE("this machine has no non-loopback IPv4 address to try");
    }
}

TEST_CASE("rule: a warning is logged when bound beyond loopback without a token, and only then") {
    LogCapture log;
    const auto warnings_for = [&](const std::string& address, const std::string& token) {
        const std::size_t before = log.warnings().size();
        MemoryBudget budget;
        ServerOptions o = test_options();
        o.bind_address = address;
        o.token = token;
        Server server(budget, o);
        const auto started = server.start();
        if (!started) return std::vector<std::string>{"(not started: " + started.error + ")"};
        server.stop();
        const auto all = log.warnings();
        return std::vector<std::string>(all.begin() + static_cast<std::ptrdiff_t>(before),
                                        all.end());
    };
    for (const char* address : {"127.0.0.1", "127.0.0.2", "localhost"}) {
        CAPTURE(address);
        CHECK(warnings_for(address, "").empty());
    }
    const auto exposed = warnings_for("0.0.0.0", "");
    REQUIRE(exposed.size() == 1);
    CHECK(exposed[0].find("0.0.0.0") != std::string::npos);
    CHECK(exposed[0].find("without a token") != std::string::npos);
    CHECK(warnings_for("0.0.0.0", kToken).empty());
    // IPv6 when the machine has it.
    const auto v6 = warnings_for("::", "");
    if (!v6.empty() && v6[0].starts_with("(not started")) {
        MESSAGE("no IPv6 here: " << v6[0]);
    } else {
        REQUIRE(v6.size() == 1);
        CHECK(v6[0].find("without a token") != std::string::npos);
    }
    for (const auto& [level, text] : log.lines()) CHECK(text.find(kToken) == std::string::npos);
}

TEST_CASE("rule: the token comparison gives the same answers as ==") {
    using memscope::web::constant_time_equal;
    const std::vector<std::string> samples = {"",     "a",    "b",      "ab",    "ba",
                                              "abc",  "abd",  "abcabc", "abcab", "bc",
                                              "\0a"s, "a\0"s, kToken,   "Tq9-",  "x"};
    for (const std::string& a : samples)
        for (const std::string& b : samples) {
            CAPTURE(a);
            CAPTURE(b);
            CHECK(constant_time_equal(a, b) == (a == b));
        }
    // Every single-byte change of a real token, at every position, is refused.
    const std::string token = kToken;
    for (std::size_t i = 0; i < token.size(); ++i) {
        std::string wrong = token;
        wrong[i] = static_cast<char>(wrong[i] ^ 1);
        CHECK_FALSE(constant_time_equal(wrong, token));
    }
}

// The comparison reads the whole configured token whatever the client sent: the time it
// takes must not tell how many leading bytes were right. Timed over a long secret, where
// an early exit would be a thousand times faster on a first-byte mismatch; the same
// measurement of an early-exit comparison shows the difference, so the test can tell one
// from the other.
TEST_CASE("rule: the token comparison takes the same time wherever the first difference is") {
    using memscope::web::constant_time_equal;
    const std::string secret(256 * 1024, 'k');
    std::string first = secret;  // wrong at byte 0
    first.front() = 'x';
    std::string last = secret;  // wrong at the last byte
    last.back() = 'x';
    const std::string shorter = "k";  // the wrong length
    volatile bool sink = false;
    constexpr int kRounds = 25;

    const auto [t_first, t_last, t_equal, t_short] = fastest_ns(
        kRounds, [&] { sink = constant_time_equal(first, secret); },
        [&] { sink = constant_time_equal(last, secret); },
        [&] { sink = constant_time_equal(secret, secret); },
        [&] { sink = constant_time_equal(shorter, secret); });
    MESSAGE("constant_time_equal over 256 KiB: first byte wrong "
            << t_first / 1e3 << " us, last byte wrong " << t_last / 1e3 << " us, equal "
            << t_equal / 1e3 << " us, 1-byte " << t_short / 1e3 << " us");
    CHECK(t_last / t_first < 3.0);
    CHECK(t_first / t_last < 3.0);
    CHECK(t_equal / t_first < 3.0);
    CHECK(t_short / t_first < 3.0);
    CHECK(t_first / t_short < 3.0);

    // The measurement has teeth: an early-exit comparison is caught by it.
    const auto [e_first, e_last] = fastest_ns(
        kRounds, [&] { sink = early_exit_equal(first, secret); },
        [&] { sink = early_exit_equal(last, secret); });
    MESSAGE("an early-exit comparison over 256 KiB: first byte wrong "
            << e_first / 1e3 << " us, last byte wrong " << e_last / 1e3 << " us");
    CHECK(e_last / std::max(e_first, 1.0) > 10.0);
    (void)sink;
}

TEST_CASE("rule: the token is never logged and never written to a response") {
    LogCapture log;
    ServerOptions o = test_options();
    o.token = kToken;
    Running s(o);
    const std::string right = bearer(kToken);
    const std::string wrong = bearer(std::string(kToken) + "x");
    const std::string prefix = bearer(std::string(kToken).substr(0, 10));
    std::vector<std::string> requests;
    for (const char* path :
         {"/healthz", "/api/v1/allocator", "/api/v1/process", "/api/v1/subsystems",
          "/api/v1/totals", "/api/v1/reconciliation", "/api/v1/events", "/api/v1/history",
          "/api/v1/trends", "/api/v1/snapshot", "/api/v1/marks", "/api/v1/verdict", "/metrics", "/",
          "/static/app.js", "/nope", "/api/v1/diff?from=x"}) {
        requests.push_back(get(path));
        requests.push_back(get(path, right));
        requests.push_back(get(path, wrong));
    }
    for (const std::string& auth : {right, wrong, prefix, std::string()}) {
        requests.push_back(
            with_body("PUT", "/api/v1/budgets/Chunks", R"({"budget": "2 GiB"})", auth));
        requests.push_back(with_body("PUT", "/api/v1/budgets/Nope", R"({"budget": 1})", auth));
        requests.push_back(with_body("POST", "/api/v1/peaks/reset", "{}", auth));
        requests.push_back(
            with_body("POST", "/api/v1/pressure/Chunks", R"({"status": "warning"})", auth));
        requests.push_back(with_body("POST", "/api/v1/pressure/Chunks", "{bad json", auth));
        requests.push_back(with_body("POST", "/api/v1/marks", R"({"name": "m"})", auth));
        requests.push_back("FOO / HTTP/1.1\r\n" + auth + "\r\n");  // malformed: 400
    }
    int answered = 0;
    for (const std::string& request : requests) {
        const RawResponse r = raw_request(s.port, request, std::chrono::seconds(5));
        CAPTURE(request.substr(0, 80));
        CHECK(r.status != 0);
        CHECK(r.raw.find(kToken) == std::string::npos);
        CHECK(r.raw.find(std::string(kToken).substr(0, 10)) == std::string::npos);
        answered += r.status != 0;
    }
    MESSAGE(answered << " responses checked");
    s.server->stop();
    for (const auto& [level, text] : log.lines()) {
        CAPTURE(text);
        CHECK(text.find(kToken) == std::string::npos);
        CHECK(text.find(std::string(kToken).substr(0, 10)) == std::string::npos);
    }
    // An invalid token is refused without being quoted.
    MemoryBudget budget;
    ServerOptions bad = test_options();
    bad.token = std::string(kToken) + " with space";
    const auto refused = Server(budget, bad).start();
    CHECK_FALSE(refused.started);
    CHECK(refused.error.find(kToken) == std::string::npos);
}

namespace {

// Each control endpoint, with a body it would accept.
struct Control {
    std::string method, target, body;
};

std::vector<Control> controls() {
    const std::string budget_edit = R"({"budget_bytes": 1})";
    return {
        {"PUT", "/api/v1/budgets/Chunks", budget_edit},
        {"PUT", "/api/v1/budgets/(total)", budget_edit},
        {"POST", "/api/v1/peaks/reset", "{}"},
        {"POST", "/api/v1/pressure/Chunks", R"({"status": "over_budget"})"},
    };
}

// Authorization that is not the right Bearer header for the token `t`, in every way a
// client could get it wrong.
std::vector<std::string> wrong_authorizations(const std::string& t) {
    return {
        "",  // none
        "Authorization: Bearer\r\n",
        "Authorization: Bearer \r\n",
        bearer("wrong"),
        bearer(t.substr(0, t.size() - 1)),                                     // a prefix
        bearer(t + "x"),                                                       // longer
        bearer(t + t),                                                         // repeated
        bearer(std::string(1, static_cast<char>(t[0] ^ 0x20)) + t.substr(1)),  // case
        "Authorization: Basic " + t + "\r\n",                                  // another scheme
        "Authorization: " + t + "\r\n",                                        // no scheme
        "Authorization: Bearer  x" + t + "\r\n",
        "Cookie: token=" + t + "\r\n",                  // not a cookie
        "X-Memscope-Token: " + t + "\r\n",              // not another header
        "Authorization: Bearer wrong\r\n" + bearer(t),  // the first one counts
    };
}

// What refused control requests leave as it was: the default budgets, and the pressure
// callback (which counts in `calls`) never called.
void check_unchanged(const Running& s, const std::atomic<int>& calls) {
    CHECK(s.budget.subsystem("Chunks")->budget_bytes == 1024 * kMiB);
    CHECK(s.budget.total_budget_bytes() == 4096 * kMiB);
    CHECK(calls == 0);
}

}  // namespace

TEST_CASE("rule: control endpoints are refused without the token, and change nothing") {
    SUBCASE("no token configured: 403, whatever the request carries") {
        Running s;
        std::atomic<int> calls{0};
        s.budget.on_pressure("Chunks", [&](const memscope::PressureEvent&) { ++calls; });
        for (const Control& c : controls())
            for (const std::string& auth :
                 {std::string(), bearer(""), bearer("anything"), bearer(kToken)}) {
                CAPTURE(c.target);
                CAPTURE(auth);
                const RawResponse r =
                    raw_request(s.port, with_body(c.method, c.target, c.body, auth));
                CHECK(r.status == 403);
            }
        check_unchanged(s, calls);
    }
    SUBCASE("token configured: 401 for anything but the right Bearer header") {
        ServerOptions o = test_options();
        o.token = kToken;
        Running s(o);
        std::atomic<int> calls{0};
        s.budget.on_pressure("Chunks", [&](const memscope::PressureEvent&) { ++calls; });
        const std::string t = kToken;
        for (const Control& c : controls()) {
            for (const std::string& auth : wrong_authorizations(t)) {
                CAPTURE(c.target);
                CAPTURE(auth);
                const RawResponse r =
                    raw_request(s.port, with_body(c.method, c.target, c.body, auth));
                CHECK(r.status == 401);
                CHECK(r.header("www-authenticate").starts_with("Bearer"));
            }
            // Nor in the query string.
            const RawResponse q =
                raw_request(s.port, with_body(c.method, c.target + "?token=" + t, c.body));
            CHECK(q.status == 401);
            // Reading methods do not reach a control handler.
            for (const char* method : {"GET", "HEAD", "OPTIONS", "DELETE", "PATCH"}) {
                CAPTURE(method);
                const RawResponse m =
                    raw_request(s.port, std::string(method) + " " + c.target +
                                            " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + bearer(t) +
                                            "Connection: close\r\n\r\n");
                CHECK(m.status == 405);
            }
        }
        check_unchanged(s, calls);
        // The right token, with the scheme in any case, is accepted.
        RawResponse ok = raw_request(
            s.port, with_body("POST", "/api/v1/pressure/Chunks", R"({"status": "warning"})",
                              "Authorization: bEaReR " + t + "\r\n"));
        CHECK(ok.status == 200);
        CHECK(calls == 1);
        ok = raw_request(s.port, with_body("PUT", "/api/v1/budgets/Chunks",
                                           R"({"budget_bytes": 1})", bearer(t)));
        CHECK(ok.status == 200);
        CHECK(s.budget.subsystem("Chunks")->budget_bytes == 1);
    }
}

TEST_CASE("rule: no CORS: other origins get no Access-Control-* header, preflights are refused") {
    ServerOptions o = test_options();
    o.token = kToken;
    Running s(o);
    const std::string origin = "Origin: http://evil.example\r\n";
    std::vector<std::pair<std::string, std::string>> requests;  // what, request
    for (const char* path : {"/healthz", "/api/v1/snapshot", "/api/v1/stream", "/metrics", "/",
                             "/static/app.js", "/nope"})
        requests.emplace_back(
            std::string("GET ") + path,
            get(path, origin + (std::string(path) == "/api/v1/stream" ? "X-Ignore: 1\r\n" : "")));
    requests.emplace_back("PUT budgets with the token",
                          with_body("PUT", "/api/v1/budgets/Chunks", R"({"budget_bytes": 5})",
                                    origin + bearer(kToken)));
    requests.emplace_back("POST peaks/reset with the token",
                          with_body("POST", "/api/v1/peaks/reset", "{}", origin + bearer(kToken)));
    for (const char* path : {"/api/v1/budgets/Chunks", "/api/v1/peaks/reset",
                             "/api/v1/pressure/Chunks", "/api/v1/marks", "/api/v1/snapshot", "/"})
        requests.emplace_back(std::string("preflight ") + path,
                              std::string("OPTIONS ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                  origin +
                                  "Access-Control-Request-Method: PUT\r\n"
                                  "Access-Control-Request-Headers: authorization, content-type\r\n"
                                  "Connection: close\r\n\r\n");
    for (const auto& [what, request] : requests) {
        CAPTURE(what);
        // The stream never ends by itself: read its head only.
        const RawResponse r = raw_request(
            s.port, request, std::chrono::milliseconds(what.ends_with("stream") ? 500 : 5000));
        REQUIRE(r.status != 0);
        for (const auto& [name, value] : r.headers)
            CHECK_MESSAGE(!name.starts_with("access-control-"), name << ": " << value);
        if (what.starts_with("preflight")) {
            CHECK(r.status == 405);
            CHECK(r.header("allow").find("OPTIONS") == std::string::npos);
        }
    }
}

namespace {

// Targets that try to reach a file outside the embedded table: traversal, plain and
// encoded once, twice or three times, backslashes, NUL bytes, overlong UTF-8, files beside
// the table's, absolute paths and the absolute form.
std::vector<std::string> escape_attempts() {
    return {
        "/../../etc/passwd",
        "/static/../../../etc/passwd",
        "/static/../secret.txt",
        "/static/../../secret.txt",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/..%2f..%2fsecret.txt",
        "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd",  // double-encoded
        "/static/%25252e%25252e%25252fsecret.txt",               // triple
        "/static/..%5c..%5c..%5cetc%5cpasswd",                   // backslashes, encoded
        "/static/..\\..\\..\\etc\\passwd",                       // backslashes
        "/static\\..\\secret.txt",
        "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",  // overlong UTF-8 dots
        "/static/app.js%00.txt",
        "/static/%00../../etc/passwd",
        "/static/notes.txt",
        "/static/secret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/....//....//etc/passwd",
        "/static/./app.js/../../secret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
        "http://127.0.0.1/../../etc/passwd",  // absolute form
    };
}

// Every escape attempt on the server at `port` is refused (404 or 400) with the security
// headers, and nothing of /etc/passwd or of the files around the web root is served.
void check_no_escape(int port) {
    for (const std::string& target : escape_attempts()) {
        CAPTURE(target);
        const RawResponse r = raw_request(port, get(target));
        CHECK((r.status == 404 || r.status == 400));
        CHECK(r.raw.find("root:") == std::string::npos);  // /etc/passwd
        CHECK(r.raw.find("OUTSIDE-THE-ROOT") == std::string::npos);
        CHECK(r.raw.find("NOT-IN-THE-TABLE") == std::string::npos);
        check_security_headers(r, target);
    }
    // A raw NUL byte in the request line.
    static constexpr char kNul[] =
        "GET /static/app.js\0/../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
        "close\r\n\r\n";
    const RawResponse nul = raw_request(port, std::string(kNul, sizeof kNul - 1));
    CHECK(nul.status != 200);
    CHECK(nul.raw.find("root:") == std::string::npos);
}

}  // namespace

TEST_CASE("rule: static files come only from the embedded table, whatever the path") {
    // A web root, with a file of the table and one that is not, and files beside the root.
    const TempDir base("memscope-security");
    const std::string root = (base.path() / "root").string();
    REQUIRE(mkdir(root.c_str(), 0700) == 0);
    base.write("root/app.js", "// the developer's app.js\n");
    base.write("root/notes.txt", "NOT-IN-THE-TABLE\n");
    base.write("secret.txt", "OUTSIDE-THE-ROOT\n");
    base.write("style.css", "OUTSIDE-THE-ROOT-CSS\n");

    SUBCASE("embedded files only") {
        ScopedEnv env("MEMSCOPE_WEB_ROOT", nullptr);
        Running s;
        check_no_escape(s.port);
    }
    SUBCASE("MEMSCOPE_WEB_ROOT cannot escape its directory") {
        ScopedEnv env("MEMSCOPE_WEB_ROOT", root.c_str());
        Running s;
        check_no_escape(s.port);
        // The table's names are read from the root, and only they.
        RawResponse r = raw_request(s.port, get("/static/app.js"));
        CHECK(r.status == 200);
        CHECK(r.body == "// the developer's app.js\n");
        r = raw_request(s.port, get("/static/style.css"));  // not in the root: embedded
        CHECK(r.status == 200);
        CHECK(r.body.find("OUTSIDE-THE-ROOT") == std::string::npos);
    }
}

TEST_CASE("rule: every response carries the anti-framing and anti-sniffing headers") {
    ServerOptions o = test_options();
    o.token = kToken;
    o.read_timeout = std::chrono::milliseconds(300);  // the 408 in a moment
    Running s(o);
    std::vector<std::pair<std::string, std::string>> cases = {
        {"200 JSON", get("/api/v1/snapshot")},
        {"200 metrics", get("/metrics")},
        {"200 page", get("/")},
        {"200 static", get("/static/chart.min.js")},
        {"200 static gzip", get("/static/app.js", "Accept-Encoding: gzip\r\n")},
        {"HEAD", "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"},
        {"201 mark", with_body("POST", "/api/v1/marks", R"({"name": "m1"})")},
        {"200 control", with_body("POST", "/api/v1/peaks/reset", "{}", bearer(kToken))},
        {"400 since", get("/api/v1/events?since=-1")},
        {"400 body", with_body("POST", "/api/v1/marks", "{nope")},
        {"401", with_body("POST", "/api/v1/peaks/reset", "{}")},
        {"404", get("/no/such/thing")},
        {"404 static", get("/static/nope.js")},
        {"405", with_body("POST", "/api/v1/snapshot", "{}")},
        {"413 declared",
         "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "Content-Length: 999999999\r\n\r\n"},
        {"414 router", get("/" + std::string(3000, 'a'))},
        {"414 head", "GET /" + std::string(40000, 'a')},
        {"431", "GET / HTTP/1.1\r\nX-Big: " + std::string(40000, 'b') + "\r\n"},
        {"400 malformed", "HELLO\r\n\r\n"},
        {"400 framing",
         "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n"},
        {"501 transfer coding",
         "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Transfer-Encoding: gzip\r\n\r\n"},
        {"408", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
    };
    for (const auto& [what, request] : cases) {
        const RawResponse r = raw_request(s.port, request, std::chrono::seconds(5));
        check_security_headers(r, what);
        const int expected = std::atoi(what.c_str());
        if (expected > 0) CHECK_MESSAGE(r.status == expected, what);
    }
    // 304 on revalidation.
    const RawResponse page = raw_request(s.port, get("/static/app.js"));
    const RawResponse again = raw_request(
        s.port, get("/static/app.js", "If-None-Match: " + page.header("etag") + "\r\n"));
    CHECK(again.status == 304);
    check_security_headers(again, "304");
}

TEST_CASE("rule: the refusals at the stream limit and at the connection cap carry them too") {
    ServerOptions o = test_options();
    o.worker_threads = 8;   // 4 live streams at most
    o.max_connections = 6;  // 4 streams and 2 slow bodies fill it
    Running s(o);
    // 503 for a stream beyond the limit, then 503 at the connection cap with every
    // connection being answered.
    std::vector<RawSocket> streams;
    for (int i = 0; i < 4; ++i) {
        streams.emplace_back(s.port);
        streams.back().send(get("/api/v1/stream"));
        REQUIRE(streams.back()
                    .receive(std::chrono::seconds(5), nullptr, 12)
                    .starts_with("HTTP/1.1 200"));
    }
    const RawResponse busy = raw_request(s.port, get("/api/v1/stream"));
    CHECK(busy.status == 503);
    check_security_headers(busy, "503 streams");
    // Two connections send a body slowly: each holds a worker, so none is idle...
    RawSocket slow(s.port);
    slow.send(
        "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RawSocket slow2(s.port);
    slow2.send(
        "POST /api/v1/marks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // ...and a seventh is refused at once.
    const RawResponse refused = raw_request(s.port, get("/healthz"), std::chrono::seconds(2));
    CHECK(refused.status == 503);
    CHECK(refused.header("retry-after") == "1");
    check_security_headers(refused, "503 cap");
}

TEST_CASE("rule: a Host the server cannot stand behind gets 421, before any endpoint runs") {
    Running s;
    const std::string evil = "Host: evil.example.com\r\n";
    const std::vector<std::pair<std::string, std::string>> requests = {
        {"GET snapshot", "GET /api/v1/snapshot HTTP/1.1\r\n" + evil + "Connection: close\r\n\r\n"},
        {"GET /", "GET / HTTP/1.1\r\n" + evil + "Connection: close\r\n\r\n"},
        {"POST marks", "POST /api/v1/marks HTTP/1.1\r\n" + evil +
                           "Content-Type: application/json\r\nContent-Length: 12\r\n"
                           "Connection: close\r\n\r\n{\"name\":\"x\"}"},
    };
    for (const auto& [what, bytes] : requests) {
        const RawResponse r = raw_request(s.port, bytes);
        CAPTURE(what);
        CHECK(r.status == 421);
        CHECK(r.body.find("\"host\":\"evil.example.com\"") != std::string::npos);
        check_security_headers(r, what);
    }
    // The refused mark was never made; the loopback names are answered.
    const std::string port = std::to_string(s.port);
    const RawResponse marks =
        raw_request(s.port, "GET /api/v1/marks HTTP/1.1\r\nHost: localhost:" + port +
                                "\r\nConnection: close\r\n\r\n");
    CHECK(marks.status == 200);
    CHECK(marks.body.find("\"marks\":[]") != std::string::npos);
    CHECK(raw_request(s.port, get("/healthz", "")).status == 200);
    CHECK(raw_request(s.port, "GET /healthz HTTP/1.0\r\n\r\n").status == 200);  // no Host
}

TEST_CASE("rule: allowed_hosts adds names; bound to 0.0.0.0, the address dialled is answered") {
    ServerOptions o = test_options();
    o.bind_address = "0.0.0.0";
    o.token = kToken;  // beyond loopback: no warning wanted in this test's log
    o.allowed_hosts = {"Game-01.Fleet.example"};
    Running s(o);
    const std::string port = std::to_string(s.port);
    const auto with_host = [&](const std::string& host) {
        return raw_request(s.port, "GET /healthz HTTP/1.1\r\nHost: " + host +
                                       "\r\nConnection: close\r\n\r\n")
            .status;
    };
    CHECK(with_host("game-01.fleet.example:" + port) == 200);
    CHECK(with_host("game-02.fleet.example:" + port) == 421);
    CHECK(with_host("0.0.0.0:" + port) == 421);
    if (const std::string other = external_ipv4(); !other.empty()) {
        CAPTURE(other);
        CHECK(with_host(other + ":" + port) == 421);  // dialled 127.0.0.1, not `other`
        httplib::Client direct(other, s.port);
        const auto r = direct.Get("/healthz");  // Host: <other>:<port>
        REQUIRE(r);
        CHECK(r->status == 200);
    }
}

TEST_CASE("rule: the token can come from MEMSCOPE_TOKEN_FILE, and unlocks the control endpoints") {
    TempDir dir;
    const auto file = dir.write("token", std::string(kToken) + "\n");
    std::filesystem::permissions(file, std::filesystem::perms::owner_read);
    ScopedEnv token_file("MEMSCOPE_TOKEN_FILE", file.c_str());
    ScopedEnv token("MEMSCOPE_TOKEN", nullptr);
    ServerOptions o = test_options();
    o.read_environment = true;
    ScopedEnv port("MEMSCOPE_PORT", "0");
    Running s(o);
    CHECK(s.server->options().token == kToken);
    const std::string reset = "/api/v1/peaks/reset";
    CHECK(raw_request(s.port, with_body("POST", reset, "{}", bearer(kToken))).status == 200);
    CHECK(raw_request(s.port, with_body("POST", reset, "{}")).status == 401);
}

#else  // a build without the server

TEST_CASE("security: without the server there is nothing to reach") {
    CHECK_FALSE(memscope::server_available());
}

#endif

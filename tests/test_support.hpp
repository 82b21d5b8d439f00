// SPDX-License-Identifier: MIT
#pragma once
// What the suites share, in one place (as spdlog's tests share test_sink.h): waiting for
// a condition without timed assertions, an environment variable or a scratch directory for
// the length of a test, the log captured; and for the suites that link the dashboard of a
// build with the server, a running test server (Running) and raw HTTP over sockets (bytes
// no HTTP client library would send).

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <memscope/build_config.hpp>
#include <memscope/log.hpp>

namespace memscope_test {

inline constexpr std::size_t kMiB = std::size_t{1} << 20;

// Polls `condition` every `poll` until it holds or `limit` passes (generous: CI machines
// are slow and sanitizers slower). Returns whether it held.
template <class F>
bool wait_until(F condition, std::chrono::seconds limit = std::chrono::seconds(30),
                std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(poll);
    }
    return true;
}

// Sets (or with nullptr, unsets) an environment variable, and restores it on destruction.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

// A new directory under the system's temporary directory, removed with all it holds when
// the object goes.
class TempDir {
  public:
    explicit TempDir(const std::string& prefix = "memscope_test") {
        std::string name = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(name.data()) != nullptr);
        path_ = name;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    // Writes `text` to the file `name` (a path inside the directory), replacing it;
    // returns the file's path.
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        const std::filesystem::path file = path_ / name;
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        REQUIRE(out.is_open());
        out << text;
        return file;
    }

  private:
    std::filesystem::path path_;
};

// Every log line, of every level, for the lifetime of the object (then the default sink).
class LogCapture {
  public:
    using Line = std::pair<memscope::LogLevel, std::string>;

    LogCapture() {
        memscope::set_log_sink([this](memscope::LogLevel level, std::string_view message) {
            std::lock_guard lock(mutex_);
            lines_.emplace_back(level, std::string(message));
        });
    }
    ~LogCapture() { memscope::set_log_sink({}); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    [[nodiscard]] std::vector<Line> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    [[nodiscard]] std::vector<std::string> warnings() const {
        std::vector<std::string> out;
        for (const auto& [level, text] : lines())
            if (level == memscope::LogLevel::warning) out.push_back(text);
        return out;
    }
    // The lines that contain `text` (an empty text: every line).
    [[nodiscard]] std::size_t count(std::string_view text) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& [level, line] : lines_) n += line.find(text) != std::string::npos;
        return n;
    }
    // The lines of `level` that contain `text`.
    [[nodiscard]] std::size_t count(std::string_view text, memscope::LogLevel level) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& [l, line] : lines_)
            n += l == level && line.find(text) != std::string::npos;
        return n;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<Line> lines_;
};

}  // namespace memscope_test

// The server's part needs the dashboard layer, which the suites of the core alone
// (test_budget, test_history) do not link, and a build with the server.
#if MEMSCOPE_WITH_SERVER && __has_include(<memscope/server.hpp>)

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>

#include <memscope/budget.hpp>
#include <memscope/server.hpp>

namespace memscope_test {

// Options of a test server: any free port, the environment ignored (the tests that read
// it turn it on), a sample every 50 ms so that tests need not wait long for one.
inline memscope::ServerOptions test_options() {
    memscope::ServerOptions o;
    o.port = 0;
    o.read_environment = false;
    o.sample_interval = std::chrono::milliseconds(50);
    return o;
}

// A game's budget and its dashboard, running: the six default budgets, Chunks at 300 MiB
// in 1200 blocks and Meshes at 100 MiB in 40 (400 MiB reported), served on a free port
// with `options`. The server stops when the fixture goes.
struct Running {
    memscope::MemoryBudget budget;
    std::unique_ptr<memscope::Server> server;
    int port = 0;

    explicit Running(memscope::ServerOptions options = test_options()) {
        budget.configure_default_budgets();
        budget.report("Chunks", 300 * kMiB, 1200);
        budget.report("Meshes", 100 * kMiB, 40);
        server = std::make_unique<memscope::Server>(budget, options);
        const memscope::StartResult started = server->start();
        REQUIRE_MESSAGE(started.started, started.error);
        port = started.port;
    }

    // A client of this server, with time limits that sanitizer builds stay within.
    [[nodiscard]] httplib::Client client() const {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(std::chrono::seconds(30));
        c.set_connection_timeout(std::chrono::seconds(10));
        return c;
    }
};

// A TCP connection to 127.0.0.1:port (closed by the destructor); fd() < 0 if refused.
// Every wait on it is bounded: reads take a time limit, and a send blocked for 10 s fails.
class RawSocket {
  public:
    explicit RawSocket(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) return;
        const timeval send_limit{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_limit, sizeof send_limit);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
    }
    ~RawSocket() { close(); }
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;
    RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

    [[nodiscard]] int fd() const { return fd_; }
    // Sends everything (false if the server closed first, or never accepted).
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // What arrives within `limit`, `enough` bytes at most (less if the server closes
    // first); `closed` says whether it did.
    std::string receive(std::chrono::milliseconds limit, bool* closed = nullptr,
                        std::size_t enough = SIZE_MAX) {
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        if (closed != nullptr) *closed = false;
        while (out.size() < enough) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};  // a limit of 0 still looks once
            if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count()))) <= 0)
                break;
            char buf[16384];
            const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, enough - out.size()), 0);
            if (n <= 0) {
                if (closed != nullptr) *closed = true;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
    // Reads until `text` arrived; false if the server closed or `limit` passed first.
    bool receive_until(std::string_view text,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        std::string seen;
        bool closed = false;
        while (seen.find(text) == std::string::npos) {
            if (closed || std::chrono::steady_clock::now() > deadline) return false;
            seen += receive(std::chrono::milliseconds(10), &closed);
        }
        return true;
    }
    // Ends both directions without closing the descriptor: wakes a thread in receive().
    void shutdown() { ::shutdown(fd_, SHUT_RDWR); }
    // Closes with a reset (SO_LINGER 0) instead of an orderly FIN: the abrupt end of a
    // crashed or killed client.
    void reset() {
        const linger hard{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        close();
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

// The text of a GET of `target` that asks the server to close once it answered (so that a
// refusal ends with the connection instead of holding it open until a time limit).
inline std::string get(const std::string& target, const std::string& extra_headers = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
           "Connection: close\r\n\r\n";
}

// The same for a request with a JSON body.
inline std::string with_body(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& extra_headers = "") {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

// One HTTP response as received: status 0 when none arrived.
struct RawResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case; the last of a name
    std::string body;
    std::string raw;      // everything received
    bool closed = false;  // the server closed the connection after it

    [[nodiscard]] std::string header(const std::string& lower_name) const {
        const auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// Parses the first response of `raw` (head and a Content-Length body).
inline RawResponse parse_response(std::string raw) {
    RawResponse r;
    r.raw = std::move(raw);
    const auto head_end = r.raw.find("\r\n\r\n");
    if (r.raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || r.raw.size() < 12)
        return r;
    r.status = std::atoi(r.raw.substr(9, 3).c_str());
    std::size_t at = r.raw.find("\r\n") + 2;
    while (at < head_end) {
        const auto end = r.raw.find("\r\n", at);
        const std::string line = r.raw.substr(at, end - at);
        const auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            r.headers[name] = value;
        }
        at = end + 2;
    }
    std::size_t length = r.raw.size() - head_end - 4;
    if (const auto it = r.headers.find("content-length"); it != r.headers.end())
        length = std::min<std::size_t>(length, std::strtoull(it->second.c_str(), nullptr, 10));
    r.body = r.raw.substr(head_end + 4, length);
    return r;
}

// Sends `bytes` on a new connection and reads the answer until the server closes it or
// `limit` passes (a kept-alive connection: until `limit`, so keep it short or send
// "Connection: close").
inline RawResponse raw_request(int port, std::string_view bytes,
                               std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    RawSocket s(port);
    if (s.fd() < 0) return {};
    s.send(bytes);
    bool closed = false;
    std::string raw = s.receive(limit, &closed);
    RawResponse r = parse_response(std::move(raw));
    r.closed = closed;
    return r;
}

}  // namespace memscope_test

#endif  // the server's part

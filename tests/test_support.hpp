#pragma once
// Helpers shared by the server suites: waiting for a condition without timed assertions,
// setting environment variables for the length of a test, and talking raw HTTP (bytes no
// HTTP client library would send).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

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

// Polls `condition` until it holds or `limit` passes (generous: CI machines are slow and
// sanitizers slower). Returns whether it held.
template <class F>
bool wait_until(F condition, std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
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

// A TCP connection to 127.0.0.1:port (closed by the destructor); fd() < 0 if refused.
class RawSocket {
  public:
    explicit RawSocket(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~RawSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;
    RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

    [[nodiscard]] int fd() const { return fd_; }
    // Sends everything (false if the server closed first).
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // What arrives within `limit` (less if the server closes first); `closed` says whether
    // it did.
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
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                if (closed != nullptr) *closed = true;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

  private:
    int fd_ = -1;
};

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

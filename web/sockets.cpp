// SPDX-License-Identifier: MIT
// Address checks and bind diagnosis, with the POSIX socket API.

#include "sockets.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "memscope/internal.hpp"

namespace memscope::web {
namespace {

// Our own explanations of the errors a game developer will meet, after strerror's.
std::string explain(int error, int port) {
    std::string text = std::strerror(error);
    if (!text.empty()) text[0] = detail::ascii_lower(text[0]);
    switch (error) {
        case EADDRINUSE:
            return text +
                   " (another program, or another memscope server, listens there; choose "
                   "another port, or port 0 for any free one)";
        case EACCES:
            return port < 1024 ? text + " (ports below 1024 need privileges)" : text;
        case EADDRNOTAVAIL:
            return text + " (it is not an address of this machine)";
        default:
            return text;
    }
}

bool parse_address(const std::string& host, sockaddr_storage& out, socklen_t& length) {
    std::memset(&out, 0, sizeof out);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    const std::string& name = host == "localhost" ? std::string("127.0.0.1") : host;
    if (inet_pton(AF_INET, name.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        length = sizeof(sockaddr_in);
        return true;
    }
    if (inet_pton(AF_INET6, name.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        length = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

// An address from parse_address() with its port set (the port in network order).
void set_port(sockaddr_storage& address, int port) {
    const auto network = htons(static_cast<std::uint16_t>(port));
    if (address.ss_family == AF_INET)
        reinterpret_cast<sockaddr_in*>(&address)->sin_port = network;
    else
        reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = network;
}

}  // namespace

bool is_loopback_address(std::string_view host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string check_bind_address(const std::string& host) {
    sockaddr_storage address{};
    socklen_t length = 0;
    if (host.empty())
        return "the bind address is empty (use 127.0.0.1, or 0.0.0.0 for every interface)";
    if (!parse_address(host, address, length))
        return "\"" + host + "\" is not an IP address (use e.g. 127.0.0.1, ::1, or 0.0.0.0)";
    return {};
}

std::string url_for(std::string_view host, int port) {
    std::string url = "http://";
    if (host.find(':') != std::string_view::npos) {
        url += '[';
        url += host;
        url += ']';
    } else {
        url += host;
    }
    return url + ":" + std::to_string(port) + "/";
}

std::string describe_listen_failure(const std::string& host, int port) {
    const std::string where = "cannot listen on " +
                              (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                              ":" + std::to_string(port) + ": ";
    sockaddr_storage address{};
    socklen_t length = 0;
    if (!parse_address(host, address, length)) return where + check_bind_address(host);
    set_port(address, port);

    const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return where + explain(errno, port);
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as cpp-httplib does
    int error = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0)
        error = errno;
    else if (listen(fd, 1) != 0)
        error = errno;
    close(fd);
    if (error != 0) return where + explain(error, port);
    return where + "the bind failed, but succeeds now (the port was busy for a moment); try again";
}

bool knock(const std::string& host, int port, std::chrono::milliseconds wait) {
    std::string target = host;
    if (host == "0.0.0.0") target = "127.0.0.1";  // every interface: loopback is one
    if (host == "::") target = "::1";
    sockaddr_storage address{};
    socklen_t length = 0;
    if (port <= 0 || port > 65535 || !parse_address(target, address, length)) return false;
    set_port(address, port);
    const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
    if (!connected && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int error = 0;
        socklen_t error_length = sizeof error;
        connected = poll(&p, 1, static_cast<int>(wait.count())) == 1 &&
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length) == 0 && error == 0;
    }
    close(fd);  // our own, made above
    return connected;
}

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
#pragma once
// Socket-level help for the server that cpp-httplib does not give: checking an address
// and telling the game why a bind failed.

#include <chrono>
#include <string>
#include <string_view>

namespace memscope::web {

/// True for an address that only this machine can reach: 127.0.0.0/8, ::1, "localhost".
[[nodiscard]] bool is_loopback_address(std::string_view host);

/// Empty when `host` is an IPv4 or IPv6 address (or "localhost"), else why not.
[[nodiscard]] std::string check_bind_address(const std::string& host);

/// "http://127.0.0.1:9090/" (IPv6 hosts in brackets).
[[nodiscard]] std::string url_for(std::string_view host, int port);

/// Why listening on host:port fails, found by trying it: e.g. "cannot listen on
/// 127.0.0.1:9090: address already in use (...)". Called after cpp-httplib's bind failed,
/// which does not say why.
[[nodiscard]] std::string describe_listen_failure(const std::string& host, int port);

/// Connects to host:port, where a server of ours listens (0.0.0.0 and :: as the loopback
/// address of their family), waits at most `wait` for the connection to be made, and
/// closes it: wakes an accept loop blocked on that port. True when it connected.
bool knock(const std::string& host, int port, std::chrono::milliseconds wait);

}  // namespace memscope::web

#pragma once
// Socket-level help for the server that cpp-httplib does not give: telling the game why a
// bind failed, and cutting connections that would keep stop() waiting.

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

/// Shuts down (without closing: their owner still does) every connected TCP socket of this
/// process whose local port is `port`, i.e. the connections a stopped server accepted. A
/// client that trickles a request a byte at a time would otherwise hold a worker thread,
/// and with it stop(), for as long as it likes.
void shutdown_accepted_connections(int port);

}  // namespace memscope::web

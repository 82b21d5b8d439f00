// SPDX-License-Identifier: MIT
#pragma once
// Which `Host` headers the server answers: the defence against DNS rebinding, where a web
// page of another origin makes the browser resolve its own name to 127.0.0.1 and then
// reads the dashboard as if it were same-origin. A browser always sends the name it
// resolved, so a server that answers only names it can stand behind is out of reach.
//
// Accepted, case-insensitively, each alone or with ":<the server's port>":
//   - "localhost", any 127.0.0.0/8 literal and "[::1]";
//   - the bind address when it is a literal other than 0.0.0.0 and ::;
//   - when bound to 0.0.0.0 or ::, the address the connection arrived on (the
//     machine's own address that the client dialled);
//   - every name of HostPolicy::allowed ("*" there accepts any Host).
// A request without a Host header (HTTP/1.0), or with an empty one, is accepted: a
// browser always sends one, so its absence cannot be a rebinding attack.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router.hpp"

namespace memscope::web {

/// The Host rule of one server.
struct HostPolicy {
    std::string bind_address;          ///< as the server was given it ("127.0.0.1", "::")
    int port = 0;                      ///< the port it listens on; 0: any port is accepted
    std::vector<std::string> allowed;  ///< ServerOptions::allowed_hosts
};

/// A Host header's value split into its host (IPv6 without brackets, lower case) and port
/// (0 when absent); nullopt when it is not `host`, `host:port` or `[v6]`, `[v6]:port`.
struct HostHeader {
    std::string host;
    int port = 0;
};
[[nodiscard]] std::optional<HostHeader> parse_host_header(std::string_view value);

/// Empty when `entry` can be an entry of ServerOptions::allowed_hosts (a DNS name, an IP
/// address, or "*"), else why not.
[[nodiscard]] std::string check_allowed_host(std::string_view entry);

/// Nullopt when `request` may be answered under `policy`; else the refusal: 421 with the
/// API's JSON error body naming the Host seen and how to allow it (400 for two Host
/// headers or one that is not host[:port]).
[[nodiscard]] std::optional<Response> check_host(const HostPolicy& policy, const Request& request);

}  // namespace memscope::web

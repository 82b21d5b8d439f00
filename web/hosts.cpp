// SPDX-License-Identifier: MIT
// The Host check (hosts.hpp): parsing the header and matching it against the policy.

#include "hosts.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "memscope/internal.hpp"
#include "memscope/json.hpp"

namespace memscope::web {
namespace {

using detail::ascii_lower;

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

// The 16 bytes of an IPv6 literal or the 4 of an IPv4 one, for comparing spellings of one
// address ("::1" and "0:0::1"); empty when `host` is not a literal.
std::string address_bytes(const std::string& host) {
    unsigned char bytes[sizeof(in6_addr)] = {};
    if (inet_pton(AF_INET, host.c_str(), bytes) == 1) return std::string(bytes, bytes + 4);
    if (inet_pton(AF_INET6, host.c_str(), bytes) == 1)
        return std::string(bytes, bytes + sizeof(in6_addr));
    return {};
}

bool is_wildcard(const std::string& bytes) {
    return !bytes.empty() && std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool is_loopback(const std::string& host, const std::string& bytes) {
    if (host == "localhost") return true;
    if (bytes.size() == 4) return bytes[0] == 127;
    static const std::string v6_loopback = address_bytes("::1");
    return bytes.size() == 16 && bytes == v6_loopback;
}

bool same_address(const std::string& bytes, std::string address) {
    if (bytes.empty() || address.empty()) return false;
    // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
    if (bytes.size() == 4 && detail::istarts_with(address, "::ffff:") &&
        address.find('.') != std::string::npos)
        address.erase(0, 7);
    return address_bytes(address) == bytes;
}

// The message and the body of a refusal.
Response refuse(std::string_view host_value) {
    const std::string_view shown = host_value.substr(0, 256);
    std::string message = "this server does not answer to the Host \"";
    for (char c : shown) message += (c < ' ' || c == 0x7F) ? '?' : c;
    message +=
        "\" (a defence against DNS rebinding); use http://localhost:<port>/ or the address "
        "it listens on, or allow the name with ServerOptions::allowed_hosts or "
        "MEMSCOPE_ALLOWED_HOSTS";
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").value(message).key("host").value(shown).end_object();
    return json_response(421, std::move(body));
}

}  // namespace

std::optional<HostHeader> parse_host_header(std::string_view value) {
    HostHeader out;
    std::string_view host = value;
    std::string_view port;
    if (value.starts_with('[')) {
        const auto close = value.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = value.substr(1, close - 1);
        const std::string_view rest = value.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
            if (port.empty()) return std::nullopt;
        }
        if (address_bytes(std::string(host)).size() != 16) return std::nullopt;
    } else {
        const auto colon = value.find(':');
        if (colon != std::string_view::npos) {
            host = value.substr(0, colon);
            port = value.substr(colon + 1);
            if (port.empty()) return std::nullopt;
        }
        if (host.empty()) return std::nullopt;
        for (char c : host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
                return std::nullopt;
    }
    if (!port.empty()) {
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
        if (ec != std::errc() || end != port.data() + port.size() || out.port < 1 ||
            out.port > 65535)
            return std::nullopt;
    }
    out.host = lower(host);
    return out;
}

std::string check_allowed_host(std::string_view entry) {
    if (entry == "*") return {};
    if (entry.empty()) return "an allowed host is empty";
    std::string host(entry);
    if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (!address_bytes(host).empty()) return {};
    for (char c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
            return "\"" + std::string(entry).substr(0, 64) +
                   "\" is not a host name or an IP address (no port, no scheme)";
    return {};
}

std::optional<Response> check_host(const HostPolicy& policy, const Request& request) {
    std::optional<std::string_view> value;
    for (const auto& [name, v] : request.headers) {
        if (!detail::iequals(name, "Host")) continue;
        if (value) return error_response(400, "more than one Host header");
        value = v;
    }
    if (!value || value->empty()) return std::nullopt;
    if (std::find(policy.allowed.begin(), policy.allowed.end(), "*") != policy.allowed.end())
        return std::nullopt;
    const auto parsed = parse_host_header(*value);
    if (!parsed) return refuse(*value);
    if (parsed->port != 0 && policy.port != 0 && parsed->port != policy.port) return refuse(*value);

    const std::string bytes = address_bytes(parsed->host);
    if (is_loopback(parsed->host, bytes)) return std::nullopt;
    const std::string bind_bytes = address_bytes(policy.bind_address);
    if (!bytes.empty() && bytes == bind_bytes && !is_wildcard(bind_bytes)) return std::nullopt;
    if (is_wildcard(bind_bytes) && same_address(bytes, request.local_address)) return std::nullopt;
    for (const std::string& entry : policy.allowed) {
        std::string_view name = entry;
        if (name.size() > 2 && name.front() == '[' && name.back() == ']')
            name = name.substr(1, name.size() - 2);
        if (detail::iequals(name, parsed->host)) return std::nullopt;
        if (!bytes.empty() && address_bytes(std::string(name)) == bytes) return std::nullopt;
    }
    return refuse(*value);
}

}  // namespace memscope::web

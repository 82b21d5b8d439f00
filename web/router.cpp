// SPDX-License-Identifier: MIT
// Router: target splitting, percent-decoding, route matching, 404/405/414, common headers.

#include "router.hpp"

#include <algorithm>
#include <exception>

#include "memscope/internal.hpp"
#include "memscope/json.hpp"

namespace memscope::web {
namespace {

using detail::hex_value;
using detail::iequals;

// "/a/b/c" -> {"a", "b", "c"}; "/" -> {""}. Empty segments are kept, so "/a//b" does not
// match "/a/b".
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    path.remove_prefix(1);  // the leading '/', checked by the caller
    while (true) {
        const auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

}  // namespace

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
    for (const auto& [key, value] : headers)
        if (iequals(key, name)) return std::string_view(value);
    return std::nullopt;
}

Request Request::from_target(std::string method, std::string_view target) {
    Request r;
    r.method = std::move(method);
    const auto q = target.find('?');
    r.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
    return r;
}

void Response::set_header(std::string_view name, std::string value) {
    std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
    headers.emplace_back(std::string(name), std::move(value));
}

Response json_response(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

Response error_response(int status, std::string_view message, std::string_view field) {
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").value(message);
    if (!field.empty()) w.key("field").value(field);
    w.end_object();
    return json_response(status, std::move(body));
}

void apply_common_headers(Response& response) {
    response.set_header("X-Content-Type-Options", "nosniff");
    response.set_header("Content-Security-Policy", std::string(kContentSecurityPolicy));
    response.set_header("X-Frame-Options", "DENY");
    response.set_header("Referrer-Policy", "no-referrer");
    if (!response.header("Cache-Control")) response.set_header("Cache-Control", "no-store");
}

std::optional<std::string_view> Call::param(std::string_view name) const {
    for (const auto& [key, value] : query)
        if (key == name) return std::string_view(value);
    return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += plus_is_space && c == '+' ? ' ' : c;
        }
    }
    return out;
}

void Router::add(std::string_view method, std::string_view pattern, Handler handler) {
    Route route;
    route.method = std::string(method);
    route.pattern = std::string(pattern);
    for (std::string_view segment : split_path(pattern)) {
        const bool param = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
        if (param && segment.ends_with("*}")) route.rest = true;
        route.segments.emplace_back(param ? "{}" : std::string(segment));
    }
    route.handler = std::move(handler);
    routes_.push_back(std::move(route));
}

std::vector<Router::RouteInfo> Router::routes() const {
    std::vector<RouteInfo> out;
    for (const Route& r : routes_) out.push_back({r.method, r.pattern});
    return out;
}

Response Router::handle(const Request& request) const noexcept {
    Response response;
    try {
        response = dispatch(request);
    } catch (const std::exception& e) {
        response = error_response(500, std::string("internal error: ") + e.what());
    } catch (...) {
        response = error_response(500, "internal error");
    }
    // A HEAD request gets the headers of a GET and nothing else: no stream is started.
    if (request.method == "HEAD") response.stream.reset();
    try {
        apply_common_headers(response);
    } catch (...) {
        // Only allocation can fail here; the transport still sends the status.
    }
    return response;
}

Response Router::dispatch(const Request& request) const {
    if (guard_)
        if (auto refusal = guard_(request)) return std::move(*refusal);
    if (request.path.size() + request.query.size() + 1 > kMaxTargetBytes)
        return error_response(
            414, "the request target is longer than " + std::to_string(kMaxTargetBytes) + " bytes");
    if (request.path.empty() || request.path.front() != '/')
        return error_response(400, "the request path must start with '/'");

    std::vector<std::string> segments;
    for (std::string_view raw : split_path(request.path)) {
        auto decoded = percent_decode(raw, false);
        if (!decoded) return error_response(400, "malformed percent-encoding in the path");
        segments.push_back(std::move(*decoded));
    }

    const std::string_view method =
        request.method == "HEAD" ? std::string_view("GET") : std::string_view(request.method);
    std::vector<std::string_view> allowed;
    for (const Route& route : routes_) {
        // Match the segments; a rest parameter takes one or more remaining segments.
        const std::size_t fixed = route.rest ? route.segments.size() - 1 : route.segments.size();
        if (route.rest ? segments.size() < route.segments.size() : segments.size() != fixed)
            continue;
        bool match = true;
        for (std::size_t i = 0; i < fixed && match; ++i)
            match = route.segments[i] == "{}" || route.segments[i] == segments[i];
        if (!match) continue;
        if (route.method != method) {
            allowed.push_back(route.method);
            continue;
        }

        Call call{request, {}, {}};
        for (std::size_t i = 0; i < fixed; ++i)
            if (route.segments[i] == "{}") call.path_params.push_back(segments[i]);
        if (route.rest) {
            std::string rest;
            for (std::size_t i = fixed; i < segments.size(); ++i) {
                if (i > fixed) rest += '/';
                rest += segments[i];
            }
            call.path_params.push_back(std::move(rest));
        }
        std::string_view query = request.query;
        while (!query.empty()) {
            const auto amp = query.find('&');
            const std::string_view pair = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
            if (pair.empty()) continue;
            const auto eq = pair.find('=');
            auto key = percent_decode(pair.substr(0, eq), true);
            auto value = percent_decode(
                eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
            if (!key || !value)
                return error_response(400, "malformed percent-encoding in the query");
            call.query.emplace_back(std::move(*key), std::move(*value));
        }
        return route.handler(call);
    }

    if (allowed.empty()) {
        std::string body;
        JsonWriter w(body);
        w.begin_object().key("error").value("no such endpoint").key("path").value(request.path);
        w.end_object();
        return json_response(404, std::move(body));
    }
    if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end())
        allowed.push_back("HEAD");
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (std::string_view m : allowed) {
        if (!allow.empty()) allow += ", ";
        allow += m;
    }
    Response r =
        error_response(405, "method " + request.method + " is not allowed here; use " + allow);
    r.set_header("Allow", allow);
    return r;
}

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
#pragma once
// The HTTP routing layer, independent of any transport: a Request goes in, a Response
// comes out. The httplib glue in server.cpp is one caller; the tests and the fuzzer call
// it directly, without a socket.
//
// Routes are "METHOD /literal/segments/{param}" patterns; a last segment "{name*}" takes
// the rest of the path. Path segments are percent-decoded one by one before matching, so
// "/api/v1/budgets/Audio%2FMusic" reaches {name} as "Audio/Music". Unknown paths answer
// 404 JSON, known paths with another method 405 JSON with an Allow header. Every response
// leaves with the security headers of apply_common_headers().

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memscope::web {

/// Header list; names compare case-insensitively (see find_header).
using Headers = std::vector<std::pair<std::string, std::string>>;

/// Value of the first header called `name` (any case), or nullopt.
[[nodiscard]] std::optional<std::string_view> find_header(const Headers& headers,
                                                          std::string_view name);

/// Longest request target (path and query) the router accepts; longer ones get 414.
inline constexpr std::size_t kMaxTargetBytes = 2048;

/// Content types of the responses.
inline constexpr std::string_view kJsonType = "application/json; charset=utf-8";
inline constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
/// Exactly this string: httplib compresses text/* bodies for clients that accept gzip,
/// except a content type equal to "text/event-stream", which a stream must never be.
inline constexpr std::string_view kEventStreamType = "text/event-stream";

/// A request as it arrived.
struct Request {
    std::string method;         ///< "GET", "POST", ... as sent
    std::string path;           ///< still percent-encoded, e.g. "/api/v1/budgets/Chunks%20A"
    std::string query;          ///< the part after '?', still encoded ("since=12"); may be empty
    Headers headers;            ///< as sent
    std::string body;           ///< as sent
    std::string local_address;  ///< the address it arrived on ("10.0.0.5"); "" when unknown

    /// A request for `target` ("/path?query"), split at the first '?'.
    static Request from_target(std::string method, std::string_view target);
    /// find_header() on this request's headers.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
        return find_header(headers, name);
    }
};

/// The source of a streamed body (Server-Sent Events). The transport calls next() again
/// and again from one thread; it may block briefly (well under a second) waiting for data.
class EventSource {
  public:
    virtual ~EventSource() = default;
    /// Appends what to send now to `out` (possibly nothing). False: the stream has ended,
    /// after `out` is sent.
    virtual bool next(std::string& out) = 0;
    /// Appends the message that ends the stream when the server stops before next() could
    /// send it (next() may read the game's objects; this reads none of them).
    virtual void stopped(std::string& out) = 0;
};

/// A response.
struct Response {
    int status = 200;
    std::string content_type = std::string(kJsonType);
    Headers headers;  ///< besides Content-Type and Content-Length, which the transport adds
    std::string body;
    /// When set, the body is streamed from here (chunked) and `body` is ignored.
    std::shared_ptr<EventSource> stream;

    /// Sets a header, replacing any other of the same name.
    void set_header(std::string_view name, std::string value);
    /// find_header() on this response's headers.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
        return find_header(headers, name);
    }
};

/// A JSON response with `body` (already JSON).
[[nodiscard]] Response json_response(int status, std::string body);

/// `{"error": message}` or `{"error": message, "field": field}` with `status`.
[[nodiscard]] Response error_response(int status, std::string_view message,
                                      std::string_view field = {});

/// The Content-Security-Policy of every response: same-origin scripts, styles, images and
/// connections only, no inline code, no plugins, never framed.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

/// Adds the headers every response carries: X-Content-Type-Options, the CSP,
/// X-Frame-Options, Referrer-Policy, and Cache-Control: no-store unless the handler chose
/// its own caching. Never any CORS header: other origins cannot read or control.
void apply_common_headers(Response& response);

/// What a handler receives: the request, with its path and query decoded.
struct Call {
    const Request& request;
    std::vector<std::string> path_params;                    ///< the {param}s, in order
    std::vector<std::pair<std::string, std::string>> query;  ///< decoded, in order

    /// The first query parameter called `name`, or nullopt.
    [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
};

/// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in queries). Nullopt
/// when a '%' is not followed by two hex digits.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

/// The route table.
class Router {
  public:
    using Handler = std::function<Response(const Call&)>;

    /// One entry of routes().
    struct RouteInfo {
        std::string method;   ///< "GET"
        std::string pattern;  ///< "/api/v1/budgets/{name}"
    };

    /// Adds a route. `pattern` starts with '/'; "{x}" is one segment, "{x*}" the rest.
    void add(std::string_view method, std::string_view pattern, Handler handler);

    /// A check that runs on every request before any route: a response it returns is sent
    /// instead (with the common headers, as every response). One guard; a second replaces it.
    using Guard = std::function<std::optional<Response>(const Request&)>;
    void set_guard(Guard guard) { guard_ = std::move(guard); }

    /// Answers a request. Never throws: a handler's exception becomes a 500 JSON answer.
    /// HEAD is served like GET (the transport drops the body).
    [[nodiscard]] Response handle(const Request& request) const noexcept;

    /// Every route, in the order added (the API reference test compares it with docs/api.md).
    [[nodiscard]] std::vector<RouteInfo> routes() const;

  private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;  // literal text, or "{}" for a parameter
        bool rest = false;                  // the last "{}" takes the rest of the path
        Handler handler;
    };
    [[nodiscard]] Response dispatch(const Request& request) const;
    std::vector<Route> routes_;
    Guard guard_;
};

}  // namespace memscope::web

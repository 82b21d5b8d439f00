// SPDX-License-Identifier: MIT
// memscope::Server: options and environment, the cpp-httplib glue, the sampler, start and
// stop. The only file of the library that includes httplib.h.
//
// Threads: start() runs the accept loop of cpp-httplib on one thread of ours, which hands
// each socket to the ConnectionPool (connections.hpp): a poller thread that holds waiting
// connections and reads request heads, and `worker_threads` workers that run cpp-httplib's
// parser and our handlers on one complete head at a time. Every one of them is marked as
// memscope's own (detail::mark_thread_internal) before it allocates, so the server's
// memory shows as memscope's footprint, not the game's. The game thread never waits on a
// request: handlers only read copies of the figures.

#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include "connections.hpp"
#include "descriptors.hpp"
#include "endpoints.hpp"
#include "hosts.hpp"
#include "memscope/budget.hpp"
#include "memscope/internal.hpp"
#include "memscope/log.hpp"
#include "memscope/options.hpp"
#include "memscope/recording.hpp"
#include "memscope/sampler.hpp"
#include "memscope/server.hpp"
#include "sockets.hpp"
#include "stream.hpp"

namespace memscope {
namespace {

// How long stop() lets the worker threads finish the requests they are answering before
// it cuts their connections. Requests take microseconds and live streams have ended by
// then; connections waiting for a request hold no worker and close at once.
constexpr std::chrono::milliseconds kStopGrace{100};
// Connections the kernel completes before the accept loop takes them.
constexpr int kListenBacklog = 128;
// stop() on a listening socket the program closed: how many times it connects to its own
// port to wake the accept loop, and how long it waits for the loop to end after each.
constexpr int kWakeAttempts = 10;
constexpr std::chrono::milliseconds kWakeWait{100};

// The door between the server's threads and the game's objects (the budget, the sampler).
// Every handler and every step of a live stream passes through it; stop() closes it and
// waits for those inside, so a connection that outlives stop() can never reach objects
// the game may be destroying. Two seq_cst atomics: an entrant that finds the door open is
// counted before close() looks, or sees it closed.
class Gate {
  public:
    bool enter() {
        inside_.fetch_add(1);
        if (!closed_.load()) return true;
        inside_.fetch_sub(1);
        return false;
    }
    void leave() { inside_.fetch_sub(1); }
    void close() {
        closed_.store(true);
        while (inside_.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

  private:
    std::atomic<bool> closed_{false};
    std::atomic<int> inside_{0};
};

// What the request handlers share, owned by them (they live inside the httplib::Server),
// so that it lives as long as any connection that could still call them.
struct Serving {
    std::unique_ptr<web::Api> api;
    Gate gate;
};

// The worker and the connection being answered on this thread (set around each request),
// for the handlers that must close it after their response or explain why a read failed.
thread_local web::Connection* t_connection = nullptr;

// cpp-httplib's request parser and writer over one of our connections.
class ConnectionStream final : public httplib::Stream {
  public:
    explicit ConnectionStream(web::Connection& c) : c_(c) {}
    bool is_readable() const override { return c_.wait_readable(); }
    bool is_writable() const override { return c_.wait_writable(); }
    ssize_t read(char* ptr, size_t size) override { return c_.read(ptr, size); }
    ssize_t write(const char* ptr, size_t size) override { return c_.write(ptr, size); }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        c_.address(true, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        c_.address(false, ip, port);
    }
    socket_t socket() const override { return c_.fd(); }

  private:
    web::Connection& c_;
};

// cpp-httplib's server with our connection layer (web/connections.hpp) under it: its
// accept loop hands each socket to the ConnectionPool instead of a worker, and the pool's
// workers run cpp-httplib's parser, routing and writer one request at a time.
class HttpServer final : public httplib::Server {
  public:
    void set_pool(web::ConnectionPool* pool) { pool_ = pool; }

    // cpp-httplib listens with a backlog of 5 (compiled into Debian's library): a burst of
    // connections beyond it has its SYNs dropped, and those clients wait a second to
    // retry. Calling listen() again on the bound socket raises the backlog.
    void raise_backlog(int backlog) { ::listen(svr_sock_, backlog); }

    // Set by the accept loop's thread as it ends (listen_after_bind() returned).
    std::atomic<bool> accept_loop_ended{false};

    // The listening socket's number is no longer ours (the program closed it): forgets it
    // without closing it, which cpp-httplib's stop() would do (and so close the program's
    // file that took the number). An accept() under way still holds the socket itself
    // and returns with the next connection to the port; the loop then sees no socket and
    // ends. One not under way yet fails on the forgotten number (EBADF) and ends.
    void forget_listening_socket() { svr_sock_ = INVALID_SOCKET; }

    // The accept loop could not go on (an exception): closes the listening socket, so that
    // the port is free again, if its number still names it.
    void close_listening_socket(const web::FdIdentity& identity) noexcept {
        const socket_t fd = svr_sock_.exchange(INVALID_SOCKET);
        if (fd != INVALID_SOCKET) web::close_if_ours(fd, identity);
    }

    // Answers the request whose head has arrived on `c`. False: close the connection.
    bool serve(web::Connection& c, bool last) {
        ConnectionStream stream(c);
        bool closed = false;
        t_connection = &c;
        struct Reset {
            ~Reset() { t_connection = nullptr; }
        } reset;
        return process_request(stream, last, closed, nullptr) && !closed;
    }

  private:
    // Called by cpp-httplib's accept loop, on its thread, for each accepted socket.
    bool process_and_close_socket(socket_t sock) override {
        pool_->admit(sock);
        return true;
    }

    web::ConnectionPool* pool_ = nullptr;
};

// cpp-httplib's task queue, reduced to calling the job at once: the job only hands the
// socket to the pool (HttpServer::process_and_close_socket), which does the waiting.
class InlineQueue final : public httplib::TaskQueue {
  public:
    void enqueue(std::function<void()> job) override { job(); }
    void shutdown() override {}
};

// Methods whose body cpp-httplib reads (its detail::expect_content).
bool reads_body(const std::string& method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" ||
           method == "PRI";
}

// How the request says its body is framed, refused before any of it is read: a framing
// we do not understand, or a body larger than we accept. Nullopt: go ahead.
std::optional<web::Response> check_framing(const httplib::Request& in, std::size_t max_body) {
    const auto te_count = in.get_header_value_count("Transfer-Encoding");
    const auto cl_count = in.get_header_value_count("Content-Length");
    if (te_count > 0 && cl_count > 0)
        return web::error_response(400, "Content-Length and Transfer-Encoding together");
    if (te_count > 1 ||
        (te_count == 1 && !detail::iequals(in.get_header_value("Transfer-Encoding"), "chunked")))
        return web::error_response(501, "only the chunked transfer coding is supported");
    if (cl_count == 0) return std::nullopt;
    std::uint64_t length = 0;
    for (std::size_t i = 0; i < cl_count; ++i) {
        const std::string v = in.get_header_value("Content-Length", i);
        std::uint64_t n = 0;
        const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || (i > 0 && n != length))
            return web::error_response(400, "malformed Content-Length");
        length = n;
    }
    if (length > max_body)
        return web::error_response(
            413, "the request body is larger than " + std::to_string(max_body) + " bytes");
    return std::nullopt;
}

// Closes the connection after this response (the client learns it from the header).
void close_after(httplib::Response& out) {
    if (t_connection != nullptr) t_connection->close_after_response();
    out.set_header("Connection", "close");
}

// "a,b,c": a list as its variable spelled it, for the warning that refuses it.
std::string joined(const std::vector<std::string>& list) {
    std::string out;
    for (const std::string& item : list) out += (out.empty() ? "" : ",") + item;
    return out;
}

// Applies the MEMSCOPE_* variables over `options`. A bad value was logged by
// read_environment() and is absent; an address that is not one is logged here; either way
// the option keeps its value.
void apply_environment(ServerOptions& options, bool& disabled) {
    const Environment env = read_environment();
    disabled = env.disable.value_or(false);
    if (env.port) options.port = *env.port;
    if (env.bind) {
        if (std::string why = web::check_bind_address(*env.bind); why.empty())
            options.bind_address = *env.bind;
        else
            report_bad_environment_value("MEMSCOPE_BIND", *env.bind, why);
    }
    if (env.token) options.token = *env.token;
    if (env.record) options.recording.path = *env.record;
    if (env.record_max_bytes) options.recording.max_bytes = *env.record_max_bytes;
    if (env.record_keep) options.recording.keep = *env.record_keep;
    if (env.allowed_hosts) {
        std::string why;
        for (const std::string& entry : *env.allowed_hosts)
            if (why.empty()) why = web::check_allowed_host(entry);
        if (why.empty())
            options.allowed_hosts = *env.allowed_hosts;
        else
            report_bad_environment_value("MEMSCOPE_ALLOWED_HOSTS", joined(*env.allowed_hosts), why);
    }
}

// The options a server cannot run with. Never quotes the token.
std::string validate(const ServerOptions& o) {
    if (o.port < 0 || o.port > 65535)
        return "port must be from 0 to 65535, not " + std::to_string(o.port);
    if (std::string why = web::check_bind_address(o.bind_address); !why.empty()) return why;
    if (o.worker_threads < 2 || o.worker_threads > 256)
        return "worker_threads must be from 2 to 256 (a live stream holds one)";
    if (o.sample_interval.count() <= 0) return "sample_interval must be positive";
    if (o.history_capacity < 2) return "history_capacity must be at least 2";
    if (o.max_body_bytes == 0) return "max_body_bytes must be positive";
    if (o.read_timeout.count() <= 0) return "read_timeout must be positive";
    if (o.max_connections < 4 || o.max_connections > 10000)
        return "max_connections must be from 4 to 10000";
    for (const std::string& entry : o.allowed_hosts)
        if (std::string why = web::check_allowed_host(entry); !why.empty())
            return "allowed_hosts: " + why;
    if (!o.token.empty() && !is_valid_token(o.token))
        return "the token must be printable ASCII without spaces";
    return {};
}

// A web::Response into cpp-httplib's. A stream's steps go through the gate of `serving`.
void send(web::Response response, httplib::Response& out,
          const std::shared_ptr<Serving>& serving = nullptr) {
    out.status = response.status;
    for (auto& [name, value] : response.headers) out.set_header(name, value);
    if (!response.stream) {
        out.set_content(std::move(response.body), response.content_type);
        return;
    }
    if (t_connection != nullptr) t_connection->allow_long_response();
    out.set_chunked_content_provider(
        response.content_type,
        [serving, stream = std::move(response.stream)](std::size_t, httplib::DataSink& sink) {
            if (!serving->gate.enter()) {
                // The server stopped before this stream's next step (a worker slow to get
                // a core): it still says so, with the message next() would have sent.
                std::string end;
                stream->stopped(end);
                if (!end.empty() && !sink.write(end.data(), end.size())) return false;
                sink.done();
                return true;
            }
            std::string chunk;
            bool more = false;
            try {
                more = stream->next(chunk);
            } catch (...) {
                chunk.clear();  // thrown out of here, it would end the worker thread
                more = false;
            }
            serving->gate.leave();
            if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
            if (!more) sink.done();
            return true;
        });
}

// Answers one request through the Api, if the server still serves.
void serve(const std::shared_ptr<Serving>& serving, const httplib::Request& in,
           httplib::Response& out) {
    if (!serving->gate.enter()) {
        web::Response r = web::error_response(503, "the server is stopping");
        web::apply_common_headers(r);
        return send(std::move(r), out);
    }
    web::Response response;
    {
        struct Leave {
            Gate& gate;
            ~Leave() { gate.leave(); }
        } leave{serving->gate};
        web::Request request = web::Request::from_target(in.method, in.target);
        request.headers.assign(in.headers.begin(), in.headers.end());
        request.body = in.body;
        if (t_connection != nullptr) {
            int local_port = 0;
            t_connection->address(false, request.local_address, local_port);
        }
        response = serving->api->handle(request);
    }
    send(std::move(response), out, serving);
}

// The response text of the errors cpp-httplib answers by itself.
std::string_view reason_of(int status) {
    switch (status) {
        case 400:
            return "malformed HTTP request";
        case 413:
            return "the request body is too large";
        case 431:
            return "the request head is too large";
        case 414:
            return "the request target is too long";
        case 404:
            return "no such endpoint";
        default:
            return "the request failed";
    }
}

}  // namespace

struct Server::Impl final : detail::ForkHandler {
    MemoryBudget& budget;
    ServerOptions options;
    bool disabled = false;  // MEMSCOPE_DISABLE=1

    std::mutex mutex;  // serialises start() and stop()
    std::atomic<bool> running{false};
    std::atomic<int> port{0};
    std::unique_ptr<Sampler> own_sampler;
    std::unique_ptr<Recorder> recorder;  // when options.recording.path names a file
    std::shared_ptr<Serving> serving;
    std::shared_ptr<HttpServer> http;  // shared with worker threads that outlive stop()
    std::unique_ptr<web::ConnectionPool> pool;
    std::thread listener;
    std::atomic<int> listen_fd{-1};  // the listening socket, for the child of a fork
    // What listen_fd named when cpp-httplib made it: it is ours only while it still does
    // (web/descriptors.hpp). Set on the thread of start(), read under `mutex` or in the
    // child of a fork.
    web::FdIdentity listen_identity;
    bool orphaned = false;  // in the child of a fork: the threads serving `http` are gone

    VerdictProvider verdict;  // guarded by `mutex`; kept here so it survives stop() and start()

    Impl(MemoryBudget& b, ServerOptions o) : budget(b), options(std::move(o)) {}

    void configure(HttpServer& s) {
        s.new_task_queue = [] { return new InlineQueue; };
        // Timeouts and keep-alive are the ConnectionPool's; these only feed the
        // Keep-Alive header cpp-httplib writes ("timeout=2, max=100").
        s.set_keep_alive_timeout(
            std::chrono::duration_cast<std::chrono::seconds>(web::kIdleTimeout).count());
        s.set_keep_alive_max_count(web::kMaxRequestsPerConnection);
        s.set_payload_max_length(options.max_body_bytes);
        s.set_tcp_nodelay(true);
        // SO_REUSEADDR only. cpp-httplib's default adds SO_REUSEPORT, with which a second
        // game on the same machine would share port 9090 with the first, the kernel
        // handing each request to either, instead of being told the port is taken.
        // Close-on-exec: a program the game runs (fork and exec, system()) must not inherit
        // the port and keep it bound after the game exits.
        s.set_socket_options([this](socket_t sock) {
            const int on = 1;
            setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
            fcntl(sock, F_SETFD, fcntl(sock, F_GETFD) | FD_CLOEXEC);
            listen_identity = web::FdIdentity::of(sock);
            listen_fd = sock;
        });

        // A body larger than the limit is refused before cpp-httplib reads it, even when
        // the client waits for "100 Continue" first.
        const std::size_t max_body = options.max_body_bytes;
        s.set_expect_100_continue_handler(
            [max_body](const httplib::Request& in, httplib::Response& out) {
                if (auto refusal = check_framing(in, max_body)) {
                    out.status = refusal->status;
                    close_after(out);
                    return refusal->status;
                }
                return 100;
            });

        // Requests without a body are routed here, before cpp-httplib's own routing,
        // which matches paths with std::regex: its recursion grows with the path length
        // (a stack overflow under ASan at 8 KiB). Requests with a body need that routing
        // to read the body; the router refuses their long paths first. A body nobody
        // reads leaves the connection unusable: it closes after the response.
        s.set_pre_routing_handler(
            [serving = serving, max_body](const httplib::Request& in, httplib::Response& out) {
                if (auto refusal = check_framing(in, max_body)) {
                    web::apply_common_headers(*refusal);
                    send(std::move(*refusal), out);
                    close_after(out);
                    return httplib::Server::HandlerResponse::Handled;
                }
                const bool has_body =
                    in.has_header("Content-Length") || in.has_header("Transfer-Encoding");
                if (has_body && reads_body(in.method) && in.target.size() <= web::kMaxTargetBytes)
                    return httplib::Server::HandlerResponse::Unhandled;
                serve(serving, in, out);
                if (has_body && in.get_header_value("Content-Length") != "0") close_after(out);
                return httplib::Server::HandlerResponse::Handled;
            });
        const auto handler = [serving = serving](const httplib::Request& in,
                                                 httplib::Response& out) {
            serve(serving, in, out);
        };
        s.Get(".*", handler);
        s.Post(".*", handler);
        s.Put(".*", handler);
        s.Patch(".*", handler);
        s.Delete(".*", handler);
        s.Options(".*", handler);

        // cpp-httplib calls this for every status >= 400, ours included: only the errors
        // it produced itself (no body yet) get a JSON body here, and close the connection,
        // whose state after a malformed request is unknown.
        s.set_error_handler(httplib::Server::HandlerWithResponse(
            [](const httplib::Request&, httplib::Response& out) {
                if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                // A body cut off at the limit (a chunked one has no length to refuse early).
                if (t_connection != nullptr && t_connection->body_too_large()) out.status = 413;
                web::Response r = web::error_response(out.status, reason_of(out.status));
                web::apply_common_headers(r);
                send(std::move(r), out);
                close_after(out);
                return httplib::Server::HandlerResponse::Handled;
            }));
    }

    StartResult start() {
        std::lock_guard lock(mutex);
        release_orphans();
        StartResult result;
        if (running) {
            result.started = true;
            result.port = port;
            result.url = web::url_for(options.bind_address, port);
            return result;
        }
        if (disabled) {
            result.disabled = true;
            result.error = "the dashboard server is disabled by MEMSCOPE_DISABLE=1";
            return result;
        }
        if (std::string why = validate(options); !why.empty()) {
            result.error = "memscope server: " + why;
            return result;
        }

        Sampler* sampler = options.sampler;
        if (sampler == nullptr) {
            SamplerOptions so;
            so.interval = options.sample_interval;
            so.capacity = options.history_capacity;
            own_sampler = std::make_unique<Sampler>(budget, so);
            sampler = own_sampler.get();
        }
        serving = std::make_shared<Serving>();

        http = std::make_shared<HttpServer>();
        configure(*http);
        web::ConnectionLimits limits;
        limits.max_connections = options.max_connections;
        limits.max_body_bytes = options.max_body_bytes;
        limits.read_timeout = options.read_timeout;
        pool = std::make_unique<web::ConnectionPool>(
            limits, options.worker_threads, [server = http.get()](web::Connection& c, bool last) {
                return server->serve(c, last);
            });
        http->set_pool(pool.get());
        const int bound =
            options.port == 0
                ? http->bind_to_any_port(options.bind_address)
                : (http->bind_to_port(options.bind_address, options.port) ? options.port : -1);
        if (bound > 0) http->raise_backlog(kListenBacklog);
        if (bound <= 0) {
            result.error = web::describe_listen_failure(options.bind_address, options.port);
            listen_fd = -1;  // cpp-httplib closed it
            abandon();
            return result;
        }
        // The Api exists before the accept loop starts, and knows the port the Host check
        // expects (the real one when asked for 0).
        web::ApiOptions api_options;
        api_options.token = options.token;
        api_options.max_body_bytes = options.max_body_bytes;
        // Half the workers at most hold streams, so the JSON endpoints always have some.
        api_options.max_stream_clients = std::max<std::size_t>(1, options.worker_threads / 2);
        api_options.hosts = {options.bind_address, bound, options.allowed_hosts};
        if (!options.recording.path.empty()) {
            recorder = std::make_unique<Recorder>(budget, *sampler, options.recording);
            api_options.recorder = recorder.get();
        }
        try {
            serving->api = std::make_unique<web::Api>(budget, *sampler, std::move(api_options));
            serving->api->set_verdict_provider(verdict);
        } catch (...) {
            close_listening_socket();
            abandon();
            throw;
        }

        try {
            if (own_sampler) own_sampler->start();
            // A recording that cannot start is logged; the dashboard serves all the same.
            if (recorder) static_cast<void>(recorder->start());
            // The thread uses nothing of this Impl: stop() may have to leave it running.
            listener = detail::start_thread([server = http, identity = listen_identity] {
                detail::mark_thread_internal();
                detail::name_this_thread("ms-listen");
                try {
                    server->listen_after_bind();
                } catch (...) {
                    // No memory for the worker pool: the server ends, the game goes on.
                    server->close_listening_socket(identity);
                }
                server->accept_loop_ended = true;
            });
        } catch (...) {
            // A thread that could not start (out of memory or address space).
            close_listening_socket();
            abandon();
            throw;
        }
        // stop() only takes effect once the accept loop runs: wait for it (the socket
        // already listens, so no client is refused meanwhile).
        // It runs within microseconds of the thread's start: poll finely, so that start()
        // (and a program's start under memscope-run) does not wait a whole millisecond.
        while (!http->is_running() && !http->accept_loop_ended)
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        if (http->accept_loop_ended) {
            listener.join();
            abandon();
            result.error = "memscope server: the accept loop ended at once on " +
                           web::url_for(options.bind_address, bound);
            return result;
        }

        port = bound;
        running = true;
        result.started = true;
        result.port = bound;
        result.url = web::url_for(options.bind_address, bound);
        log(LogLevel::info, "memscope dashboard on " + result.url);
        if (!web::is_loopback_address(options.bind_address) && options.token.empty())
            log(LogLevel::warning,
                "the memscope dashboard listens on " + options.bind_address +
                    ", reachable from other machines, without a token: anyone who can reach "
                    "it can read the game's memory figures (control endpoints stay off). "
                    "Bind to 127.0.0.1 or set a token.");
        return result;
    }

    void stop() {
        std::lock_guard lock(mutex);
        release_orphans();
        if (!listener.joinable()) return;
        // Live streams send their "end" message within kStreamPoll; then no handler may
        // reach the game any more, and the accept loop stops.
        serving->api->stop_streams();
        const auto deadline = std::chrono::steady_clock::now() + 3 * web::kStreamPoll;
        while (serving->api->stream_clients() > 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        serving->gate.close();
        const bool ended = end_accept_loop();
        if (ended) {
            listener.join();  // the accept loop has ended: nothing more reaches the pool
        } else {
            // It did not end within about a second (it can only be the listening socket
            // the program closed, with nothing reaching the port): the program's exit must
            // not wait for it. It holds its own reference to `http`.
            listener.detach();
        }
        // Waiting connections close now; requests being answered get kStopGrace, then
        // their connections are cut.
        pool->stop(kStopGrace, http);
        if (ended) {
            pool.reset();
        } else {
            // The detached accept loop may still hand a socket to the pool, which closes
            // it after stop(): the pool object stays allocated for it (leaked on purpose).
            static_cast<void>(pool.release());
        }
        if (own_sampler) own_sampler->stop();
        if (recorder) recorder->stop();  // after the last sample, so that it is recorded
        http.reset();
        serving.reset();
        recorder.reset();
        own_sampler.reset();
        running = false;
        port = 0;
        listen_fd = -1;
        listen_identity = {};
    }

    // Ends cpp-httplib's accept loop; true once it has ended. The listening socket is
    // shut down and closed by cpp-httplib's stop() while it is ours. Once the program has
    // closed it, it is forgotten instead, and the accept() blocked in the socket (which a
    // close() from another thread does not wake) is woken by connecting to our own port:
    // the accepted socket goes to the pool, which closes it. At most kWakeAttempts tries.
    // Not covered: cpp-httplib's loop closes the number it holds when accept() fails on
    // it (EBADF, ENOTSOCK), so a program that closed the socket before the loop first
    // reached accept() (start() returns once the loop runs, a moment before it blocks)
    // could lose a file that took the number. A daemon closes descriptors in main, after
    // the constructor that started the server has returned.
    bool end_accept_loop() {
        const bool ours = listen_identity.matches(listen_fd);  // then closed: descriptors.hpp
        if (ours)
            http->stop();
        else
            http->forget_listening_socket();
        for (int attempt = 0; attempt < kWakeAttempts && !http->accept_loop_ended; ++attempt) {
            if (!ours || attempt > 0)
                static_cast<void>(web::knock(options.bind_address, port, kWakeWait));
            const auto until = std::chrono::steady_clock::now() + kWakeWait;
            while (!http->accept_loop_ended && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return http->accept_loop_ended;
    }

    // What a start() that failed leaves behind.
    void abandon() {
        if (own_sampler) own_sampler->stop();
        pool.reset();
        http.reset();
        serving.reset();
        recorder.reset();
        own_sampler.reset();
    }

    // cpp-httplib closes the listening socket only in stop() of a running server: a start
    // that fails after binding closes it here, or the port would stay taken.
    // Only while its number still names it: the program may have closed it and opened
    // a file of its own under the same number.
    void close_listening_socket() noexcept {
        if (const int fd = listen_fd.exchange(-1); fd >= 0) web::close_if_ours(fd, listen_identity);
    }

    // fork(): nothing to hold in the parent (start() and stop() are the game's, and a
    // start() under way must be free to create the sampler's locks). In the child, the
    // accept loop, the workers and the sampler thread do not exist: their handle is
    // dropped, and the listening socket closed, so that the child neither keeps the port
    // nor can stop the parent's server (shutdown() on the shared socket would). Only
    // close() here; the objects they served are released later by stop() or start().
    void prepare() noexcept override {}
    void parent() noexcept override {}
    void child() noexcept override {
        new (&mutex) std::mutex();  // in case a start() or stop() was under way
        if (!listener.joinable()) return;
        new (&listener) std::thread();  // neither joined nor detached: it is not ours
        close_listening_socket();
        // The connection pool's poller and workers are the parent's threads, and its lock
        // may be held by one of them: destroying it here would wait for them forever. It
        // is left to the parent (the child's copy of its memory is leaked on purpose).
        static_cast<void>(pool.release());
        running = false;
        port = 0;
        orphaned = true;
    }

    // In the child of a fork: frees what the parent's server threads used. Nothing there
    // waits on a lock or a condition variable, and http->stop() is not called: it would
    // shut the socket down for the parent too.
    void release_orphans() {
        if (!orphaned) return;
        orphaned = false;
        http.reset();
        serving.reset();
        recorder.reset();     // its own fork handler already closed its file
        own_sampler.reset();  // its own fork handler already dropped its thread
    }
};

Server::Server(MemoryBudget& budget, ServerOptions options)
    : impl_(std::make_unique<Impl>(budget, std::move(options))) {
    if (impl_->options.read_environment) apply_environment(impl_->options, impl_->disabled);
    detail::add_fork_handler(*impl_);
}

Server::~Server() {
    stop();
    detail::remove_fork_handler(*impl_);
}

StartResult Server::start() {
    try {
        return impl_->start();
    } catch (const std::exception& e) {
        StartResult result;
        result.error = std::string("memscope server: ") + e.what();
        return result;
    }
}

void Server::stop() {
    impl_->stop();
}

bool Server::running() const {
    return impl_->running;
}

int Server::port() const {
    return impl_->port;
}

const ServerOptions& Server::options() const {
    return impl_->options;
}

void Server::set_verdict_provider(VerdictProvider provider) {
    std::lock_guard lock(impl_->mutex);  // api exists only between start() and stop()
    impl_->verdict = provider;
    if (impl_->serving) impl_->serving->api->set_verdict_provider(std::move(provider));
}

bool Server::mark(std::string_view name, std::optional<std::uint64_t> frame) {
    if (!name_problem(name).empty()) return false;
    std::lock_guard lock(impl_->mutex);  // api exists only between start() and stop()
    if (!impl_->serving) return false;
    impl_->serving->api->add_mark(std::string(name), frame);
    return true;
}

bool server_available() noexcept {
    return true;
}

}  // namespace memscope

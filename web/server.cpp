// memscope::Server: options and environment, the cpp-httplib glue, the worker pool, the
// sampler, start and stop. The only file of the library that includes httplib.h.
//
// Threads: start() runs the accept loop of cpp-httplib on one thread of ours and hands
// each connection to a pool of `worker_threads`; every one of them is marked as
// memscope's own (detail::mark_thread_internal) before it allocates, so the server's
// memory shows as memscope's footprint, not the game's. The game thread never waits on a
// request: handlers only read copies of the figures.

#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "counters.hpp"
#include "endpoints.hpp"
#include "fork_safety.hpp"
#include "memscope/budget.hpp"
#include "memscope/history.hpp"
#include "memscope/log.hpp"
#include "memscope/server.hpp"
#include "sockets.hpp"
#include "stream.hpp"

namespace memscope {
namespace {

// How long stop() lets the worker threads finish their connections. Requests in flight
// take microseconds and live streams have ended by then; a connection still open after it
// (an idle keep-alive, a client trickling a request) is left to its thread, see WorkerPool.
constexpr std::chrono::milliseconds kStopGrace{100};
// An idle keep-alive connection holds a worker this long (cpp-httplib counts in seconds).
constexpr time_t kKeepAliveSeconds = 2;

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

// cpp-httplib's task queue: a fixed pool whose threads are memscope's own. At shutdown it
// waits kStopGrace for the threads to finish; the ones still busy are detached and keep
// the httplib::Server (`owner`) alive until their connection ends. They cannot touch the
// game any more (the Gate is closed), so stop() returns promptly whatever clients do.
class WorkerPool final : public httplib::TaskQueue {
  public:
    WorkerPool(std::size_t threads, std::weak_ptr<void> owner)
        : state_(std::make_shared<State>()), owner_(std::move(owner)) {
        // Out of memory (or address space, under `ulimit -v`) a thread may not start: the
        // pool runs with those that did. Throwing here would destroy the running ones
        // unjoined, which is std::terminate.
        threads_.reserve(threads);
        for (std::size_t i = 0; i < threads; ++i) {
            try {
                std::lock_guard lock(state_->mutex);
                threads_.emplace_back([state = state_] { run(*state); });
                ++state_->running;
            } catch (const std::exception&) {  // system_error, or bad_alloc for its state
                break;
            }
        }
    }

    void enqueue(std::function<void()> job) override {
        if (!threads_.empty()) {
            try {
                {
                    std::lock_guard lock(state_->mutex);
                    state_->jobs.push_back(std::move(job));
                }
                state_->ready.notify_one();
                return;
            } catch (const std::bad_alloc&) {
                // No memory to queue it: an exception here would unwind cpp-httplib's
                // accept loop and this pool with its threads running (std::terminate).
            }
        }
        // No worker, or no room in the queue: this connection is served on the accept
        // thread, which waits meanwhile, rather than left unanswered.
        run_job(job);
    }

    void shutdown() override {
        std::unique_lock lock(state_->mutex);
        state_->shutting_down = true;
        state_->ready.notify_all();
        const bool finished =
            state_->finished.wait_for(lock, kStopGrace, [this] { return state_->running == 0; });
        if (!finished) state_->keep_alive = owner_.lock();
        lock.unlock();
        for (std::thread& t : threads_) {
            if (finished)
                t.join();
            else
                t.detach();
        }
    }

  private:
    struct State {
        std::mutex mutex;
        std::condition_variable ready;     // a job arrived, or shutdown
        std::condition_variable finished;  // a thread ended
        std::deque<std::function<void()>> jobs;
        bool shutting_down = false;
        std::size_t running = 0;           // threads not yet ended
        std::shared_ptr<void> keep_alive;  // the httplib::Server, while detached threads run
    };

    static void run(State& s) {
        detail::mark_thread_internal();
        while (true) {
            std::function<void()> job;
            {
                std::unique_lock lock(s.mutex);
                s.ready.wait(lock, [&s] { return s.shutting_down || !s.jobs.empty(); });
                if (s.jobs.empty()) break;
                job = std::move(s.jobs.front());
                s.jobs.pop_front();
            }
            run_job(job);  // one connection, start to end
        }
        std::lock_guard lock(s.mutex);
        --s.running;
        s.finished.notify_all();
    }

    static void run_job(const std::function<void()>& job) noexcept {
        try {
            job();
        } catch (...) {
            // An exception out of cpp-httplib (bad_alloc) must not terminate the game.
        }
    }

    std::shared_ptr<State> state_;  // shared with the threads, which may outlive the pool
    std::weak_ptr<void> owner_;
    std::vector<std::thread> threads_;
};

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

// Applies MEMSCOPE_* over `options`. Returns the first error, "" if none.
std::string apply_environment(ServerOptions& options, bool& disabled) {
    if (const std::string v = env("MEMSCOPE_DISABLE"); !v.empty()) {
        if (v == "1")
            disabled = true;
        else if (v != "0")
            return "MEMSCOPE_DISABLE must be 1 (or 0), not \"" + v + "\"";
    }
    if (const std::string v = env("MEMSCOPE_PORT"); !v.empty()) {
        int port = -1;
        const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
        if (ec != std::errc() || ptr != v.data() + v.size() || port < 0 || port > 65535)
            return "MEMSCOPE_PORT must be a port number from 0 to 65535, not \"" + v + "\"";
        options.port = port;
    }
    if (const std::string v = env("MEMSCOPE_BIND"); !v.empty()) options.bind_address = v;
    if (const std::string v = env("MEMSCOPE_TOKEN"); !v.empty()) options.token = v;
    return {};
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
    for (char c : o.token)
        if (c <= ' ' || c > '~') return "the token must be printable ASCII without spaces";
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
    out.set_chunked_content_provider(
        response.content_type,
        [serving, stream = std::move(response.stream)](std::size_t, httplib::DataSink& sink) {
            if (!serving->gate.enter()) {
                sink.done();  // the server stopped
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
    std::string setup_error;  // from the environment or the options, reported by start()
    bool disabled = false;    // MEMSCOPE_DISABLE=1

    std::mutex mutex;  // serialises start() and stop()
    std::atomic<bool> running{false};
    std::atomic<int> port{0};
    std::unique_ptr<Sampler> own_sampler;
    std::shared_ptr<Serving> serving;
    std::shared_ptr<httplib::Server> http;  // shared with worker threads that outlive stop()
    std::thread listener;
    std::atomic<bool> listener_done{false};
    std::atomic<int> listen_fd{-1};  // the listening socket, for the child of a fork
    bool orphaned = false;  // in the child of a fork: the threads serving `http` are gone

    VerdictProvider verdict;  // guarded by `mutex`; kept here so it survives stop() and start()

    Impl(MemoryBudget& b, ServerOptions o) : budget(b), options(std::move(o)) {}

    void configure(httplib::Server& s, std::size_t workers) {
        s.new_task_queue = [workers, owner = std::weak_ptr<void>(http)] {
            return new WorkerPool(workers, owner);
        };
        s.set_read_timeout(options.read_timeout);
        s.set_write_timeout(std::chrono::seconds(5));
        s.set_keep_alive_timeout(kKeepAliveSeconds);
        s.set_keep_alive_max_count(100);
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
            listen_fd = sock;
        });

        // Requests without a body are routed here, before cpp-httplib's own routing,
        // which matches paths with std::regex: its recursion grows with the path length
        // (a stack overflow under ASan at 8 KiB). Requests with a body need that routing
        // to read the body; the router refuses their long paths first.
        s.set_pre_routing_handler(
            [serving = serving](const httplib::Request& in, httplib::Response& out) {
                const bool has_body =
                    in.has_header("Content-Length") || in.has_header("Transfer-Encoding");
                if (has_body && in.target.size() <= web::kMaxTargetBytes)
                    return httplib::Server::HandlerResponse::Unhandled;
                serve(serving, in, out);
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
        // it produced itself (no body yet) get a JSON body here.
        s.set_error_handler(httplib::Server::HandlerWithResponse(
            [](const httplib::Request&, httplib::Response& out) {
                if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                web::Response r = web::error_response(out.status, reason_of(out.status));
                web::apply_common_headers(r);
                send(std::move(r), out);
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
        if (!setup_error.empty()) {
            result.error = setup_error;
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
        web::ApiOptions api_options;
        api_options.token = options.token;
        api_options.max_body_bytes = options.max_body_bytes;
        // Half the workers at most hold streams, so the JSON endpoints always have some.
        api_options.max_stream_clients = std::max<std::size_t>(1, options.worker_threads / 2);
        serving = std::make_shared<Serving>();
        serving->api = std::make_unique<web::Api>(budget, *sampler, std::move(api_options));
        serving->api->set_verdict_provider(verdict);

        http = std::make_shared<httplib::Server>();
        configure(*http, options.worker_threads);
        const int bound =
            options.port == 0
                ? http->bind_to_any_port(options.bind_address)
                : (http->bind_to_port(options.bind_address, options.port) ? options.port : -1);
        if (bound <= 0) {
            result.error = web::describe_listen_failure(options.bind_address, options.port);
            listen_fd = -1;  // cpp-httplib closed it
            abandon();
            return result;
        }

        try {
            if (own_sampler) own_sampler->start();
            listener_done = false;
            listener = std::thread([this] {
                detail::mark_thread_internal();
                try {
                    http->listen_after_bind();
                } catch (...) {
                    // No memory for the worker pool: the server ends, the game goes on.
                    close_listening_socket();
                }
                listener_done = true;
            });
        } catch (...) {
            // A thread that could not start (out of memory or address space).
            close_listening_socket();
            abandon();
            throw;
        }
        // stop() only takes effect once the accept loop runs: wait for it (the socket
        // already listens, so no client is refused meanwhile).
        while (!http->is_running() && !listener_done)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (listener_done) {
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
        http->stop();
        listener.join();  // returns once the worker pool shut down (kStopGrace at most)
        if (own_sampler) own_sampler->stop();
        http.reset();
        serving.reset();
        own_sampler.reset();
        running = false;
        port = 0;
        listen_fd = -1;
    }

    // What a start() that failed leaves behind.
    void abandon() {
        if (own_sampler) own_sampler->stop();
        http.reset();
        serving.reset();
        own_sampler.reset();
    }

    // cpp-httplib closes the listening socket only in stop() of a running server: a start
    // that fails after binding closes it here, or the port would stay taken.
    void close_listening_socket() noexcept {
        if (const int fd = listen_fd.exchange(-1); fd >= 0) ::close(fd);
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
        own_sampler.reset();  // its own fork handler already dropped its thread
    }
};

Server::Server(MemoryBudget& budget, ServerOptions options)
    : impl_(std::make_unique<Impl>(budget, std::move(options))) {
    if (impl_->options.read_environment)
        impl_->setup_error = apply_environment(impl_->options, impl_->disabled);
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

bool server_available() noexcept {
    return true;
}

}  // namespace memscope

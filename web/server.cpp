// memscope::Server: options and environment, the cpp-httplib glue, the worker pool, the
// sampler, start and stop. The only file of the library that includes httplib.h.
//
// Threads: start() runs the accept loop of cpp-httplib on one thread of ours and hands
// each connection to a pool of `worker_threads`; every one of them is marked as
// memscope's own (detail::mark_thread_internal) before it allocates, so the server's
// memory shows as memscope's footprint, not the game's. The game thread never waits on a
// request: handlers only read copies of the figures.

#include <httplib.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "counters.hpp"
#include "endpoints.hpp"
#include "memscope/budget.hpp"
#include "memscope/history.hpp"
#include "memscope/log.hpp"
#include "memscope/server.hpp"
#include "sockets.hpp"

namespace memscope {
namespace {

// How long stop() lets connections finish on their own before it shuts them down. Streams
// end within web::kStreamPoll; requests in flight take microseconds.
constexpr std::chrono::milliseconds kStopGrace{300};
// An idle keep-alive connection holds a worker this long (cpp-httplib counts in seconds).
constexpr time_t kKeepAliveSeconds = 2;

// cpp-httplib's task queue: a fixed pool whose threads are memscope's own.
class WorkerPool final : public httplib::TaskQueue {
  public:
    explicit WorkerPool(std::size_t threads) {
        for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
    }

    void enqueue(std::function<void()> job) override {
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        ready_.notify_one();
    }

    // Runs the queued jobs to the end, then joins.
    void shutdown() override {
        {
            std::lock_guard lock(mutex_);
            shutting_down_ = true;
        }
        ready_.notify_all();
        for (std::thread& t : threads_) t.join();
    }

  private:
    void run() {
        detail::mark_thread_internal();
        while (true) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [this] { return shutting_down_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            try {
                job();  // one connection, start to end
            } catch (...) {
                // An exception out of cpp-httplib must not terminate the game.
            }
        }
    }

    std::vector<std::thread> threads_;
    std::deque<std::function<void()>> jobs_;
    std::mutex mutex_;
    std::condition_variable ready_;
    bool shutting_down_ = false;
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

// A web::Response into cpp-httplib's.
void send(web::Response response, httplib::Response& out) {
    out.status = response.status;
    for (auto& [name, value] : response.headers) out.set_header(name, value);
    if (!response.stream) {
        out.set_content(std::move(response.body), response.content_type);
        return;
    }
    out.set_chunked_content_provider(
        response.content_type,
        [stream = std::move(response.stream)](std::size_t, httplib::DataSink& sink) {
            try {
                std::string chunk;
                const bool more = stream->next(chunk);
                if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
                if (!more) sink.done();
                return true;
            } catch (...) {
                return false;  // thrown out of here, it would end the worker thread
            }
        });
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

struct Server::Impl {
    MemoryBudget& budget;
    ServerOptions options;
    std::string setup_error;  // from the environment or the options, reported by start()
    bool disabled = false;    // MEMSCOPE_DISABLE=1

    std::mutex mutex;  // serialises start() and stop()
    std::atomic<bool> running{false};
    std::atomic<int> port{0};
    std::unique_ptr<Sampler> own_sampler;
    std::unique_ptr<web::Api> api;
    std::unique_ptr<httplib::Server> http;
    std::thread listener;
    std::atomic<bool> listener_done{false};

    VerdictProvider verdict;  // guarded by `mutex`; kept here so it survives stop() and start()

    Impl(MemoryBudget& b, ServerOptions o) : budget(b), options(std::move(o)) {}

    void serve(const httplib::Request& in, httplib::Response& out) const {
        web::Request request = web::Request::from_target(in.method, in.target);
        request.headers.assign(in.headers.begin(), in.headers.end());
        request.body = in.body;
        send(api->handle(request), out);
    }

    void configure(httplib::Server& s, std::size_t workers) {
        s.new_task_queue = [workers] { return new WorkerPool(workers); };
        s.set_read_timeout(options.read_timeout);
        s.set_write_timeout(std::chrono::seconds(5));
        s.set_keep_alive_timeout(kKeepAliveSeconds);
        s.set_keep_alive_max_count(100);
        s.set_payload_max_length(options.max_body_bytes);
        s.set_tcp_nodelay(true);
        // SO_REUSEADDR only. cpp-httplib's default adds SO_REUSEPORT, with which a second
        // game on the same machine would share port 9090 with the first, the kernel
        // handing each request to either, instead of being told the port is taken.
        s.set_socket_options([](socket_t sock) {
            const int on = 1;
            setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        });

        // Requests without a body are routed here, before cpp-httplib's own routing,
        // which matches paths with std::regex: its recursion grows with the path length
        // (a stack overflow under ASan at 8 KiB). Requests with a body need that routing
        // to read the body; the router refuses their long paths first.
        s.set_pre_routing_handler([this](const httplib::Request& in, httplib::Response& out) {
            const bool has_body =
                in.has_header("Content-Length") || in.has_header("Transfer-Encoding");
            if (has_body && in.target.size() <= web::kMaxTargetBytes)
                return httplib::Server::HandlerResponse::Unhandled;
            serve(in, out);
            return httplib::Server::HandlerResponse::Handled;
        });
        const auto handler = [this](const httplib::Request& in, httplib::Response& out) {
            serve(in, out);
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
        api = std::make_unique<web::Api>(budget, *sampler, std::move(api_options));
        api->set_verdict_provider(verdict);

        http = std::make_unique<httplib::Server>();
        configure(*http, options.worker_threads);
        const int bound =
            options.port == 0
                ? http->bind_to_any_port(options.bind_address)
                : (http->bind_to_port(options.bind_address, options.port) ? options.port : -1);
        if (bound <= 0) {
            result.error = web::describe_listen_failure(options.bind_address, options.port);
            http.reset();
            api.reset();
            own_sampler.reset();
            return result;
        }

        if (own_sampler) own_sampler->start();
        listener_done = false;
        listener = std::thread([this] {
            detail::mark_thread_internal();
            http->listen_after_bind();
            listener_done = true;
        });
        // stop() only takes effect once the accept loop runs: wait for it (the socket
        // already listens, so no client is refused meanwhile).
        while (!http->is_running() && !listener_done)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (listener_done) {
            listener.join();
            if (own_sampler) own_sampler->stop();
            http.reset();
            api.reset();
            own_sampler.reset();
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
        if (!listener.joinable()) return;
        api->stop_streams();
        http->stop();
        const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
        while (!listener_done && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (!listener_done) web::shutdown_accepted_connections(port);
        listener.join();  // cpp-httplib joins its workers before listen_after_bind returns
        if (own_sampler) own_sampler->stop();
        http.reset();
        api.reset();
        own_sampler.reset();
        running = false;
        port = 0;
    }
};

Server::Server(MemoryBudget& budget, ServerOptions options)
    : impl_(std::make_unique<Impl>(budget, std::move(options))) {
    if (impl_->options.read_environment)
        impl_->setup_error = apply_environment(impl_->options, impl_->disabled);
}

Server::~Server() {
    stop();
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
    if (impl_->api) impl_->api->set_verdict_provider(std::move(provider));
}

bool server_available() noexcept {
    return true;
}

}  // namespace memscope

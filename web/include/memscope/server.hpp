// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The optional dashboard server: JSON for scripts, Prometheus metrics for fleets, and the
/// live page, served by a background thread of the game (default http://127.0.0.1:9090).
///
///     memscope::Server dashboard(budget);          // reports on this MemoryBudget
///     if (auto started = dashboard.start(); !started)
///         std::fprintf(stderr, "memscope: %s\n", started.error.c_str());  // game goes on
///     else
///         std::printf("memory dashboard on %s\n", started.url.c_str());
///
/// In a build with `MEMSCOPE_WITH_SERVER=OFF` the same calls compile and do nothing:
/// start() answers that the server is not built in.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memscope/recording.hpp"

namespace memscope {

class MemoryBudget;
class Sampler;

/// How the server runs. Environment variables override these unless
/// `read_environment` is false: MEMSCOPE_PORT, MEMSCOPE_BIND, MEMSCOPE_TOKEN (or
/// MEMSCOPE_TOKEN_FILE), MEMSCOPE_ALLOWED_HOSTS, MEMSCOPE_RECORD (and its _MAX_BYTES,
/// _KEEP), and MEMSCOPE_DISABLE=1 (start() then does
/// nothing and says so).
struct ServerOptions {
    /// Address to listen on. Loopback by default; anything else exposes the game's memory
    /// figures to the network and is logged as a warning when no token is set.
    std::string bind_address = "127.0.0.1";
    /// TCP port; 0 picks a free port (read it back from StartResult::port).
    int port = 9090;
    /// Interval of the server's sampler (history, trends, leak suspicion, live stream).
    std::chrono::milliseconds sample_interval{1000};
    /// Samples of history kept (600 = 10 minutes at 1 s).
    std::size_t history_capacity = 600;
    /// Secret that unlocks the control endpoints (budget edits, peak reset, simulated
    /// pressure). Empty: those endpoints answer 403. Sent by clients as
    /// `Authorization: Bearer <token>`.
    std::string token;
    /// Host names (or addresses) the server answers besides its own, e.g. the machine's DNS
    /// name for a fleet's scraper; "*" answers any Host (behind a proxy of your own).
    /// Requests whose `Host` is none of localhost, 127.0.0.0/8, [::1], the bind address
    /// (the address dialled, when bound to 0.0.0.0 or ::) and these get 421: a web page of
    /// another site cannot reach the dashboard through DNS rebinding. Case-insensitive;
    /// no port (a Host's port must be the server's).
    std::vector<std::string> allowed_hosts;
    /// Apply the MEMSCOPE_* environment variables over these options.
    bool read_environment = true;
    /// Worker threads answering requests (2 to 256); each live-stream client holds one, and
    /// at most half of them serve streams. Connections waiting for a request hold none.
    /// Four serve 24k requests/s on loopback, as many as eight (BENCHMARKS.md section 4),
    /// and keep two workers for JSON with two pages open.
    std::size_t worker_threads = 4;
    /// Connections open at once. At the cap, a new connection closes the one that has
    /// waited longest without a complete request; when every connection is being
    /// answered, it gets 503 and is closed.
    std::size_t max_connections = 64;
    /// Largest request body accepted (budget edits are tiny); larger ones get 413.
    std::size_t max_body_bytes = 64 * 1024;
    /// A request's head must arrive within this time of its first byte, and its body
    /// within this time after the head; else 408 (head) or the connection is closed.
    std::chrono::milliseconds read_timeout{5000};
    /// Records the session to a file when `recording.path` is set (MEMSCOPE_RECORD,
    /// MEMSCOPE_RECORD_MAX_BYTES, MEMSCOPE_RECORD_KEEP): from start() to stop(), with the
    /// page's and mark()'s marks. A file that cannot be written is logged; the server runs.
    RecordingOptions recording;
    /// Use this sampler instead of starting one (it must outlive the server and sample
    /// `budget`). The server then neither starts nor stops it.
    Sampler* sampler = nullptr;
};

/// What start() did.
struct StartResult {
    bool started = false;   ///< the server listens
    bool disabled = false;  ///< not an error: MEMSCOPE_DISABLE=1, or built without the server
    int port = 0;           ///< the port it listens on (the real one when asked for 0)
    std::string url;        ///< e.g. "http://127.0.0.1:9090/"
    std::string error;      ///< why it did not start: "port 9090 on 127.0.0.1 is already in use"
    /// True when started.
    explicit operator bool() const noexcept { return started; }
};

/// Produces the JSON document of GET /api/v1/verdict (see examples/voxel_demo): a game's
/// own pass/fail report on its memory budgets. Called on a server thread.
using VerdictProvider = std::function<std::string()>;

/// The dashboard server of one MemoryBudget (see the file comment for an example).
class Server {
  public:
    /// A stopped server for `budget`, which must outlive it.
    explicit Server(MemoryBudget& budget, ServerOptions options = {});
    /// Stops the server (see stop()).
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds, starts the sampler and the server thread, and returns at once. Never
    /// throws for a busy port or a bad address: the result says what went wrong.
    StartResult start();

    /// Stops listening, disconnects clients (live streams included) and joins the
    /// threads. Returns within about a second even with clients connected.
    void stop();

    /// True between a successful start() and stop().
    [[nodiscard]] bool running() const;

    /// The port it listens on (0 when stopped).
    [[nodiscard]] int port() const;

    /// The options in force after the environment was applied.
    [[nodiscard]] const ServerOptions& options() const;

    /// Serves GET /api/v1/verdict from this provider (404 until one is set).
    void set_verdict_provider(VerdictProvider provider);

    /// Marks this moment under `name`, as the page's Mark button does: the page, GET
    /// /api/v1/marks and the diffs treat it like any other mark, and show `frame` when the
    /// game gives one. For the game's own milestones, from any thread:
    ///
    ///     dashboard.mark("level2-loaded", frame_number);
    ///
    /// Takes the server's figures now (a few microseconds; it allocates). Returns false,
    /// and records nothing, while the server is not running or when `name` is refused
    /// (see name_problem(): empty, over 128 bytes, control characters).
    bool mark(std::string_view name, std::optional<std::uint64_t> frame = std::nullopt);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// True when this build contains the server (CMake option MEMSCOPE_WITH_SERVER).
[[nodiscard]] bool server_available() noexcept;

}  // namespace memscope

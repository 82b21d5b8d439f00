// SPDX-License-Identifier: MIT
#pragma once
// The connection layer under cpp-httplib: where accepted sockets wait, how many there may
// be, and how long each may take. cpp-httplib 0.11 hands every accepted socket to a worker
// thread at once, which then waits there for the request: a thousand idle connections, or
// a few clients sending one byte every few seconds, hold every worker and starve everyone
// else, and it reads a request line or header block of any size into memory.
//
// Here one poller thread holds every connection that is not being answered. It reads the
// request head itself (non-blocking, at most max_head_bytes, within read_timeout of its
// first byte) and only then gives the connection, with the head already in memory, to a
// worker. Workers therefore only ever wait on a request's body (read_timeout in all) and
// on a slow reader of the response (write_timeout for a whole response, for each write of
// a live stream). Idle keep-alive connections
// go back to the poller. At max_connections, a new connection closes the least recently
// active one waiting in the poller; if every connection is being answered, the newcomer
// gets a 503 and is closed. When connections arrive faster than the poller takes them, at
// most max_connections accepted sockets wait for it: the accept loop then waits, and new
// connections wait in the kernel's listen queue.
//
// No httplib here: server.cpp wraps a Connection in an httplib::Stream and passes it to
// httplib's request parser.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "descriptors.hpp"
#include "memscope/server.hpp"

namespace memscope::web {

/// Largest request head (request line and headers) read; beyond it: 431, or 414 while
/// the request line has not ended.
inline constexpr std::size_t kMaxRequestHeadBytes = 32 * 1024;
/// A connection waiting for the first byte of its next request is closed after this.
inline constexpr std::chrono::milliseconds kIdleTimeout{2000};
/// Each write of a response may wait this long for the client to read.
inline constexpr std::chrono::milliseconds kWriteTimeout{5000};
/// Requests served on one connection before it is closed.
inline constexpr std::size_t kMaxRequestsPerConnection = 100;

/// The limits of a ConnectionPool. Those a game can set default to ServerOptions' defaults.
struct ConnectionLimits {
    std::size_t max_connections = ServerOptions{}.max_connections;  ///< open at once
    std::size_t max_head_bytes = kMaxRequestHeadBytes;              ///< request line and headers
    std::size_t max_body_bytes = ServerOptions{}.max_body_bytes;    ///< the server's body limit
    std::chrono::milliseconds idle_timeout = kIdleTimeout;          ///< before a request starts
    std::chrono::milliseconds read_timeout = ServerOptions{}.read_timeout;  ///< head, then body
    std::chrono::milliseconds write_timeout = kWriteTimeout;                ///< per write
    std::size_t max_requests = kMaxRequestsPerConnection;                   ///< per connection
};

/// One client socket. Owned by the poller while waiting, by one worker while answered;
/// never used by two threads at once. The read and write calls are those of a worker.
/// Every use of the socket first checks that its number still names it (descriptors.hpp):
/// once the program has closed it, the connection fails its reads and writes and is
/// dropped without close(), whose number may be the program's by then.
class Connection {
  public:
    /// Takes `fd`, which names `identity`'s socket (closed by the destructor if it still
    /// does), and makes it non-blocking.
    Connection(int fd, const FdIdentity& identity, const ConnectionLimits& limits);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    [[nodiscard]] int fd() const { return fd_; }

    /// Up to `size` bytes of the request: those already received first, then from the
    /// socket until the request's deadline. 0 at the end of the stream, -1 on an error, a
    /// timeout, or once the request has read more than the body limit allows (then
    /// body_too_large() is true).
    ssize_t read(char* out, std::size_t size);
    /// Writes all of `data`; `size`, or -1. A response must be written whole within
    /// write_timeout of its first byte (a live stream: each write within write_timeout).
    ssize_t write(const char* data, std::size_t size);
    /// Whether read() has something to give before the request's deadline.
    [[nodiscard]] bool wait_readable();
    /// Whether the socket accepts bytes within write_timeout.
    [[nodiscard]] bool wait_writable();

    /// After this response, close the connection (a malformed or refused request).
    void close_after_response() { close_after_ = true; }
    /// This response is a live stream: no limit on its total time, only per write.
    void allow_long_response() { long_response_ = true; }
    /// read() stopped because the request exceeded the body limit.
    [[nodiscard]] bool body_too_large() const { return body_too_large_; }
    /// The peer's or our own address and port ("127.0.0.1", 51234).
    void address(bool peer, std::string& ip, int& port) const;

  private:
    friend class ConnectionPool;
    using Clock = std::chrono::steady_clock;
    enum class Head { incomplete, complete, too_large, malformed };

    [[nodiscard]] std::size_t pending() const { return in_.size() - in_pos_; }
    // Whether fd_ still names our socket. Once it does not, it never will again: the
    // connection is lost, and fd_ is never used again (nor closed).
    [[nodiscard]] bool ours();
    // Whether the unread bytes hold a whole request head; its length in `head_length`
    // when complete.
    [[nodiscard]] Head scan_head(std::size_t& head_length) const;
    bool poll_for(short events, Clock::time_point until);
    void compact();

    int fd_;
    const FdIdentity identity_;  // of fd_'s socket, when accepted
    bool lost_ = false;          // the program closed fd_: never touched again
    const ConnectionLimits& limits_;
    std::string in_;          // received, not yet read by the request parser
    std::size_t in_pos_ = 0;  // start of the unread part of in_
    bool eof_ = false;        // the client closed its side
    Clock::time_point last_activity_;
    Clock::time_point deadline_;     // of the current wait (idle, head, body or linger)
    std::size_t request_bytes_ = 0;  // read() gave this request so far
    std::size_t head_bytes_ = 0;     // the head's share of the request
    std::size_t requests_ = 0;       // answered on this connection
    std::size_t lingered_bytes_ = 0;
    Clock::time_point write_deadline_;  // of the current response, from its first byte
    bool writing_ = false;              // the current response has started
    bool long_response_ = false;
    bool close_after_ = false;
    bool body_too_large_ = false;
    std::atomic<std::size_t>* open_count_ = nullptr;  // the pool's count, less one at the end
};

/// The poller and the workers. See the file comment.
///
/// The poller's doorbell is a pipe (an eventfd has no inode of its own to check). When
/// the program closes it (a daemon closing every descriptor), the pool has lost its
/// descriptors: the poller logs one warning, abandons every descriptor it holds (never
/// reading, writing or closing one again: the program is reusing the numbers right then),
/// closes each socket admitted afterwards (new, and ours), and waits for stop() on a
/// condition variable instead of polling.
class ConnectionPool {
  public:
    /// Answers one request on a connection whose head has arrived; `last` asks to close
    /// the connection after it. Returns false to close it (error, or the client asked).
    using Serve = std::function<bool(Connection& connection, bool last)>;

    /// Starts the poller and `workers` worker threads (marked as memscope's own).
    ConnectionPool(ConnectionLimits limits, std::size_t workers, Serve serve);
    /// stop(), if not done.
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    /// Takes an accepted socket (any thread). Waits while max_connections sockets already
    /// wait for the poller to take them (a flood); after stop(), or once the program has
    /// closed the pool's descriptors, closes it.
    void admit(int fd);

    /// Closes every waiting connection, lets workers finish their request for `grace`,
    /// then cuts the connections still being answered (their reads and writes fail at
    /// once) and joins the threads. A thread that still does not end within another
    /// `grace` is detached, keeping `keep_alive` (what Serve uses) alive until it ends.
    void stop(std::chrono::milliseconds grace, std::shared_ptr<void> keep_alive);

  private:
    struct Shared;
    std::shared_ptr<Shared> shared_;  // shared with the threads, which may outlive the pool
    std::vector<std::thread> threads_;
};

/// The raw bytes of an HTTP/1.1 error response with a JSON body, the common security
/// headers and `Connection: close`, for refusals made before cpp-httplib sees a request.
[[nodiscard]] std::string canned_response(int status, std::string_view message);

}  // namespace memscope::web

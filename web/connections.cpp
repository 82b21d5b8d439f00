// SPDX-License-Identifier: MIT
// The connection layer: the poller (waiting connections, request heads, the cap, the
// timeouts, closing), the workers, and the refusals sent without cpp-httplib.

#include "connections.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "memscope/internal.hpp"
#include "memscope/log.hpp"
#include "router.hpp"

namespace memscope::web {
namespace {

using Clock = std::chrono::steady_clock;

// One recv() of the poller or of a worker.
constexpr std::size_t kReadChunk = 16 * 1024;
// A connection being closed first stops sending (FIN) and reads what the client still
// sends, for this long or this many bytes, so that the client reads our last response
// instead of a reset (closing a socket with unread bytes sends RST).
constexpr std::chrono::milliseconds kLinger{1000};
constexpr std::size_t kLingerBytes = 1 << 20;
// The poller wakes at least this often, whatever the deadlines.
constexpr std::chrono::milliseconds kMaxPollWait{1000};
// A body may take this much more than max_body_bytes on the wire (chunk framing) before
// read() refuses it.
std::size_t wire_body_limit(std::size_t max_body_bytes) {
    return 2 * max_body_bytes + 16 * 1024;
}

int ms_until(Clock::time_point until, Clock::time_point now) {
    if (until <= now) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 408:
            return "Request Timeout";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        default:
            return "Error";
    }
}

// "GET /path HTTP/1.1\r\n": what cpp-httplib will parse. Anything else it answers with 400
// as soon as it has the line, so such a request goes to it at once.
bool plausible_request_line(std::string_view line) {
    if (!line.ends_with("\r\n")) return false;
    line.remove_suffix(2);
    const auto first = line.find(' ');
    const auto last = line.rfind(' ');
    if (first == std::string_view::npos || first == last || first == 0) return false;
    const std::string_view method = line.substr(0, first);
    const std::string_view version = line.substr(last + 1);
    if (method.size() > 16 || last == first + 1) return false;
    for (char c : method)
        if (c < 'A' || c > 'Z') return false;
    return version == "HTTP/1.1" || version == "HTTP/1.0";
}

// Sends what fits now, without waiting: for refusals, which must never hold the poller.
void send_now(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads and drops what the client already sent, without waiting.
void discard_now(int fd) {
    char sink[4096];
    for (int i = 0; i < 16; ++i)
        if (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0) return;
}

// Whether bytes wait unread on `fd` (not the end of the stream: that one may go).
bool has_unread_bytes(int fd) {
    char byte = 0;
    return ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

}  // namespace

std::string canned_response(int status, std::string_view message) {
    Response r = error_response(status, message);
    if (status == 503) r.set_header("Retry-After", "1");
    apply_common_headers(r);
    std::string text =
        "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    text += "Content-Type: " + r.content_type + "\r\n";
    text += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    text += "Connection: close\r\n";
    for (const auto& [name, value] : r.headers) text += name + ": " + value + "\r\n";
    text += "\r\n";
    text += r.body;
    return text;
}

// ---------------------------------------------------------------------------------------
// Connection

Connection::Connection(int fd, const FdIdentity& identity, const ConnectionLimits& limits)
    : fd_(fd), identity_(identity), limits_(limits) {
    const int flags = ::fcntl(fd_, F_GETFL, 0);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    // cpp-httplib accepts without SOCK_CLOEXEC: a program the game starts must not inherit
    // a client's connection (and keep it open after the game closed it).
    const int fd_flags = ::fcntl(fd_, F_GETFD, 0);
    if (fd_flags >= 0) ::fcntl(fd_, F_SETFD, fd_flags | FD_CLOEXEC);
    last_activity_ = Clock::now();
    deadline_ = last_activity_ + limits_.idle_timeout;
}

Connection::~Connection() {
    if (!lost_) close_if_ours(fd_, identity_);
    if (open_count_ != nullptr) open_count_->fetch_sub(1);
}

void Connection::compact() {
    if (in_pos_ == in_.size()) {
        in_.clear();
        in_pos_ = 0;
    }
}

Connection::Head Connection::scan_head(std::size_t& head_length) const {
    const std::string_view view = std::string_view(in_).substr(in_pos_);
    head_length = view.size();
    const auto line_end = view.find('\n');
    if (line_end == std::string_view::npos)
        return view.size() > limits_.max_head_bytes ? Head::too_large : Head::incomplete;
    if (!plausible_request_line(view.substr(0, line_end + 1))) return Head::malformed;
    // The head ends with an empty line; "\n\r\n" from the request line's own newline also
    // finds a request without headers.
    const auto blank = view.find("\n\r\n", line_end);
    if (blank != std::string_view::npos) {
        head_length = blank + 3;
        return head_length <= limits_.max_head_bytes ? Head::complete : Head::too_large;
    }
    return view.size() > limits_.max_head_bytes ? Head::too_large : Head::incomplete;
}

bool Connection::ours() {
    if (!lost_ && !identity_.matches(fd_)) lost_ = true;
    return !lost_;
}

bool Connection::poll_for(short events, Clock::time_point until) {
    if (!ours()) return false;
    pollfd p{fd_, events, 0};
    while (true) {
        const int r = ::poll(&p, 1, ms_until(until, Clock::now()));
        if (r > 0 && (p.revents & POLLNVAL) != 0) {
            lost_ = true;  // closed by the program
            return false;
        }
        if (r > 0) return true;  // ready, or an error the next call reports
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

ssize_t Connection::read(char* out, std::size_t size) {
    if (size == 0) return 0;
    if (pending() == 0) {
        if (eof_) return 0;
        if (request_bytes_ >= head_bytes_ + wire_body_limit(limits_.max_body_bytes)) {
            body_too_large_ = true;
            return -1;
        }
        in_.clear();
        in_pos_ = 0;
        while (true) {
            if (!poll_for(POLLIN, deadline_)) return -1;  // the request took too long
            if (!ours()) return -1;
            in_.resize(kReadChunk);
            const ssize_t n = ::recv(fd_, in_.data(), in_.size(), 0);
            if (n > 0) {
                in_.resize(static_cast<std::size_t>(n));
                break;
            }
            in_.clear();
            if (n == 0) {
                eof_ = true;
                return 0;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
        }
    }
    const std::size_t take = std::min(size, pending());
    std::memcpy(out, in_.data() + in_pos_, take);
    in_pos_ += take;
    request_bytes_ += take;
    return static_cast<ssize_t>(take);
}

ssize_t Connection::write(const char* data, std::size_t size) {
    if (!writing_) {
        writing_ = true;
        write_deadline_ = Clock::now() + limits_.write_timeout;
    }
    std::size_t done = 0;
    while (done < size) {
        if (!ours()) return -1;
        const ssize_t n = ::send(fd_, data + done, size - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // A client that does not read gets write_timeout for the whole response (a
        // stream's per write): it cannot hold a worker longer by reading a byte at a time.
        const Clock::time_point until =
            long_response_ ? Clock::now() + limits_.write_timeout : write_deadline_;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && poll_for(POLLOUT, until))
            continue;
        return -1;
    }
    return static_cast<ssize_t>(size);
}

bool Connection::wait_readable() {
    return pending() > 0 || eof_ || poll_for(POLLIN, deadline_);
}

bool Connection::wait_writable() {
    const Clock::time_point until =
        long_response_ || !writing_ ? Clock::now() + limits_.write_timeout : write_deadline_;
    return poll_for(POLLOUT, until);
}

void Connection::address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t length = sizeof addr;
    ip.clear();
    port = 0;
    if (lost_ || !identity_.matches(fd_)) return;
    const int r = peer ? ::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &length)
                       : ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    if (r != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        port = ntohs(v4->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        port = ntohs(v6->sin6_port);
    }
    ip = text;
}

// ---------------------------------------------------------------------------------------
// ConnectionPool

struct ConnectionPool::Shared {
    // A socket from the accept loop, with its identity taken at once (admit()).
    struct Accepted {
        int fd;
        FdIdentity identity;
    };

    ConnectionLimits limits;
    Serve serve;
    // The poller's doorbell: a non-blocking pipe. A byte written wakes the poller, which
    // drains them. Its two ends are used only while their identities match; the poller
    // alone decides that they are lost (`lost`).
    int bell_read = -1, bell_write = -1;
    FdIdentity bell_read_id, bell_write_id;

    std::mutex mutex;                                   // guards the members down to keep_alive
    std::condition_variable work;                       // a connection is ready, or stop
    std::condition_variable finished;                   // a thread ended
    std::condition_variable room;                       // `incoming` has room, or stop
    std::atomic<bool> lost{false};                      // the program closed the doorbell
    std::condition_variable lost_bell;                  // the doorbell, once the pipe is lost
    std::vector<Accepted> incoming;                     // accepted sockets for the poller
    std::size_t taking = 0;                             // taken from `incoming`, not admitted yet
    std::vector<std::unique_ptr<Connection>> returned;  // answered, back to the poller
    std::vector<std::unique_ptr<Connection>> ready;     // heads in, oldest first, for a worker
    std::vector<Connection*> busy;                      // being answered
    bool stopping = false;
    std::size_t threads_running = 0;
    std::shared_ptr<void> keep_alive;  // what Serve uses, while detached threads run

    // Connections open: waiting, being answered or being closed (each one counts itself
    // out when it closes, whoever closes it).
    std::atomic<std::size_t> open{0};

    // The poller's own: sockets and connections taken from the workers' side, connections
    // waiting for bytes and being closed, and the same two during one pass over them.
    std::vector<Accepted> incoming_now;
    std::vector<std::unique_ptr<Connection>> returned_now, parked, lingering, waiting, closing;
    std::vector<pollfd> fds;
    Clock::time_point last_cap_warning{};
    bool warned_cap = false;
    std::array<char, kReadChunk> read_buffer{};

    ~Shared() {
        for (const Accepted& a : incoming) close_if_ours(a.fd, a.identity);
        for (const Accepted& a : incoming_now)
            if (a.fd >= 0) close_if_ours(a.fd, a.identity);
        if (lost) return;  // every descriptor abandoned: see lose_descriptors()
        close_if_ours(bell_read, bell_read_id);
        close_if_ours(bell_write, bell_write_id);
    }

    // Wakes the poller (any thread): a byte into the pipe while it is ours, else the
    // condition variable the poller waits on once the pipe is lost.
    void ring() {
        if (!lost && bell_write_id.matches(bell_write)) {
            const char byte = 1;
            // A full pipe already rings: EAGAIN is fine.
            [[maybe_unused]] const ssize_t n = ::write(bell_write, &byte, 1);
        }
        lost_bell.notify_all();
    }
    // Whether both ends of the doorbell are still the pipe the pool made.
    [[nodiscard]] bool doorbell_ours() const {
        return bell_read_id.matches(bell_read) && bell_write_id.matches(bell_write);
    }
    // The poller's: the program closed the doorbell. See ConnectionPool's comment.
    void lose_descriptors();
    // The poller's loop once the descriptors are lost: no polling, timed waits.
    void run_lost();

    // Every list can hold every connection from the start, so that moving a connection
    // from one to another never allocates: out of memory, the poller and the workers must
    // not throw (std::terminate), and a full list of sockets must not grow without bound.
    void reserve_lists() {
        const std::size_t n = limits.max_connections;
        for (auto* list :
             {&returned, &ready, &returned_now, &parked, &lingering, &waiting, &closing})
            list->reserve(n);
        incoming.reserve(n);
        incoming_now.reserve(n);
        busy.reserve(n);
        fds.reserve(n + 1);
    }

    void run_poller();
    void poll_once();
    // The sockets taken from `incoming` have been admitted or closed: only now does
    // `incoming` have room for as many (they were open until then).
    void make_room() {
        {
            std::lock_guard lock(mutex);
            if (taking == 0) return;
            taking = 0;
        }
        room.notify_all();
    }
    void run_worker();
    static void close_connection(std::unique_ptr<Connection>& c) { c.reset(); }
    void linger(std::unique_ptr<Connection> c, Clock::time_point now);
    void refuse(std::unique_ptr<Connection> c, int status, std::string_view message,
                Clock::time_point now) {
        try {
            if (c->ours()) send_now(c->fd(), canned_response(status, message));
        } catch (...) {
            // No memory for the answer: the connection closes without one.
        }
        linger(std::move(c), now);
    }
    void dispatch(std::unique_ptr<Connection> c, Clock::time_point now);
    void park(std::unique_ptr<Connection> c, Clock::time_point now);
    bool act_on_head(std::unique_ptr<Connection>& c, Clock::time_point now);
    // Reads what arrived on a waiting connection; false when it left the parked list.
    void on_readable(std::unique_ptr<Connection>& c, Clock::time_point now);
    void on_incoming(Accepted accepted, Clock::time_point now);
    void note_cap(Clock::time_point now);
};

void ConnectionPool::Shared::linger(std::unique_ptr<Connection> c, Clock::time_point now) {
    if (!c->ours()) return close_connection(c);  // dropped, not closed
    ::shutdown(c->fd(), SHUT_WR);
    std::string().swap(c->in_);
    c->in_pos_ = 0;
    c->lingered_bytes_ = 0;
    c->deadline_ = now + kLinger;
    lingering.push_back(std::move(c));
}

void ConnectionPool::Shared::dispatch(std::unique_ptr<Connection> c, Clock::time_point now) {
    c->request_bytes_ = 0;
    c->body_too_large_ = false;
    c->writing_ = false;
    c->long_response_ = false;
    c->deadline_ = now + limits.read_timeout;  // for the rest of the request: its body
    {
        std::lock_guard lock(mutex);
        ready.push_back(std::move(c));
    }
    work.notify_one();
}

// A connection between requests, or with part of a head: dispatch it if its head is
// complete (a pipelined request may already be there), else let it wait.
void ConnectionPool::Shared::park(std::unique_ptr<Connection> c, Clock::time_point now) {
    c->compact();
    if (c->pending() == 0) {
        std::string().swap(c->in_);  // an idle connection keeps no buffer
        if (c->eof_) return close_connection(c);
        c->deadline_ = now + limits.idle_timeout;
        parked.push_back(std::move(c));
        return;
    }
    if (act_on_head(c, now)) return;
    if (c->eof_) {
        c->head_bytes_ = c->pending();
        return dispatch(std::move(c), now);  // cpp-httplib answers what it can
    }
    c->deadline_ = now + limits.read_timeout;
    parked.push_back(std::move(c));
}

// Dispatches a connection whose head is complete (or malformed: cpp-httplib answers 400),
// refuses one whose head is too large, and returns true; false while the head is still
// incomplete, for the caller to decide how it waits.
bool ConnectionPool::Shared::act_on_head(std::unique_ptr<Connection>& c, Clock::time_point now) {
    std::size_t head_length = 0;
    switch (c->scan_head(head_length)) {
        case Connection::Head::complete:
        case Connection::Head::malformed:
            c->head_bytes_ = head_length;
            dispatch(std::move(c), now);
            return true;
        case Connection::Head::too_large: {
            const bool in_line =
                std::string_view(c->in_).substr(c->in_pos_).find('\n') == std::string_view::npos;
            if (in_line)
                refuse(std::move(c), 414, "the request line is too long", now);
            else
                refuse(std::move(c), 431, "the request head is too large", now);
            return true;
        }
        case Connection::Head::incomplete:
            return false;
    }
    return false;
}

void ConnectionPool::Shared::on_readable(std::unique_ptr<Connection>& c, Clock::time_point now) {
    if (!c->ours()) return close_connection(c);  // the program closed it: dropped, not closed
    const bool was_idle = c->pending() == 0;
    c->compact();
    // Into the poller's buffer first: a connection trickling a byte at a time then holds
    // only its bytes, not a buffer of kReadChunk.
    const ssize_t n = ::recv(c->fd(), read_buffer.data(), read_buffer.size(), MSG_DONTWAIT);
    if (n > 0) {
        try {
            c->in_.append(read_buffer.data(), static_cast<std::size_t>(n));
        } catch (...) {
            return close_connection(c);  // no memory for the head: closed unanswered
        }
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            parked.push_back(std::move(c));
            return;
        }
        return close_connection(c);
    }
    if (n == 0) {
        c->eof_ = true;
        if (c->pending() == 0) return close_connection(c);
        c->head_bytes_ = c->pending();
        return dispatch(std::move(c), now);
    }
    c->last_activity_ = now;
    if (was_idle) c->deadline_ = now + limits.read_timeout;  // the head must come whole
    if (!act_on_head(c, now)) parked.push_back(std::move(c));
}

void ConnectionPool::Shared::note_cap(Clock::time_point now) {
    if (warned_cap && now - last_cap_warning < std::chrono::minutes(1)) return;
    warned_cap = true;
    last_cap_warning = now;
    try {
        log(LogLevel::warning, "memscope dashboard: " + std::to_string(limits.max_connections) +
                                   " connections open (ServerOptions::max_connections): closing "
                                   "idle ones to admit new ones, refusing when all are busy");
    } catch (...) {
    }
}

void ConnectionPool::Shared::on_incoming(Accepted accepted, Clock::time_point now) {
    const int fd = accepted.fd;
    if (!accepted.identity.matches(fd)) return;  // closed by the program before we took it
    if (open.load() >= limits.max_connections) {
        note_cap(now);
        // Make room: a connection being closed first, else the one waiting in the poller
        // that has been quiet longest (an idle keep-alive, a trickling head).
        auto oldest = [](auto& list) {
            return std::min_element(list.begin(), list.end(), [](const auto& a, const auto& b) {
                return a->last_activity_ < b->last_activity_;
            });
        };
        if (!lingering.empty()) {
            auto it = oldest(lingering);
            close_connection(*it);
            lingering.erase(it);
        } else if (!parked.empty()) {
            // Passing over connections whose next bytes have arrived but are not read yet:
            // a client that connected just before a flood of others and sent its request
            // at once must not lose it to the attacker's idle connections.
            auto it = parked.end();
            for (auto c = parked.begin(); c != parked.end(); ++c)
                if ((it == parked.end() || (*c)->last_activity_ < (*it)->last_activity_) &&
                    (*c)->ours() && !has_unread_bytes((*c)->fd()))
                    it = c;
            if (it == parked.end()) it = oldest(parked);
            close_connection(*it);
            parked.erase(it);
        } else {
            // Every connection is being answered: refuse this one at once. Emptying its
            // receive buffer first makes a reset, which could hide the 503, less likely.
            discard_now(fd);
            try {
                send_now(fd, canned_response(503, "too many connections; try again shortly"));
            } catch (...) {
            }
            ::shutdown(fd, SHUT_WR);
            close_if_ours(fd, accepted.identity);
            return;
        }
    }
    std::unique_ptr<Connection> c;
    try {
        c = std::make_unique<Connection>(fd, accepted.identity, limits);
    } catch (...) {
        close_if_ours(fd, accepted.identity);  // no memory for it: closed unanswered
        return;
    }
    ++open;
    c->open_count_ = &open;
    c->last_activity_ = now;
    c->deadline_ = now + limits.idle_timeout;
    parked.push_back(std::move(c));
}

void ConnectionPool::Shared::run_poller() {
    detail::mark_thread_internal();
    detail::name_this_thread("ms-poll");
    while (true) {
        if (lost) {
            run_lost();
            break;
        }
        {
            std::lock_guard lock(mutex);
            if (stopping) break;
            incoming_now.swap(incoming);
            taking = incoming_now.size();
            returned_now.swap(returned);
        }
        try {
            poll_once();
        } catch (...) {
            // Nothing above should throw (the lists never grow); if something does, the
            // connections of the pass that was under way close, and the poller goes on.
            for (const Accepted& a : incoming_now)
                if (a.fd >= 0) close_if_ours(a.fd, a.identity);
            incoming_now.clear();
            returned_now.clear();
            waiting.clear();
            closing.clear();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        make_room();  // if the pass did not get that far
    }
    // Stopping: every connection the poller holds closes now.
    parked.clear();
    lingering.clear();
    std::lock_guard lock(mutex);
    --threads_running;
    finished.notify_all();
}

void ConnectionPool::Shared::lose_descriptors() {
    {
        std::lock_guard lock(mutex);
        lost = true;  // admit() closes what it is given from now on
        for (auto& c : ready) c->lost_ = true;
        incoming.clear();  // accepted before the loss: abandoned too
    }
    room.notify_all();
    try {
        log(LogLevel::warning,
            "memscope server: the program closed the dashboard's descriptors; the dashboard "
            "stops serving (the counters go on)");
    } catch (...) {
    }
    // Every descriptor the pool holds is abandoned, never closed: the program is closing
    // descriptors and opening its own right now (the doorbell wakes the poller the moment
    // its write end closes), and a number that passes the identity check may be the
    // program's an instant later. Called once: the poller then runs run_lost().
    for (auto* list : {&parked, &lingering, &waiting, &closing, &returned_now}) {
        for (auto& c : *list) c->lost_ = true;
        list->clear();
    }
    incoming_now.clear();
}

// The descriptors are lost: nothing is polled any more (a closed descriptor would report
// POLLNVAL at once, forever). Connections the workers give back date from before the
// loss: abandoned like the others. Sockets the accept loop hands over since (stop() wakes
// it with one) are new and ours: closed. Until stop().
void ConnectionPool::Shared::run_lost() {
    while (true) {
        {
            std::unique_lock lock(mutex);
            lost_bell.wait_for(lock, kMaxPollWait, [this] {
                return stopping || !incoming.empty() || !returned.empty();
            });
            if (stopping) return;
            incoming_now.swap(incoming);
            taking = incoming_now.size();
            returned_now.swap(returned);
        }
        for (Accepted& a : incoming_now) close_if_ours(std::exchange(a.fd, -1), a.identity);
        incoming_now.clear();
        for (auto& c : returned_now) c->lost_ = true;
        returned_now.clear();
        make_room();
    }
}

// One pass of the poller: the connections the workers gave back, the new ones, then a wait
// for bytes, the doorbell or the nearest deadline, and what came of it.
void ConnectionPool::Shared::poll_once() {
    Clock::time_point now = Clock::now();
    for (auto& c : returned_now) {
        if (c->close_after_)
            linger(std::move(c), now);
        else
            park(std::move(c), now);
    }
    returned_now.clear();
    // A socket is struck off as it is taken: one still listed here is nobody's yet.
    for (Accepted& a : incoming_now) on_incoming({std::exchange(a.fd, -1), a.identity}, now);
    incoming_now.clear();
    make_room();  // before the wait below, which admit() could not ring through

    if (!doorbell_ours()) return lose_descriptors();
    fds.clear();
    fds.push_back({bell_read, POLLIN, 0});
    Clock::time_point until = now + kMaxPollWait;
    for (const auto& c : parked) {
        fds.push_back({c->fd(), POLLIN, 0});
        until = std::min(until, c->deadline_);
    }
    for (const auto& c : lingering) {
        fds.push_back({c->fd(), POLLIN, 0});
        until = std::min(until, c->deadline_);
    }
    if (::poll(fds.data(), fds.size(), ms_until(until, now)) < 0 && errno != EINTR) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return;
    }
    // POLLHUP: the program closed the write end (the pipe then wakes us at once);
    // POLLNVAL: the read end.
    if ((fds[0].revents & (POLLNVAL | POLLHUP | POLLERR)) != 0 || !doorbell_ours())
        return lose_descriptors();
    if (fds[0].revents != 0) {
        std::array<char, 256> rings{};
        while (::read(bell_read, rings.data(), rings.size()) ==
               static_cast<ssize_t>(rings.size())) {
        }
    }

    now = Clock::now();
    std::size_t at = 1;  // fds[] holds the doorbell, then `waiting`, then `closing`
    waiting.swap(parked);
    closing.swap(lingering);
    for (auto& c : waiting) {
        const short revents = fds[at++].revents;
        if ((revents & POLLNVAL) != 0) {
            c->lost_ = true;  // the program closed it
            close_connection(c);
        } else if (revents != 0) {
            on_readable(c, now);  // back into parked, or on to a worker, or closed
        } else if (now >= c->deadline_) {
            if (c->pending() == 0) {
                close_connection(c);  // idle: nothing to say
            } else {
                refuse(std::move(c), 408, "the request head did not arrive in time", now);
            }
        } else {
            parked.push_back(std::move(c));
        }
    }
    waiting.clear();
    for (auto& c : closing) {
        bool done = now >= c->deadline_;
        if ((fds[at].revents & POLLNVAL) != 0 || !c->ours()) {
            c->lost_ = true;  // the program closed it: dropped, not closed
            done = true;
        } else if (!done && fds[at].revents != 0) {
            const ssize_t n = ::recv(c->fd(), read_buffer.data(), read_buffer.size(), MSG_DONTWAIT);
            if (n > 0) c->lingered_bytes_ += static_cast<std::size_t>(n);
            done = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
                   c->lingered_bytes_ > kLingerBytes;
        }
        ++at;
        if (done)
            close_connection(c);
        else
            lingering.push_back(std::move(c));
    }
    closing.clear();
}

void ConnectionPool::Shared::run_worker() {
    detail::mark_thread_internal();
    detail::name_this_thread("ms-http");
    while (true) {
        std::unique_ptr<Connection> c;
        {
            std::unique_lock lock(mutex);
            work.wait(lock, [this] { return stopping || !ready.empty(); });
            if (stopping) break;
            c = std::move(ready.front());
            ready.erase(ready.begin());
            busy.push_back(c.get());  // no allocation: reserved for every connection
        }
        const bool last = c->requests_ + 1 >= limits.max_requests;
        bool keep = false;
        try {
            keep = serve(*c, last);  // one request, start to end
        } catch (...) {
            // An exception out of cpp-httplib must not end the game.
        }
        ++c->requests_;
        if (!keep || last) c->close_after_ = true;
        {
            std::lock_guard lock(mutex);
            std::erase(busy, c.get());
            if (stopping) {
                c.reset();  // stop() owns the closing now
            } else {
                returned.push_back(std::move(c));
            }
        }
        ring();
    }
    std::lock_guard lock(mutex);
    --threads_running;
    finished.notify_all();
}

ConnectionPool::ConnectionPool(ConnectionLimits limits, std::size_t workers, Serve serve)
    : shared_(std::make_shared<Shared>()) {
    shared_->limits = limits;
    shared_->serve = std::move(serve);
    shared_->reserve_lists();
    int bell[2] = {-1, -1};
    if (::pipe2(bell, O_NONBLOCK | O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    shared_->bell_read = bell[0];
    shared_->bell_write = bell[1];
    shared_->bell_read_id = FdIdentity::of(bell[0]);
    shared_->bell_write_id = FdIdentity::of(bell[1]);
    threads_.reserve(workers + 1);
    // A thread that cannot be created (no memory for its stack, a limit on threads) must
    // not unwind past those already running, which would end the game (std::terminate):
    // the pool goes on with the workers that started. Without the poller or any worker
    // it stops the others, then throws.
    const auto launch = [this](bool poller) {
        std::lock_guard lock(shared_->mutex);   // the thread's end counts down under it
        threads_.reserve(threads_.size() + 1);  // so that push_back cannot throw
        threads_.push_back(detail::start_thread([s = shared_, poller] {
            if (poller)
                s->run_poller();
            else
                s->run_worker();
        }));
        ++shared_->threads_running;
    };
    try {
        launch(true);
        for (std::size_t i = 0; i < workers; ++i) launch(false);
    } catch (...) {
        if (threads_.size() < 2) {
            stop(std::chrono::milliseconds(100), nullptr);
            throw;
        }
    }
}

ConnectionPool::~ConnectionPool() {
    stop(std::chrono::milliseconds(100), nullptr);
}

void ConnectionPool::admit(int fd) {
    // Just accepted: the number names our socket now.
    const FdIdentity identity = FdIdentity::of(fd);
    {
        std::unique_lock lock(shared_->mutex);
        // Connections arriving faster than the poller takes them wait in the kernel's listen
        // queue, not here: the sockets waiting for the poller never outnumber the
        // connections it may hold, and none is closed unseen (the newest, which may be a
        // well-behaved client's, would be).
        shared_->room.wait(lock, [this] {
            return shared_->stopping || shared_->lost ||
                   shared_->incoming.size() + shared_->taking < shared_->limits.max_connections;
        });
        if (!shared_->stopping && !shared_->lost) {
            try {
                shared_->incoming.push_back({fd, identity});  // within its reserve: no allocation
                fd = -1;
            } catch (const std::bad_alloc&) {
                // Should it allocate and fail, this connection closes unanswered and the
                // accept loop goes on.
            }
        }
    }
    if (fd >= 0) {
        close_if_ours(fd, identity);
        return;
    }
    shared_->ring();
}

void ConnectionPool::stop(std::chrono::milliseconds grace, std::shared_ptr<void> keep_alive) {
    Shared& s = *shared_;
    std::unique_lock lock(s.mutex);
    if (s.stopping) return;
    s.stopping = true;
    if (s.lost)
        for (auto& c : s.ready) c->lost_ = true;  // abandoned: see lose_descriptors()
    s.ready.clear();                              // heads nobody will answer: closed
    s.work.notify_all();
    s.room.notify_all();
    s.ring();
    // Requests being answered may finish (the Gate answers 503 to new ones)...
    bool finished = s.finished.wait_for(lock, grace, [&s] { return s.threads_running == 0; });
    if (!finished) {
        // ...then their connections are cut: blocked reads and writes return at once.
        for (Connection* c : s.busy)
            if (!s.lost && c->identity_.matches(c->fd())) ::shutdown(c->fd(), SHUT_RDWR);
        finished = s.finished.wait_for(lock, grace, [&s] { return s.threads_running == 0; });
    }
    // A thread still inside a request after that cannot reach the game (the Gate is
    // closed); it keeps what it uses alive and ends on its own.
    if (!finished) s.keep_alive = std::move(keep_alive);
    s.returned.clear();
    lock.unlock();
    for (std::thread& t : threads_) {
        if (finished)
            t.join();
        else
            t.detach();
    }
    threads_.clear();
}

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
// Recorder: the NDJSON recording of a session, its rotation, and the ms-record thread.
//
// Each write round (the thread's, every flush interval, or flush_now()) takes what is new
// since the last round from the History (samples), the MemoryBudget (events, budgets) and
// the mark queue, formats the lines into one buffer and hands it to write(2) at once: what
// reached write() survives a crash of the process, so a crash loses at most one interval.
// Lines of different kinds are grouped per round, not interleaved in time: every line
// carries its own unix_ms.
//
// Locking: write_mutex serialises rounds and guards the file; mark_mutex guards the queue
// alone, so that mark() never waits for a write.

#include "memscope/recording.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "fork_safety.hpp"
#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"
#include "memscope/build_config.hpp"
#include "memscope/internal.hpp"
#include "memscope/json.hpp"
#include "memscope/log.hpp"
#include "memscope/sampler.hpp"

namespace memscope {
namespace {

constexpr std::size_t kMinMaxBytes = 4096;

std::int64_t now_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

RecordingOptions sanitized(RecordingOptions o) {
    o.max_bytes = std::max(o.max_bytes, kMinMaxBytes);
    o.flush_interval =
        std::clamp(o.flush_interval, std::chrono::milliseconds{1}, std::chrono::milliseconds{1000});
    return o;
}

// `path.n`, or `path` itself for n == 0.
std::string numbered(const std::string& path, std::size_t n) {
    return n == 0 ? path : path + "." + std::to_string(n);
}

struct QueuedMark {
    std::int64_t unix_ms = 0;
    std::string name;
    std::optional<std::uint64_t> frame;
};

}  // namespace

struct Recorder::Impl final : detail::ForkHandler {
    // fork(): no round is copied half done. In the child the thread does not exist, and
    // the file is the parent's: the child closes its descriptor and records nothing.
    void prepare() noexcept override {
        write_mutex.lock();
        mark_mutex.lock();
    }
    void parent() noexcept override {
        mark_mutex.unlock();
        write_mutex.unlock();
    }
    void child() noexcept override {
        if (thread.joinable()) {
            new (&thread) std::thread();  // neither joined nor detached: it is not ours
            new (&thread_mutex) std::mutex();
            new (&wake) std::condition_variable();
            stop_requested = false;
        }
        new (&control_mutex) std::mutex();
        if (fd >= 0) ::close(fd);
        fd = -1;
        active.store(false);
        mark_mutex.unlock();
        write_mutex.unlock();
    }

    Impl(const MemoryBudget& b, const Sampler& s, RecordingOptions o)
        : budget(b), sampler(s), options(sanitized(std::move(o))) {}

    const MemoryBudget& budget;
    const Sampler& sampler;
    const RecordingOptions options;

    mutable std::mutex write_mutex;  // one round at a time; guards everything below
    int fd = -1;
    std::size_t file_bytes = 0;    // bytes in the current file
    std::size_t header_bytes = 0;  // of which the header and budgets lines
    bool rotates = true;           // the path is a regular file (or was none)
    std::uint64_t part = 0;        // files started by this recorder, minus one
    std::uint64_t last_sample = 0;
    std::uint64_t last_event = 0;
    std::string budgets_body;  // the budgets line as last written, after its unix_ms
    std::string pending;       // lines formatted, not yet written
    std::string error;
    RecordingStats stats;
    std::int64_t start_unix_ms = 0;

    std::mutex mark_mutex;
    std::vector<QueuedMark> marks;

    std::atomic<bool> active{false};
    std::mutex control_mutex;  // serialises start() and stop()
    std::mutex thread_mutex;   // guards stop_requested, for the condition variable
    std::condition_variable wake;
    bool stop_requested = false;
    std::thread thread;

    // Ends the recording after a failure: one error line, the file closed, the game goes on.
    void fail(std::string why) {
        error = "memscope: recording to " + options.path + " stopped: " + why;
        if (fd >= 0) ::close(fd);
        fd = -1;
        pending.clear();
        active.store(false);
        log(LogLevel::error, error);
    }

    bool write_pending() {
        const char* data = pending.data();
        std::size_t left = pending.size();
        while (left > 0) {
            const ssize_t n = ::write(fd, data, left);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                fail(std::string("cannot write: ") + std::strerror(n < 0 ? errno : EIO));
                return false;
            }
            data += n;
            left -= static_cast<std::size_t>(n);
        }
        file_bytes += pending.size();
        stats.bytes += pending.size();
        if (!pending.empty()) ++stats.writes;
        pending.clear();
        return true;
    }

    // Moves path to path.1, path.1 to path.2, ... dropping what would go past `keep`.
    // Only a regular file is moved: a device or a pipe (/dev/null, a FIFO a tool reads)
    // is written as it is, and never rotated.
    bool rotate_files() {
        const std::string& path = options.path;
        struct stat info {};
        rotates = ::stat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode);
        if (!rotates) return true;
        if (options.keep == 0) {
            if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
                fail("cannot remove " + path + ": " + std::strerror(errno));
                return false;
            }
            return true;
        }
        for (std::size_t n = options.keep; n > 0; --n) {
            const std::string from = numbered(path, n - 1);
            if (::rename(from.c_str(), numbered(path, n).c_str()) != 0 && errno != ENOENT) {
                fail("cannot rename " + from + ": " + std::strerror(errno));
                return false;
            }
        }
        return true;
    }

    // Opens a new file at path (after moving an existing one aside) with its header and
    // the budgets in force, so that each file can be read alone.
    bool open_file() {
        if (!rotate_files()) return false;
        fd = ::open(options.path.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (rotates ? O_TRUNC : 0), 0644);
        if (fd < 0) {
            fail(std::string("cannot open it: ") + std::strerror(errno));
            return false;
        }
        file_bytes = 0;
        pending.clear();
        append_header();
        pending += budgets_line();
        ++stats.lines;
        header_bytes = pending.size();
        return write_pending();
    }

    void append_header() {
        JsonWriter w(pending);
        w.begin_object();
        w.key("type").value("header");
        w.key("format").value(kRecordingFormat);
        w.key("version").value(kRecordingVersion);
        w.key("memscope_version").value(MEMSCOPE_VERSION);
        w.key("start_unix_ms").value(start_unix_ms);
        w.key("unix_ms").value(now_unix_ms());
        w.key("pid").value(static_cast<std::int64_t>(::getpid()));
        w.key("program").value(program_invocation_short_name);
        w.key("backend").value(allocator_backend());
        w.key("tracking_enabled").value(tracking_enabled());
        w.key("interval_ms").value(sampler.options().interval.count());
        w.key("part").value(part);
        w.end_object();
        pending += '\n';
        ++stats.lines;
    }

    std::string budgets_line() const {
        return R"({"type":"budgets","unix_ms":)" + std::to_string(now_unix_ms()) + budgets_body +
               '\n';
    }

    // Everything of the budgets line after its unix_ms: `,"warning_threshold":...}`.
    std::string budgets_text() const {
        std::string body;
        JsonWriter w(body);
        w.begin_object();
        w.key("warning_threshold").value(budget.warning_threshold());
        w.key("total_budget_bytes").value(budget.total_budget_bytes());
        const std::vector<SubsystemSnapshot> rows = budget.snapshot();
        w.key("budgets").begin_object();
        for (const SubsystemSnapshot& row : rows)
            w.dynamic_key(row.name).value(row.memory.budget_bytes);
        w.end_object();
        // Where each row's figures come from (a row turning measured writes a new line).
        w.key("sources").begin_object();
        for (const SubsystemSnapshot& row : rows)
            w.dynamic_key(row.name).value(to_string(row.source));
        w.end_object();
        w.end_object();
        body[0] = ',';  // continues the object the line opened
        return body;
    }

    // Appends one line, rotating first when it would take the file past max_bytes (a
    // file that holds only its header takes the line whatever its size).
    bool append(const std::string& line) {
        const std::size_t size = file_bytes + pending.size();
        if (rotates && size + line.size() > options.max_bytes && size > header_bytes) {
            if (!write_pending()) return false;
            ::close(fd);
            fd = -1;
            ++part;
            ++stats.rotations;
            if (!open_file()) return false;
        }
        pending += line;
        ++stats.lines;
        return true;
    }

    static std::string sample_line(const Sample& s, const std::vector<std::string>& names) {
        std::string line;
        JsonWriter w(line);
        w.begin_object();
        w.key("type").value("sample");
        w.key("sequence").value(s.sequence);
        w.key("unix_ms").value(s.unix_ms);
        w.key("seconds").value(s.seconds);
        w.key("reported_bytes").value(s.reported_bytes);
        w.key("allocator").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(s.allocator.field);
        MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.end_object();
        w.key("process").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) w.key(#field).value(s.process.field);
        MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.end_object();
        w.key("subsystems").begin_object();
        for (std::size_t i = 0; i < s.subsystem_bytes.size() && i < names.size(); ++i)
            w.dynamic_key(names[i]).value(s.subsystem_bytes[i]);
        w.end_object();
        w.end_object();
        line += '\n';
        return line;
    }

    static std::string event_line(const BudgetEvent& e) {
        std::string line;
        JsonWriter w(line);
        w.begin_object();
        w.key("type").value("event");
        w.key("sequence").value(e.sequence);
        w.key("unix_ms").value(
            std::chrono::duration_cast<std::chrono::milliseconds>(e.time.time_since_epoch())
                .count());
        w.key("kind").value(to_string(e.kind));
        w.key("level").value(to_string(e.level));
        w.key("subsystem").value(e.subsystem);
        w.key("current_bytes").value(e.current_bytes);
        w.key("budget_bytes").value(e.budget_bytes);
        w.key("slope_bytes_per_second").value(e.slope_bytes_per_second);
        if (e.kind == EventKind::frame_over_budget) w.key("frame").value(e.frame);
        w.key("message").value(e.message);
        w.end_object();
        line += '\n';
        return line;
    }

    static std::string mark_line(const QueuedMark& m) {
        std::string line;
        JsonWriter w(line);
        w.begin_object();
        w.key("type").value("mark");
        w.key("unix_ms").value(m.unix_ms);
        w.key("name").value(m.name);
        w.key("frame");
        if (m.frame)
            w.value(*m.frame);
        else
            w.null();
        w.end_object();
        line += '\n';
        return line;
    }

    // One round: what is new, formatted and written at once. Caller holds write_mutex.
    void round() {
        if (fd < 0) return;
        // Samples before names: names only grow, so every index a sample uses has a name.
        const std::vector<Sample> samples = sampler.history().since(last_sample);
        const std::vector<std::string> names = sampler.history().subsystem_names();
        const std::vector<BudgetEvent> events = budget.events(last_event);
        std::vector<QueuedMark> taken;
        {
            std::lock_guard lock(mark_mutex);
            taken.swap(marks);
        }
        if (std::string body = budgets_text(); body != budgets_body) {
            budgets_body = std::move(body);
            if (!append(budgets_line())) return;
        }
        for (const Sample& s : samples) {
            if (!append(sample_line(s, names))) return;
            last_sample = s.sequence;
        }
        for (const BudgetEvent& e : events) {
            if (!append(event_line(e))) return;
            last_event = e.sequence;
        }
        for (const QueuedMark& m : taken)
            if (!append(mark_line(m))) return;
        write_pending();
    }

    void run() {
        detail::mark_thread_internal();
        detail::name_this_thread("ms-record");
        std::unique_lock lock(thread_mutex);
        while (!stop_requested) {
            if (wake.wait_for(lock, options.flush_interval, [this] { return stop_requested; }))
                break;
            lock.unlock();
            detail::run_guarded("recorder", [this] {
                std::lock_guard write(write_mutex);
                round();
            });
            lock.lock();
        }
    }
};

Recorder::Recorder(const MemoryBudget& budget, const Sampler& sampler, RecordingOptions options)
    : impl_(std::make_unique<Impl>(budget, sampler, std::move(options))) {
    detail::add_fork_handler(*impl_);
}

Recorder::~Recorder() {
    stop();
    detail::remove_fork_handler(*impl_);
}

bool Recorder::start() {
    std::lock_guard control(impl_->control_mutex);
    if (impl_->thread.joinable()) return true;
    {
        std::lock_guard write(impl_->write_mutex);
        impl_->error.clear();
        if (impl_->options.path.empty()) {
            impl_->error = "memscope: recording needs a file path";
            log(LogLevel::error, impl_->error);
            return false;
        }
        impl_->start_unix_ms = now_unix_ms();
        impl_->part = 0;
        impl_->budgets_body = impl_->budgets_text();
        if (!impl_->open_file()) return false;
        impl_->active.store(true);
    }
    {
        std::lock_guard lock(impl_->thread_mutex);
        impl_->stop_requested = false;
    }
    impl_->thread = detail::start_thread([impl = impl_.get()] { impl->run(); });
    return true;
}

void Recorder::stop() {
    std::lock_guard control(impl_->control_mutex);
    if (!impl_->thread.joinable()) return;
    {
        std::lock_guard lock(impl_->thread_mutex);
        impl_->stop_requested = true;
    }
    impl_->wake.notify_all();
    impl_->thread.join();
    std::lock_guard write(impl_->write_mutex);
    impl_->round();
    if (impl_->fd >= 0) ::close(impl_->fd);
    impl_->fd = -1;
    impl_->active.store(false);
}

bool Recorder::recording() const {
    return impl_->active.load();
}

void Recorder::mark(std::string_view name, std::optional<std::uint64_t> frame) {
    if (!impl_->active.load()) return;
    QueuedMark m{now_unix_ms(), std::string(name), frame};
    std::lock_guard lock(impl_->mark_mutex);
    impl_->marks.push_back(std::move(m));
}

void Recorder::flush_now() {
    std::lock_guard write(impl_->write_mutex);
    impl_->round();
}

std::string Recorder::error() const {
    std::lock_guard write(impl_->write_mutex);
    return impl_->error;
}

RecordingStats Recorder::stats() const {
    std::lock_guard write(impl_->write_mutex);
    return impl_->stats;
}

const RecordingOptions& Recorder::options() const {
    return impl_->options;
}

}  // namespace memscope

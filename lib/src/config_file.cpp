// SPDX-License-Identifier: MIT
// load_config(): budgets, total budget and threshold from a JSON file.
//
// Two phases so that a bad file changes nothing: the whole document is read and checked
// into a BudgetChanges first, and only a document without a single problem reaches
// MemoryBudget::apply(), which applies it under one lock.

#include "memscope/config_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

#include "due_time.hpp"
#include "fork_safety.hpp"
#include "json_reader.hpp"
#include "memscope/budget.hpp"
#include "memscope/format.hpp"
#include "memscope/internal.hpp"
#include "memscope/log.hpp"
#include "memscope/options.hpp"
#include "memscope/units.hpp"

namespace memscope {
namespace {

// Same limit as the reader's: a configuration file of more than 1 MiB is not one.
constexpr std::size_t kMaxFileBytes = JsonReadOptions{}.max_size_bytes;

// A file people edit: comments are welcome.
constexpr JsonReadOptions kConfigJson{.allow_comments = true};

constexpr const char* kSizeExpected =
    "expected a size (an integer of bytes, or a string such as \"512 MiB\")";

// The first problem found, ready to be printed as "<file>:<line>:<column>: <path>: <what>".
struct Problem {
    JsonPosition position;
    std::string path;  // empty for the top level
    std::string what;
};

std::string format_problem(std::string_view source, const Problem& p) {
    std::string s(source);
    s += ':' + std::to_string(p.position.line) + ':' + std::to_string(p.position.column) + ": ";
    if (!p.path.empty()) s += p.path + ": ";
    s += p.what;
    return s;
}

// Checks the document against the schema, collecting the changes it asks for. Stops at
// the first problem: one clear line is worth more than a cascade.
class SchemaReader {
  public:
    BudgetChanges changes;
    std::optional<Problem> problem;

    bool read(const JsonValue& root) {
        const JsonValue::Object* members = root.object();
        if (members == nullptr)
            return fail(root.position, "",
                        "expected a JSON object at the top level, got " +
                            std::string(json_type_name(root.type())));
        for (const JsonMember& m : *members) {
            bool ok = false;
            if (m.key == "warning_threshold")
                ok = read_threshold(m.value);
            else if (m.key == "total_budget")
                ok = read_total(m.value);
            else if (m.key == "budgets")
                ok = read_budgets(m.value);
            else if (m.key == "frame_budgets")
                ok = read_frame_budgets(m.value);
            else
                ok = fail(m.key_position, "",
                          "unknown key " + json_quote(m.key) +
                              " (expected warning_threshold, total_budget, budgets or "
                              "frame_budgets)");
            if (!ok) return false;
        }
        return true;
    }

  private:
    bool fail(JsonPosition where, std::string path, std::string what) {
        problem = Problem{where, std::move(path), std::move(what)};
        return false;
    }

    bool read_threshold(const JsonValue& v) {
        constexpr const char* kPath = "warning_threshold";
        const JsonNumber* n = v.number();
        if (n == nullptr) {
            std::string what =
                "expected a number in (0, 1], got " + std::string(json_type_name(v.type()));
            if (const std::string* s = v.string())
                what += " " + json_quote(*s) + " (write it without quotes)";
            return fail(v.position, kPath, std::move(what));
        }
        // Written as "!(in range)" so that NaN could not slip through; JSON has none, but
        // 1e400 arrives here as infinity.
        if (!(n->value > 0.0 && n->value <= 1.0))
            return fail(v.position, kPath, "must be in (0, 1], got " + n->text);
        changes.warning_threshold = static_cast<float>(n->value);
        return true;
    }

    bool read_total(const JsonValue& v) {
        std::size_t bytes = 0;
        if (!read_size(v, "total_budget", bytes)) return false;
        changes.total_budget_bytes = bytes;
        return true;
    }

    bool read_budgets(const JsonValue& v) {
        const JsonValue::Object* members = v.object();
        if (members == nullptr)
            return fail(v.position, "budgets",
                        "expected an object mapping subsystem names to sizes, got " +
                            std::string(json_type_name(v.type())));
        changes.budgets.reserve(members->size());
        for (const JsonMember& m : *members) {
            const std::string path = json_path_key("budgets", m.key);
            if (const std::string why = name_problem(m.key); !why.empty())
                return fail(m.key_position, path, "subsystem name " + why);
            std::size_t bytes = 0;
            if (!read_size(m.value, path, bytes)) return false;
            changes.budgets.emplace_back(m.key, bytes);
        }
        return true;
    }

    // "frame_budgets": {"Entities": {"allocations": 5000, "bytes": "4 MiB"}, "(total)": ...}
    bool read_frame_budgets(const JsonValue& v) {
        const JsonValue::Object* members = v.object();
        if (members == nullptr)
            return fail(v.position, "frame_budgets",
                        "expected an object mapping subsystem names (or \"(total)\") to "
                        "{\"allocations\": N, \"bytes\": size}, got " +
                            std::string(json_type_name(v.type())));
        for (const JsonMember& m : *members) {
            const std::string path = json_path_key("frame_budgets", m.key);
            if (const std::string why = name_problem(m.key); !why.empty())
                return fail(m.key_position, path, "subsystem name " + why);
            const JsonValue::Object* fields = m.value.object();
            if (fields == nullptr)
                return fail(m.value.position, path,
                            "expected an object with \"allocations\" and/or \"bytes\", got " +
                                std::string(json_type_name(m.value.type())));
            FrameBudget budget;
            for (const JsonMember& f : *fields) {
                const std::string field_path = path + "." + f.key;
                if (f.key == "allocations") {
                    const JsonNumber* n = f.value.number();
                    if (n == nullptr || n->negative || !n->integral || !n->magnitude)
                        return fail(
                            f.value.position, field_path,
                            "expected a whole number of allocations per frame, got " +
                                (n != nullptr ? n->text
                                              : std::string(json_type_name(f.value.type()))));
                    budget.max_allocations = *n->magnitude;
                } else if (f.key == "bytes") {
                    std::size_t bytes = 0;
                    if (!read_size(f.value, field_path, bytes)) return false;
                    budget.max_bytes = bytes;
                } else {
                    return fail(
                        f.key_position, path,
                        "unknown key " + json_quote(f.key) + " (expected allocations or bytes)");
                }
            }
            changes.frame_budgets.emplace_back(m.key, budget);
        }
        return true;
    }

    // A size: a JSON integer of bytes, or a string for parse_size().
    bool read_size(const JsonValue& v, const std::string& path, std::size_t& out) {
        std::uint64_t bytes = 0;
        if (const JsonNumber* n = v.number()) {
            const std::string head = "size " + n->text + ": ";
            if (n->negative && !(n->integral && n->magnitude == 0u))  // "-0" is zero
                return fail(v.position, path, head + "negative size");
            if (!n->integral)
                return fail(v.position, path,
                            head +
                                "not a whole number of bytes (write an integer, or a string "
                                "with a unit such as \"1.5 KiB\")");
            if (!n->magnitude) return fail(v.position, path, head + "size overflows 64 bits");
            bytes = *n->magnitude;
        } else if (const std::string* s = v.string()) {
            std::string why;
            const auto parsed = parse_size(*s, &why);
            if (!parsed) return fail(v.position, path, "size " + json_quote(*s) + ": " + why);
            bytes = *parsed;
        } else {
            return fail(
                v.position, path,
                std::string(kSizeExpected) + ", got " + std::string(json_type_name(v.type())));
        }
        if (bytes > std::numeric_limits<std::size_t>::max())  // only on 32-bit targets
            return fail(v.position, path, "size does not fit in this platform's size_t");
        out = static_cast<std::size_t>(bytes);
        return true;
    }
};

// "applied warning threshold 0.85, total budget 4.00 GB, 6 subsystem budgets (Chunks
// 1.00 GB, ...)": enough to see in a log which file won and what it set.
std::string describe(const BudgetChanges& c) {
    std::string s = "applied ";
    bool any = false;
    if (c.warning_threshold) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "warning threshold %g",
                      static_cast<double>(*c.warning_threshold));
        s += buf;
        any = true;
    }
    if (c.total_budget_bytes) {
        if (any) s += ", ";
        s += "total budget " + (*c.total_budget_bytes == 0 ? std::string("none")
                                                           : format_memory(*c.total_budget_bytes));
        any = true;
    }
    if (!c.frame_budgets.empty()) {
        if (any) s += ", ";
        s += std::to_string(c.frame_budgets.size()) +
             (c.frame_budgets.size() == 1 ? " frame budget" : " frame budgets");
        any = true;
    }
    if (!c.budgets.empty()) {
        if (any) s += ", ";
        s += std::to_string(c.budgets.size()) +
             (c.budgets.size() == 1 ? " subsystem budget (" : " subsystem budgets (");
        constexpr std::size_t kListed = 8;  // a game with 500 subsystems gets a short line
        for (std::size_t i = 0; i < c.budgets.size() && i < kListed; ++i) {
            if (i > 0) s += ", ";
            const auto& [name, bytes] = c.budgets[i];
            s += name + " " + (bytes == 0 ? std::string("unbudgeted") : format_memory(bytes));
        }
        if (c.budgets.size() > kListed)
            s += ", and " + std::to_string(c.budgets.size() - kListed) + " more";
        s += ')';
        any = true;
    }
    if (!any) s += "nothing (the file sets no key)";
    return s;
}

ConfigResult refuse(ConfigResult result, std::string error) {
    result.loaded = false;
    result.error = std::move(error);
    log(LogLevel::error, result.error);
    return result;
}

std::string errno_text(int code) {
    return std::error_code(code, std::generic_category()).message();
}

// The error of a failed read, or "" if it succeeded.
std::string read_error(const std::string& path, const detail::FileRead& read) {
    if (read.too_large)
        return path + ": cannot read: the file is larger than " + std::to_string(kMaxFileBytes) +
               " bytes";
    if (!read.ok) return path + ": cannot read: " + errno_text(read.error_code);
    return {};
}

// load_config(), with `origin` appended to a read error to say who named the file. With
// `missing_is_fine`, a file that does not exist is no error: nothing is loaded.
ConfigResult load_file(MemoryBudget& budget, std::string_view path, std::string_view origin,
                       bool missing_is_fine) {
    ConfigResult result;
    result.path = std::string(path);
    if (path.find('\0') != std::string_view::npos)
        return refuse(result, result.path + ": cannot read: the path contains a NUL byte");
    std::string text;
    errno = 0;
    const detail::FileRead read = detail::read_small_file(result.path, kMaxFileBytes, text);
    if (!read.ok && !read.too_large && missing_is_fine && read.error_code == ENOENT) {
        log(LogLevel::debug, "no MEMSCOPE_CONFIG and no " + result.path +
                                 " in the working directory: budgets unchanged");
        return ConfigResult{};
    }
    if (std::string error = read_error(result.path, read); !error.empty())
        return refuse(result, read.too_large ? error : error + std::string(origin));
    return apply_config_text(budget, text, path);
}

}  // namespace

ConfigResult apply_config_text(MemoryBudget& budget, std::string_view text,
                               std::string_view source_name) {
    ConfigResult result;
    result.path = std::string(source_name);
    JsonError json_error;
    const std::optional<JsonValue> root = read_json(text, &json_error, kConfigJson);
    if (!root) {
        Problem p{json_error.position, json_error.path, json_error.message};
        if (json_error.kind == JsonErrorKind::syntax) p.what = "syntax error: " + p.what;
        return refuse(result, format_problem(source_name, p));
    }
    SchemaReader schema;
    if (!schema.read(*root)) return refuse(result, format_problem(source_name, *schema.problem));
    budget.apply(schema.changes);
    result.loaded = true;
    log(LogLevel::info, std::string(source_name) + ": " + describe(schema.changes));
    return result;
}

ConfigResult load_config(MemoryBudget& budget, std::string_view path) {
    return load_file(budget, path, "", false);
}

std::string default_config_path() {
    return read_environment().config.value_or("memscope.json");
}

ConfigResult load_default_config(MemoryBudget& budget) {
    if (const std::optional<std::string> path = read_environment().config)
        return load_file(budget, *path, " (named by MEMSCOPE_CONFIG)", false);
    return load_file(budget, "memscope.json", "", true);
}

// ---------------------------------------------------------------------------------------
// ConfigWatcher

std::string_view to_string(ConfigChange change) noexcept {
    switch (change) {
        case ConfigChange::none:
            return "none";
        case ConfigChange::applied:
            return "applied";
        case ConfigChange::refused:
            return "refused";
        case ConfigChange::missing:
            return "missing";
    }
    return "unknown";
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// What stat() says of the file: enough to notice an edit in place (size, times) or a
// replacement (inode), as editors that save atomically do.
struct FileState {
    int error = 0;  // stat()'s errno; 0 when the file is there
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t modified_ns = 0;
    std::int64_t changed_ns = 0;
    bool operator==(const FileState&) const = default;
};

std::int64_t nanoseconds_of(const std::timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

FileState stat_file(const std::string& path) {
    FileState f;
    struct stat st {};
    if (path.find('\0') != std::string::npos) {
        f.error = EINVAL;
    } else if (::stat(path.c_str(), &st) != 0) {
        f.error = errno != 0 ? errno : EIO;
    } else {
        f.device = st.st_dev;
        f.inode = st.st_ino;
        f.size = st.st_size;
        f.modified_ns = nanoseconds_of(st.st_mtim);
        f.changed_ns = nanoseconds_of(st.st_ctim);
    }
    return f;
}

// File times advance in clock ticks (milliseconds on Linux, seconds on some file
// systems): a second write within the tick of the one read leaves the state as it was.
// So for this long after a file's last modification, its content is compared too.
constexpr std::chrono::seconds kTimestampDoubt{2};

bool recently_modified(const FileState& f) {
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    return now_ns - f.modified_ns < std::chrono::nanoseconds(kTimestampDoubt).count();
}

}  // namespace

struct ConfigWatcher::Impl final : detail::ForkHandler {
    Impl(MemoryBudget& b, std::string p, std::chrono::milliseconds i)
        : budget(b), path(std::move(p)), due(std::max(i, std::chrono::milliseconds(0)), {}) {}

    // fork(): a child must be able to check, even if another thread was checking.
    void prepare() noexcept override { mutex.lock(); }
    void parent() noexcept override { mutex.unlock(); }
    void child() noexcept override { mutex.unlock(); }

    MemoryBudget& budget;
    const std::string path;
    detail::DueTime due;  // when poll() checks next (at once, the first time)
    std::atomic<std::uint64_t> applied{0};

    mutable std::mutex mutex;            // one check at a time; guards the members below
    bool checked = false;                // a check has run
    std::optional<FileState> previous;   // what the last check saw
    std::optional<FileState> read_from;  // the file's state when it was last read
    bool reread = false;                 // read it even if unchanged (kTimestampDoubt)
    std::optional<std::string> text;     // the text last read (none after a failed read)
    int missing_error = 0;               // why the file is missing (errno); 0: it is not
    ConfigResult last;

    ConfigChange check() {
        const FileState now = stat_file(path);
        // A change is acted on once two checks in a row see it (the first check acts at
        // once): an editor's save caught half-way (truncated, or renamed away for an
        // instant) is not reported as a broken or vanished file.
        const bool first = !checked;
        const bool settled = first || previous == now;
        previous = now;
        if (!settled) return ConfigChange::none;
        checked = true;
        if (now.error != 0) return missing(now.error, first);
        if (!first && missing_error == 0 && read_from == now && !reread) return ConfigChange::none;

        std::string read_text;
        errno = 0;
        const detail::FileRead read = detail::read_small_file(path, kMaxFileBytes, read_text);
        if (!read.ok && !read.too_large && read.error_code == ENOENT)
            return missing(ENOENT, first);  // removed between stat() and open()
        missing_error = 0;
        read_from = now;
        reread = recently_modified(now);
        if (std::string error = read_error(path, read); !error.empty()) {
            if (!text && last.error == error) return ConfigChange::none;  // logged already
            text.reset();
            last = refuse(ConfigResult{false, path, {}}, std::move(error));
            return ConfigChange::refused;
        }
        if (text && *text == read_text) return ConfigChange::none;  // touched, not changed
        text = std::move(read_text);
        // An invalid text is kept too, so that it is refused (and logged) once.
        last = apply_config_text(budget, *text, path);
        if (!last.loaded) return ConfigChange::refused;
        applied.fetch_add(1, std::memory_order_relaxed);
        return ConfigChange::applied;
    }

    // The file cannot be seen, for reason `error` (an errno): logged once per reason.
    ConfigChange missing(int error, bool first) {
        if (missing_error == error) return ConfigChange::none;
        const bool was_there = read_from.has_value();
        missing_error = error;
        read_from.reset();
        text.reset();  // a file that comes back is applied, even with the same text
        last = ConfigResult{false, path, {}};
        if (was_there) {
            last.error = path + ": the configuration file is gone (" + errno_text(error) +
                         "); the budgets in force stay as they are";
            log(LogLevel::warning, last.error);
        } else {
            // Not there at the first check is how a game may start: not worth a warning.
            last.error = path + ": no configuration file (" + errno_text(error) +
                         "); the budgets stay as they are until one appears";
            log(first ? LogLevel::info : LogLevel::warning, last.error);
        }
        return ConfigChange::missing;
    }
};

ConfigWatcher::ConfigWatcher(MemoryBudget& budget, std::string path,
                             std::chrono::milliseconds check_interval)
    : impl_(std::make_unique<Impl>(budget, std::move(path), check_interval)) {
    detail::add_fork_handler(*impl_);
}

ConfigWatcher::~ConfigWatcher() {
    detail::remove_fork_handler(*impl_);
}

ConfigChange ConfigWatcher::poll() {
    if (!impl_->due.claim(SteadyClock::now())) return ConfigChange::none;
    // Another thread checking right now covers this poll too.
    std::unique_lock lock(impl_->mutex, std::try_to_lock);
    if (!lock.owns_lock()) return ConfigChange::none;
    return impl_->check();
}

ConfigChange ConfigWatcher::check_now() {
    std::lock_guard lock(impl_->mutex);
    impl_->due.reschedule(SteadyClock::now());
    return impl_->check();
}

const std::string& ConfigWatcher::path() const noexcept {
    return impl_->path;
}

ConfigResult ConfigWatcher::last_result() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->last;
}

std::uint64_t ConfigWatcher::applied_count() const noexcept {
    return impl_->applied.load(std::memory_order_relaxed);
}

}  // namespace memscope

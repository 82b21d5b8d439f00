// load_config(): budgets, total budget and threshold from a JSON file.
//
// Two phases so that a bad file changes nothing: the whole document is read and checked
// into a BudgetChanges first, and only a document without a single problem reaches
// MemoryBudget::apply(), which applies it under one lock.

#include "memscope/config_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "json_reader.hpp"
#include "memscope/budget.hpp"
#include "memscope/format.hpp"
#include "memscope/log.hpp"

namespace memscope {
namespace {

using detail::json_quote;
using detail::json_type_name;
using detail::JsonPosition;
using detail::JsonValue;

// Longest subsystem name accepted: names are labels on a dashboard and in Prometheus.
constexpr std::size_t kMaxNameBytes = 128;

// Same limit as the reader's: a configuration file of more than 1 MiB is not one.
constexpr std::size_t kMaxFileBytes = detail::JsonReadOptions{}.max_size_bytes;

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
        for (const detail::JsonMember& m : *members) {
            bool ok = false;
            if (m.key == "warning_threshold")
                ok = read_threshold(m.value);
            else if (m.key == "total_budget")
                ok = read_total(m.value);
            else if (m.key == "budgets")
                ok = read_budgets(m.value);
            else
                ok = fail(m.key_position, "",
                          "unknown key " + json_quote(m.key) +
                              " (expected warning_threshold, total_budget or budgets)");
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
        const detail::JsonNumber* n = v.number();
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
        for (const detail::JsonMember& m : *members) {
            const std::string path = detail::json_path_key("budgets", m.key);
            if (m.key.empty()) return fail(m.key_position, path, "empty subsystem name");
            if (m.key.size() > kMaxNameBytes)
                return fail(m.key_position, path,
                            "subsystem name is " + std::to_string(m.key.size()) +
                                " bytes long, more than " + std::to_string(kMaxNameBytes));
            for (char c : m.key)
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                    return fail(m.key_position, path,
                                "subsystem name contains a control character");
            std::size_t bytes = 0;
            if (!read_size(m.value, path, bytes)) return false;
            changes.budgets.emplace_back(m.key, bytes);
        }
        return true;
    }

    // A size: a JSON integer of bytes, or a string for parse_size().
    bool read_size(const JsonValue& v, const std::string& path, std::size_t& out) {
        std::uint64_t bytes = 0;
        if (const detail::JsonNumber* n = v.number()) {
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

// Reads at most kMaxFileBytes + 1 bytes: enough to tell a too-large file without reading
// a huge one. Returns the errno on failure (0 when `too_large`).
struct ReadOutcome {
    bool ok = false;
    int error_code = 0;
    bool too_large = false;
};

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

ReadOutcome read_file(const std::string& path, std::string& out) {
    ReadOutcome r;
    const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        r.error_code = errno;
        return r;
    }
    char buf[16384];
    for (;;) {
        const std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
        out.append(buf, n);
        if (out.size() > kMaxFileBytes) {
            r.too_large = true;
            return r;
        }
        if (n < sizeof buf) break;
    }
    if (std::ferror(file.get())) {
        r.error_code = errno != 0 ? errno : EIO;  // reading a directory fails here: EISDIR
        return r;
    }
    r.ok = true;
    return r;
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
    const ReadOutcome read = read_file(result.path, text);
    if (read.too_large)
        return refuse(result, result.path + ": cannot read: the file is larger than " +
                                  std::to_string(kMaxFileBytes) + " bytes");
    if (!read.ok && missing_is_fine && read.error_code == ENOENT) {
        log(LogLevel::debug, "no MEMSCOPE_CONFIG and no " + result.path +
                                 " in the working directory: budgets unchanged");
        return ConfigResult{};
    }
    if (!read.ok)
        return refuse(result, result.path + ": cannot read: " + errno_text(read.error_code) +
                                  std::string(origin));
    return apply_config_text(budget, text, path);
}

}  // namespace

ConfigResult apply_config_text(MemoryBudget& budget, std::string_view text,
                               std::string_view source_name) {
    ConfigResult result;
    result.path = std::string(source_name);
    detail::JsonError json_error;
    const std::optional<JsonValue> root = detail::read_json(text, &json_error);
    if (!root) {
        Problem p{json_error.position, json_error.path, json_error.message};
        if (json_error.kind == detail::JsonErrorKind::syntax) p.what = "syntax error: " + p.what;
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

ConfigResult load_default_config(MemoryBudget& budget) {
    // An empty MEMSCOPE_CONFIG counts as unset, as shells make `MEMSCOPE_CONFIG= game` easy.
    if (const char* env = std::getenv("MEMSCOPE_CONFIG"); env != nullptr && *env != '\0')
        return load_file(budget, env, " (named by MEMSCOPE_CONFIG)", false);
    return load_file(budget, "memscope.json", "", true);
}

}  // namespace memscope

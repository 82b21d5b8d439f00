// SPDX-License-Identifier: MIT
// The MEMSCOPE_* environment variables: the table and the one reader of them all.

#include "memscope/options.hpp"

#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "memscope/internal.hpp"
#include "memscope/log.hpp"
#include "memscope/units.hpp"

namespace memscope {
namespace {

constexpr std::array kVariables = {
#define MEMSCOPE_X_(member, name, accepts, default_text, effect) \
    EnvironmentVariable{#name, accepts, default_text, effect},
    MEMSCOPE_ENVIRONMENT_VARIABLES(MEMSCOPE_X_)
#undef MEMSCOPE_X_
};

// The value of `name`, or nullopt when unset or empty (shells make `MEMSCOPE_X= game` the
// easy way to unset a variable for one run).
std::optional<std::string> raw(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
}

// The table's phrase for what `name` accepts, so that messages and docs say the same.
std::string_view accepts(std::string_view name) {
    for (const EnvironmentVariable& v : kVariables)
        if (v.name == name) return v.accepts;
    return {};
}

// Reports a bad value of `name`; `shown` is the value as the message may quote it.
void refuse(std::string_view name, std::string_view shown) {
    report_bad_environment_value(name, shown, "expected " + std::string(accepts(name)));
}

std::optional<bool> parse_flag(std::string_view name, const std::string& value) {
    if (value == "1") return true;
    if (value == "0") return false;
    refuse(name, value);
    return std::nullopt;
}

std::optional<int> parse_port(std::string_view name, const std::string& value) {
    int port = -1;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
    if (ec == std::errc() && end == value.data() + value.size() && port >= 0 && port <= 65535)
        return port;
    refuse(name, value);
    return std::nullopt;
}

std::optional<std::string> parse_token(std::string_view name, std::string value) {
    if (is_valid_token(value)) return value;
    refuse(name, {});  // a secret, even a malformed one, is never logged
    return std::nullopt;
}

// Largest token file read: a token is a line, not a document.
constexpr std::size_t kMaxTokenFileBytes = 4096;

// The token in the file at `path`, or nullopt after one warning naming the variable and
// the path (never the file's content). The file must be a regular file that others can
// neither read nor write: a token that every user of the machine can read is no secret.
std::optional<std::string> read_token_file(const std::string& path) {
    constexpr std::string_view name = "MEMSCOPE_TOKEN_FILE";
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        const int error = errno;
        report_bad_environment_value(name, path,
                                     std::string("cannot read it: ") + std::strerror(error));
        return std::nullopt;
    }
    if (!S_ISREG(info.st_mode)) {
        report_bad_environment_value(name, path, "it is not a regular file");
        return std::nullopt;
    }
    if ((info.st_mode & (S_IROTH | S_IWOTH)) != 0) {
        report_bad_environment_value(
            name, path, "other users can read or write it; chmod o-rw, e.g. chmod 600");
        return std::nullopt;
    }
    std::string text;
    const detail::FileRead read = detail::read_small_file(path, kMaxTokenFileBytes, text);
    if (!read.ok) {
        report_bad_environment_value(
            name, path,
            read.too_large ? "it is larger than " + std::to_string(kMaxTokenFileBytes) + " bytes"
                           : std::string("cannot read it: ") + std::strerror(read.error_code));
        return std::nullopt;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                             text.back() == '\t'))
        text.pop_back();
    if (text.empty()) {
        report_bad_environment_value(name, path, "it holds no token");
        return std::nullopt;
    }
    if (!is_valid_token(text)) {
        report_bad_environment_value(name, path, "its token is not printable ASCII without spaces");
        return std::nullopt;
    }
    return text;
}

// "a.example, b.example" -> {"a.example", "b.example"}: spaces around entries dropped.
// Nullopt (and the warning) when an entry is empty or holds a character no host has.
std::optional<std::vector<std::string>> parse_hosts(std::string_view name,
                                                    const std::string& value) {
    std::vector<std::string> out;
    std::string_view rest = value;
    while (true) {
        const auto comma = rest.find(',');
        std::string_view entry = rest.substr(0, comma);
        while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
        while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
        bool ok = !entry.empty();
        for (char c : entry)
            ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                        c == '_' || c == ':' || c == '[' || c == ']' || c == '*');
        if (!ok) {
            refuse(name, value);
            return std::nullopt;
        }
        out.emplace_back(entry);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<std::size_t> parse_record_max_bytes(std::string_view name, const std::string& value) {
    const std::optional<std::uint64_t> bytes = parse_size(value);
    if (bytes && *bytes >= 4096 && *bytes <= SIZE_MAX) return static_cast<std::size_t>(*bytes);
    refuse(name, value);
    return std::nullopt;
}

std::optional<std::size_t> parse_keep(std::string_view name, const std::string& value) {
    std::size_t keep = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), keep);
    if (ec == std::errc() && end == value.data() + value.size() && keep <= 1000) return keep;
    refuse(name, value);
    return std::nullopt;
}

}  // namespace

std::span<const EnvironmentVariable> environment_variables() noexcept {
    return kVariables;
}

bool is_valid_token(std::string_view token) noexcept {
    if (token.empty()) return false;
    for (char c : token)
        if (c <= ' ' || c > '~') return false;
    return true;
}

void report_bad_environment_value(std::string_view name, std::string_view value,
                                  std::string_view why) {
    // Once per variable and value: the variables are read again at every server start and
    // page request, and one line says all there is to say.
    {
        static std::mutex mutex;
        static std::map<std::string, std::string, std::less<>> reported;
        std::lock_guard lock(mutex);
        const auto it = reported.find(name);
        if (it != reported.end() && it->second == value) return;
        reported.insert_or_assign(std::string(name), std::string(value));
    }
    std::string line = "memscope: ";
    line += name;
    // A token is a secret: its value stays out of logs (callers pass it empty).
    if (!value.empty()) {
        line += "=\"";
        for (char c : value.substr(0, 64)) line += (c < ' ' || c == 0x7F) ? '?' : c;
        if (value.size() > 64) line += "...";
        line += '"';
    }
    line += " is not valid (";
    line += why;
    line += "); the default is kept";
    log(LogLevel::warning, line);
}

Environment read_environment() {
    Environment env;
    env.config = raw("MEMSCOPE_CONFIG");
    if (auto v = raw("MEMSCOPE_DISABLE")) env.disable = parse_flag("MEMSCOPE_DISABLE", *v);
    if (auto v = raw("MEMSCOPE_PORT")) env.port = parse_port("MEMSCOPE_PORT", *v);
    env.bind = raw("MEMSCOPE_BIND");
    if (auto v = raw("MEMSCOPE_TOKEN")) env.token = parse_token("MEMSCOPE_TOKEN", std::move(*v));
    if (auto path = raw("MEMSCOPE_TOKEN_FILE")) {
        // The file wins, even when it is bad: a token meant to be replaced is never used.
        if (raw("MEMSCOPE_TOKEN")) {
            static std::atomic<bool> said{false};
            if (!said.exchange(true))
                log(LogLevel::warning,
                    "memscope: MEMSCOPE_TOKEN and MEMSCOPE_TOKEN_FILE are both set; the token of "
                    "MEMSCOPE_TOKEN_FILE is used");
        }
        env.token = read_token_file(*path);
        if (env.token) env.token_file = std::move(*path);
    }
    if (auto v = raw("MEMSCOPE_ALLOWED_HOSTS"))
        env.allowed_hosts = parse_hosts("MEMSCOPE_ALLOWED_HOSTS", *v);
    env.web_root = raw("MEMSCOPE_WEB_ROOT");
    env.record = raw("MEMSCOPE_RECORD");
    if (auto v = raw("MEMSCOPE_RECORD_MAX_BYTES"))
        env.record_max_bytes = parse_record_max_bytes("MEMSCOPE_RECORD_MAX_BYTES", *v);
    if (auto v = raw("MEMSCOPE_RECORD_KEEP"))
        env.record_keep = parse_keep("MEMSCOPE_RECORD_KEEP", *v);
    return env;
}

}  // namespace memscope

// SPDX-License-Identifier: MIT
// The MEMSCOPE_* environment variables: the table and the one reader of them all.

#include "memscope/options.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <map>
#include <mutex>

#include "memscope/log.hpp"

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
    env.web_root = raw("MEMSCOPE_WEB_ROOT");
    return env;
}

}  // namespace memscope

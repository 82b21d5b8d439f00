// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The `MEMSCOPE_*` environment variables: one table, read in one place, with one policy
/// for a bad value. A variable that is unset or empty is absent; a value that is not valid
/// is logged as a warning that names the variable and the value (never a token's value),
/// and is absent too, so the caller keeps its default. docs/configuration.md lists this
/// table, and a test keeps the two in step.
///
///     const memscope::Environment env = memscope::read_environment();
///     if (env.port) options.port = *env.port;  // MEMSCOPE_PORT=abc: logged, 9090 kept

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

/// Every variable: X(member, NAME, accepted values, default, effect). The member is the
/// field of Environment that holds its value.
#define MEMSCOPE_ENVIRONMENT_VARIABLES(X)                                                         \
    X(config, MEMSCOPE_CONFIG, "a file path", "memscope.json",                                    \
      "The budget file that load_default_config() reads; an error if it is missing.")             \
    X(disable, MEMSCOPE_DISABLE, "1 or 0", "0",                                                   \
      "1: Server::start() serves nothing and says so (a shipped build can keep its calls).")      \
    X(port, MEMSCOPE_PORT, "a port number from 0 to 65535 (0: any free port)", "9090",            \
      "The dashboard's TCP port, over ServerOptions::port.")                                      \
    X(bind, MEMSCOPE_BIND, "an IP address: 127.0.0.1, ::1, 0.0.0.0, ...", "127.0.0.1",            \
      "The address the dashboard listens on, over ServerOptions::bind_address.")                  \
    X(token, MEMSCOPE_TOKEN, "printable ASCII without spaces", "none (control endpoints off)",    \
      "The secret of the control endpoints, over ServerOptions::token.")                          \
    X(token_file, MEMSCOPE_TOKEN_FILE,                                                            \
      "a regular file that others cannot read or write, holding the token", "none",               \
      "Reads the token from this file (trailing whitespace dropped), so it shows "                \
      "neither in ps nor in the environment; wins over MEMSCOPE_TOKEN.")                          \
    X(allowed_hosts, MEMSCOPE_ALLOWED_HOSTS, "host names or IP addresses, comma-separated, or *", \
      "none (loopback and the bind address)",                                                     \
      "Host headers the dashboard answers besides its own, over "                                 \
      "ServerOptions::allowed_hosts (* answers any).")                                            \
    X(web_root, MEMSCOPE_WEB_ROOT, "a directory", "none (the embedded page)",                     \
      "Serves the page's files from this directory instead of the copy compiled in "              \
      "(for working on web/static/).")                                                            \
    X(record, MEMSCOPE_RECORD, "a file path", "none (no recording)",                              \
      "Records the session to this NDJSON file, over ServerOptions::recording.path "              \
      "(docs/recordings.md).")                                                                    \
    X(record_max_bytes, MEMSCOPE_RECORD_MAX_BYTES, "a size of at least 4 KiB: 64 MiB, 1048576",   \
      "64 MiB", "A recording file is rotated before it grows past this size.")                    \
    X(record_keep, MEMSCOPE_RECORD_KEEP, "a number of files from 0 to 1000", "3",                 \
      "Rotated recording files kept beside the current one (path.1 is the newest).")

/// One row of the table, as docs/configuration.md shows it.
struct EnvironmentVariable {
    std::string_view name;          ///< "MEMSCOPE_PORT"
    std::string_view accepts;       ///< the values it accepts
    std::string_view default_text;  ///< what applies when it is unset
    std::string_view effect;        ///< one sentence
};

/// The table, in the order above.
[[nodiscard]] std::span<const EnvironmentVariable> environment_variables() noexcept;

/// The values of the variables, as read by read_environment(): nullopt when unset, empty
/// or not valid.
struct Environment {
    std::optional<std::string> config;  ///< MEMSCOPE_CONFIG
    std::optional<bool> disable;        ///< MEMSCOPE_DISABLE
    std::optional<int> port;            ///< MEMSCOPE_PORT
    std::optional<std::string> bind;    ///< MEMSCOPE_BIND (its address is checked by the server)
    std::optional<std::string> token;   ///< MEMSCOPE_TOKEN_FILE's token, else MEMSCOPE_TOKEN
    std::optional<std::string> token_file;  ///< MEMSCOPE_TOKEN_FILE (the path, when read)
    std::optional<std::vector<std::string>> allowed_hosts;  ///< MEMSCOPE_ALLOWED_HOSTS, split
    std::optional<std::string> web_root;                    ///< MEMSCOPE_WEB_ROOT
    std::optional<std::string> record;                      ///< MEMSCOPE_RECORD
    std::optional<std::size_t> record_max_bytes;            ///< MEMSCOPE_RECORD_MAX_BYTES
    std::optional<std::size_t> record_keep;                 ///< MEMSCOPE_RECORD_KEEP
};

/// Reads every variable now (each call reads them again). Logs a warning per bad value:
/// `memscope: MEMSCOPE_PORT="abc" is not valid (expected a port number from 0 to 65535);
/// the default is kept`. Safe on any thread, except against a concurrent setenv().
[[nodiscard]] Environment read_environment();

/// The same warning, for a value that passed read_environment() but that a later check
/// refused (the server's check of MEMSCOPE_BIND's address). `why` is a short phrase.
void report_bad_environment_value(std::string_view name, std::string_view value,
                                  std::string_view why);

/// True for a control token memscope accepts: printable ASCII, no spaces, not empty.
[[nodiscard]] bool is_valid_token(std::string_view token) noexcept;

}  // namespace memscope

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Budgets, total budget and threshold from a JSON file (docs/configuration.md lists every
/// key). A file with any error is refused whole: the budgets in force stay as they were.
///
///     auto result = memscope::load_config(budget, "memscope.json");
///     if (!result) std::fprintf(stderr, "%s\n", result.error.c_str());
///
/// A running game can also follow the file as it is edited, with a ConfigWatcher.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace memscope {

class MemoryBudget;

/// What load_config() did.
struct ConfigResult {
    bool loaded = false;  ///< the file was read and applied
    std::string path;     ///< the file it used (empty if none was found)
    /// Empty on success; otherwise one line, `<file>:<line>:<column>: <key path>: <problem>`
    /// (the line and column of the offending value or key), e.g.
    /// `memscope.json:4:17: budgets.Chunks: size "12 XB": unknown unit "XB"`, or
    /// `<file>: cannot read: <reason>` when the file could not be read.
    std::string error;
    /// True when loaded.
    explicit operator bool() const noexcept { return loaded; }
};

/// Reads the JSON file at `path` and applies it to `budget` atomically: every key is
/// checked first, and only a file with no error changes anything (one
/// MemoryBudget::apply() call). Logs one info line on success, the error on failure.
/// Files over 1 MiB are refused.
ConfigResult load_config(MemoryBudget& budget, std::string_view path);

/// Finds the configuration the way a game would want by default: the file named by the
/// `MEMSCOPE_CONFIG` environment variable (an error if it cannot be read; an empty value
/// counts as unset), else `memscope.json` in the working directory if it exists (not
/// finding one is not an error: loaded is false, error and path empty).
ConfigResult load_default_config(MemoryBudget& budget);

/// Parses and applies JSON text (`source_name` is used in messages): load_config() without
/// the file, for tests and fuzzing. Never throws except std::bad_alloc, whatever the text.
ConfigResult apply_config_text(MemoryBudget& budget, std::string_view text,
                               std::string_view source_name);

/// The file load_default_config() reads: `MEMSCOPE_CONFIG` if set and not empty, else
/// `memscope.json` (in the working directory).
[[nodiscard]] std::string default_config_path();

/// What a ConfigWatcher check found. Every state change is logged once, at the change.
enum class ConfigChange : std::uint8_t {
    none,     ///< nothing new, not checked (the interval has not passed), or a change seen once
    applied,  ///< the file is new or changed, and was applied (an info line is logged)
    refused,  ///< the file changed but is invalid or unreadable: budgets untouched, error logged
    missing,  ///< the file is gone (warning logged) or not there yet (info): budgets untouched
};

/// "none", "applied", "refused", "missing".
[[nodiscard]] std::string_view to_string(ConfigChange change) noexcept;

/// Reloads a configuration file while the game runs, when the file changes.
///
///     memscope::ConfigWatcher config(budget, "memscope.json");
///     while (running) {
///         config.poll();   // a clock read; the file is looked at twice a second at most
///         ...
///     }
///
/// The first check loads the file as it is. Later checks compare its modification time,
/// size and inode, and reload it when any changed and its content differs from the last
/// text read; a change is acted on at the second check that sees it, so that a save caught
/// half-way is not taken for a broken or deleted file. A valid file is applied like
/// load_config(); an invalid one is refused whole (the budgets stay as they were) with one
/// error logged for that content, not one per check; a file that disappears is logged once
/// and the budgets stay. A later valid file applies. Thread-safe: any thread may poll, and
/// concurrent polls check the file once. docs/configuration.md has the details.
class ConfigWatcher {
  public:
    /// Watches `path` for `budget` (which must outlive the watcher), looking at the file
    /// at most once per `check_interval`. Does not read the file: the first poll() does.
    ConfigWatcher(MemoryBudget& budget, std::string path,
                  std::chrono::milliseconds check_interval = std::chrono::milliseconds(500));
    ~ConfigWatcher();
    ConfigWatcher(const ConfigWatcher&) = delete;
    ConfigWatcher& operator=(const ConfigWatcher&) = delete;

    /// Checks the file if the interval has passed since the last check (else returns
    /// `none` after one clock read); call it every frame.
    ConfigChange poll();

    /// Checks the file now, whatever the interval.
    ConfigChange check_now();

    /// The watched path.
    [[nodiscard]] const std::string& path() const noexcept;

    /// The outcome of the last load attempt (`loaded` false and `error` empty before any,
    /// and while the file is missing `error` says why).
    [[nodiscard]] ConfigResult last_result() const;

    /// How many times a file was applied.
    [[nodiscard]] std::uint64_t applied_count() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace memscope

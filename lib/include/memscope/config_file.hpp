#pragma once
/// \file
/// Budgets, total budget and threshold from a JSON file (docs/configuration.md lists every
/// key). A file with any error is refused whole: the budgets in force stay as they were.
///
///     auto result = memscope::load_config(budget, "memscope.json");
///     if (!result) std::fprintf(stderr, "%s\n", result.error.c_str());

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

}  // namespace memscope

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
    bool loaded = false;   ///< the file was read and applied
    std::string path;      ///< the file it used (empty if none was found)
    /// Empty on success; otherwise one line naming the file, the key and the problem,
    /// with line and column for syntax errors, e.g.
    /// `memscope.json:4:17: budgets.Chunks: size "12 XB" has an unknown unit "XB"`.
    std::string error;
    /// True when loaded.
    explicit operator bool() const noexcept { return loaded; }
};

/// Reads the JSON file at `path` and applies it to `budget` atomically: every key is
/// checked first, and only a file with no error changes anything.
ConfigResult load_config(MemoryBudget& budget, std::string_view path);

/// Finds the configuration the way a game would want by default: the file named by the
/// `MEMSCOPE_CONFIG` environment variable, else `memscope.json` in the working directory
/// if it exists (not finding one is not an error: loaded is false, error empty).
ConfigResult load_default_config(MemoryBudget& budget);

/// Parses and applies JSON text (`source_name` is used in messages): load_config() without
/// the file, for tests and fuzzing.
ConfigResult apply_config_text(MemoryBudget& budget, std::string_view text,
                               std::string_view source_name);

}  // namespace memscope

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The voxel demo's command line.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace voxel {

/// Everything the command line can say.
struct DemoOptions {
    std::optional<std::uint64_t> frames;   ///< --frames N / --seconds S (as frames)
    bool pacing = true;                    ///< false with --no-pacing
    std::optional<double> linger_seconds;  ///< --linger S (0: until a signal)
    std::optional<int> port;               ///< --port P
    std::optional<std::string> bind;       ///< --bind ADDR
    std::optional<std::string> token;      ///< --token T
    std::string config_path;               ///< --config FILE
    std::string verdict_path;              ///< --verdict FILE ('-': stdout)
    std::string junit_path;                ///< --junit FILE: the verdict as JUnit XML
    std::string baseline_path;             ///< --baseline FILE: an earlier run's verdict
    double baseline_tolerance = 0.05;      ///< --baseline-tolerance F
    double budget_scale = 1.0;             ///< --scale-budgets F
    bool leak = false;                     ///< --leak
    bool churn = false;                    ///< --churn
    bool fail_on_leak = false;             ///< --fail-on-leak
    bool help = false;                     ///< --help

    /// The run ends with a verdict (its report written, the exit status following it).
    [[nodiscard]] bool judged() const {
        return !verdict_path.empty() || !junit_path.empty() || !baseline_path.empty();
    }
};

/// parse_options()' answer: the options, or why the command line is wrong.
struct ParsedOptions {
    DemoOptions options;
    std::string error;  ///< empty when the command line is valid
};

/// Parses `args` (without the program name). Accepts `--name value` and `--name=value`.
[[nodiscard]] ParsedOptions parse_options(const std::vector<std::string>& args);

/// The --help text.
[[nodiscard]] std::string usage_text(const std::string& program);

}  // namespace voxel

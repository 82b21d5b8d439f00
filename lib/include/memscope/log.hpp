// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Where memscope's messages go: one sink for the whole process, replaceable with one call
/// so that budget warnings land in the game's own logger.

#include <cstdint>
#include <functional>
#include <string_view>

namespace memscope {

/// Severity of a message, in increasing order.
enum class LogLevel : std::uint8_t {
    debug,    ///< detail for memscope's own diagnostics
    info,     ///< periodic statistics, recoveries, peak summaries
    warning,  ///< a subsystem crossed its warning threshold, a suspected leak
    error,    ///< a subsystem went over its budget; memscope could not do what was asked
};

/// Lower-case name of a level: "debug", "info", "warning", "error".
[[nodiscard]] std::string_view to_string(LogLevel level) noexcept;

/// Receives every message memscope logs. Called on the thread that caused the message
/// (the game thread for budget events, the server thread for its own), never while
/// memscope holds a lock; it must be thread-safe if several threads report.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

/// Replaces the sink. An empty function restores the default, which writes
/// `[memscope] warning: <message>` lines to stderr. Example, into spdlog:
///
///     memscope::set_log_sink([](memscope::LogLevel level, std::string_view msg) {
///         spdlog::log(level == memscope::LogLevel::error ? spdlog::level::err
///                                                         : spdlog::level::warn, msg);
///     });
void set_log_sink(LogSink sink);

/// Messages below this level are dropped before they reach the sink (default: info).
void set_log_level(LogLevel minimum) noexcept;

/// The current minimum level.
[[nodiscard]] LogLevel log_level() noexcept;

/// Sends one message to the sink (if `level` is at least log_level()).
void log(LogLevel level, std::string_view message);

/// Logs the periodic statistics line every `every_frames` frames (when
/// `frame % every_frames == 0`): `Frame 300: Memory 512.3MB (peak 600.1MB), Allocs: 1234 net`.
/// Returns true when it logged. Call it once per frame; it costs a modulo otherwise.
bool log_periodic_stats(std::uint64_t frame, std::uint64_t every_frames = 300);

}  // namespace memscope

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Recorder: appends every history sample, budget event and mark to a file as the game
/// runs, so that a session outlives the 10-minute History ring (docs/recordings.md).
///
/// The file is NDJSON, one JSON object per line, bounded in size and rotated:
///
///     memscope::Recorder recorder(budget, sampler, {.path = "session.ndjson"});
///     if (!recorder.start()) std::fprintf(stderr, "%s\n", recorder.error().c_str());
///     ... recorder.mark("level2-loaded", frame);   // any thread
///
/// Its own thread (`ms-record`) writes what is new at least once a second, with write(2):
/// a crash of the game loses at most the last second. A write error (disk full, a path
/// that cannot be written) logs one error and ends the recording; the game goes on.
/// The dashboard Server records by itself when ServerOptions::recording.path (or
/// `MEMSCOPE_RECORD`) names a file.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace memscope {

class MemoryBudget;
class Sampler;

/// The format name in every recording's header line.
inline constexpr std::string_view kRecordingFormat = "memscope-recording";
/// The version of the line format in the header line.
inline constexpr int kRecordingVersion = 1;

/// Settings of a Recorder.
struct RecordingOptions {
    std::string path;  ///< the file; empty: no recording
    /// A file is rotated before a line would take it past this size (at least 4 KiB).
    std::size_t max_bytes = std::size_t{64} << 20;
    /// Rotated files kept: `path.1` (the newest) to `path.<keep>`; 0 keeps none.
    std::size_t keep = 3;
    /// How often the thread writes what is new; at most 1 s (the crash bound), at least 1 ms.
    std::chrono::milliseconds flush_interval{1000};
};

/// What a Recorder has done so far.
struct RecordingStats {
    std::uint64_t lines = 0;      ///< lines written, headers included
    std::uint64_t bytes = 0;      ///< bytes written to all files
    std::uint64_t writes = 0;     ///< write rounds that reached the file (one per flush)
    std::uint64_t rotations = 0;  ///< files rotated
};

/// Records a Sampler's history, a MemoryBudget's events and marks to a file.
/// Thread-safe: start(), stop(), mark() and flush_now() may be called from any thread.
class Recorder {
  public:
    /// A stopped recorder; `budget` and `sampler` must outlive it.
    Recorder(const MemoryBudget& budget, const Sampler& sampler, RecordingOptions options);
    /// Stops (writes what is new, then closes the file).
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    /// Opens the file (an existing one is rotated to `path.1` first, so a previous run is
    /// kept), writes the header and starts the thread. False, with error() set and logged,
    /// when the file cannot be opened; true if already recording.
    bool start();
    /// Writes what is new, stops the thread and closes the file. No-op when stopped.
    void stop();
    /// True between a successful start() and stop(), unless a write failed.
    [[nodiscard]] bool recording() const;

    /// Records a mark named `name` now (the dashboard's marks arrive here). Queued: the
    /// recorder's thread writes it within a flush interval. Ignored while not recording.
    void mark(std::string_view name, std::optional<std::uint64_t> frame = std::nullopt);

    /// Writes what is new now instead of at the next interval (tests, a clean shutdown).
    void flush_now();

    /// Why the recording did not start or stopped; empty while all is well.
    [[nodiscard]] std::string error() const;
    /// Counts of what was written.
    [[nodiscard]] RecordingStats stats() const;
    /// The options in force (max_bytes, flush_interval clamped).
    [[nodiscard]] const RecordingOptions& options() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace memscope

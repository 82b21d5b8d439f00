// SPDX-License-Identifier: MIT
#pragma once
// Conversions of a recording (memscope/recording.hpp, docs/recordings.md) to CSV, one
// column per subsystem, and to the Chrome trace event format that Perfetto's UI and
// chrome://tracing open. The memscope-recording tool is a thin command line over these.

#include <string>
#include <vector>

namespace memscope::tools {

/// One file of a recording: its name (for messages) and its whole text.
struct RecordingFile {
    std::string name;  ///< as given on the command line
    std::string text;  ///< NDJSON lines
};

/// What a conversion produced.
struct Conversion {
    std::string output;  ///< the CSV text or the trace's JSON document
    /// `file:line: problem` per line skipped. A malformed line is skipped and the rest
    /// converted; `errors` is what makes the tool exit with status 1.
    std::vector<std::string> errors;
    /// The same for a last line cut short (no line break: the game stopped mid-write),
    /// which is expected after a crash and is not an error.
    std::vector<std::string> warnings;
    std::size_t samples = 0;  ///< sample lines converted
};

/// CSV (RFC 4180): a header row, then one row per sample of the files, in the order
/// given: `unix_ms,seconds,tracked_bytes,reported_bytes,resident_bytes,committed_bytes`,
/// then one column per subsystem (every subsystem of the files, in first-seen order;
/// empty where a sample has none). `seconds` counts from the first sample.
[[nodiscard]] Conversion recording_to_csv(const std::vector<RecordingFile>& files);

/// The Chrome trace event format (JSON object form): process_name metadata per recorded
/// process, a counter event ("ph":"C") per subsystem and per total at each sample, and an
/// instant event ("ph":"i") per mark and per budget event. Timestamps in microseconds
/// since the Unix epoch.
[[nodiscard]] Conversion recording_to_chrome_trace(const std::vector<RecordingFile>& files);

}  // namespace memscope::tools

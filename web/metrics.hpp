// SPDX-License-Identifier: MIT
#pragma once
// GET /metrics: the Prometheus text exposition format, version 0.0.4.

#include <string>

#include "figures.hpp"

namespace memscope::web {

/// Every figure of `f` as Prometheus metrics: one `# HELP` and `# TYPE` per family, the
/// per-subsystem families labelled `subsystem="<name>"`. Names, types and help texts come
/// from the X-macro lists; see docs/api.md for the full list.
[[nodiscard]] std::string metrics_text(const Figures& f);

/// Seconds since the Unix epoch when this process started (process_start_time_seconds):
/// the kernel's figure, from /proc/self/stat's starttime and /proc/stat's boot time, read
/// once; the clock at static initialisation of the library when /proc cannot be read.
[[nodiscard]] double process_start_time_seconds();

/// Appends `value` escaped for a label value (backslash, double quote and newline).
void append_label_value(std::string& out, std::string_view value);

}  // namespace memscope::web

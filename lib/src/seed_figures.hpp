// SPDX-License-Identifier: MIT
#pragma once
// The byte figures of the seeds' fixed log lines, which are part of the contract and keep
// the seeds' digits: "Subsystem 'Chunks' at 87% of memory budget (890 MB / 1024 MB)" and
// "Frame 600: Memory 12.5MB (peak 14.0MB), Allocs: 1024 net". Every other figure memscope
// prints is format_memory()'s. Both are defined in format.cpp, beside it.

#include <cstddef>
#include <string>

namespace memscope::detail {

/// "890 MB": whole mebibytes when `scale_bytes` (the budget the figure is read against)
/// is 10 MiB or more, as the seed's message; one decimal from 1 MiB; whole KB from 10 KiB;
/// bytes below, where whole megabytes would read "0 MB / 1 MB".
[[nodiscard]] std::string format_budget_figure(std::size_t bytes, std::size_t scale_bytes);

/// "12.5MB": mebibytes with one decimal and no space, as the seed's frame statistics line.
[[nodiscard]] std::string format_frame_figure(std::size_t bytes);

}  // namespace memscope::detail

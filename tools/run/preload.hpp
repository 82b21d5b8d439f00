// SPDX-License-Identifier: MIT
#pragma once
// The one call between libmemscope_preload.so's constructor and the rest of it.

/// Reads memscope-run's variables and, in the process that should serve, starts the
/// session (budget, heap row, dashboard) and registers the exit handler that writes the
/// report. Must run after every static initializer of the library: see preload_start.cpp.
[[gnu::visibility("hidden")]] void memscope_run_start();

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// memscope: see and control where a game's memory goes.
///
/// Including this header gives the whole public API:
/// - the tracked global allocator (allocator.hpp): `allocation_stats()`, `process_memory()`;
/// - per-subsystem budgets, warnings and pressure callbacks (budget.hpp): `MemoryBudget`;
/// - samples at an interval, leak suspicion (sampler.hpp): `Sampler`;
/// - the ring of samples, trends and the leak test (history.hpp): `History`;
/// - the budget configuration file (config_file.hpp): `load_config()`, `ConfigWatcher`;
/// - the `MEMSCOPE_*` environment variables (options.hpp): `environment()`;
/// - logging (log.hpp), byte figures (format.hpp) and sizes from text (units.hpp);
/// - JSON in and out (json.hpp): `read_json()`, `JsonWriter`;
/// - the build's options (build_config.hpp);
/// - the optional dashboard (server.hpp, from the dashboard layer): `Server`.
///
/// Linking `memscope::memscope` is enough to route every global `operator new` and
/// `operator delete` of the program through mimalloc and count it; no call is needed.

#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"
#include "memscope/build_config.hpp"
#include "memscope/config_file.hpp"
#include "memscope/format.hpp"
#include "memscope/frame_times.hpp"
#include "memscope/history.hpp"
#include "memscope/json.hpp"
#include "memscope/log.hpp"
#include "memscope/options.hpp"
#include "memscope/recording.hpp"
#include "memscope/sampler.hpp"
#include "memscope/scope.hpp"
#include "memscope/server.hpp"
#include "memscope/units.hpp"
#include "memscope/verdict.hpp"

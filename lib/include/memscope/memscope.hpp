#pragma once
/// \file
/// memscope: see and control where a game's memory goes.
///
/// Including this header gives the whole public API:
/// - the tracked global allocator (allocator.hpp): `allocation_stats()`, `process_memory()`;
/// - per-subsystem budgets, warnings and pressure callbacks (budget.hpp): `MemoryBudget`;
/// - history, trends and leak suspicion (history.hpp): `Sampler`, `History`;
/// - the budget configuration file (config_file.hpp): `load_config()`, `ConfigWatcher`;
/// - logging (log.hpp) and byte-size formatting (format.hpp);
/// - JSON in and out (json.hpp): `read_json()`, `JsonWriter`;
/// - the optional dashboard server (server.hpp): `Server`.
///
/// Linking `memscope::memscope` is enough to route every global `operator new` and
/// `operator delete` of the program through mimalloc and count it; no call is needed.

#include "memscope/allocator.hpp"
#include "memscope/budget.hpp"
#include "memscope/config.hpp"
#include "memscope/config_file.hpp"
#include "memscope/format.hpp"
#include "memscope/history.hpp"
#include "memscope/json.hpp"
#include "memscope/log.hpp"
#include "memscope/server.hpp"

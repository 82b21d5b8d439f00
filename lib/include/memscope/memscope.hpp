#pragma once
/// \file
/// memscope: see and control where a game's memory goes.
///
/// Including this header gives the whole public API:
/// - the tracked global allocator (allocator.hpp): `allocation_stats()`, `process_memory()`;
///
/// Linking `memscope::memscope` is enough to route every global `operator new` and
/// `operator delete` of the program through mimalloc and count it; no call is needed.

#include "memscope/allocator.hpp"
#include "memscope/config.hpp"

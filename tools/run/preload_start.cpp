// SPDX-License-Identifier: MIT
// libmemscope_preload.so's constructor, in an object of its own that CMakeLists.txt puts
// last on the link line. A library's constructors and static initializers run in link
// order, so this runs after memscope's own (the log sink, the server's tables), which the
// session uses; and the exit handler it registers comes after their destructors' and so
// runs before them.

#include "preload.hpp"

// Named by the link option that pulls this object into the library.
extern "C" [[gnu::used, gnu::visibility("hidden")]] const int memscope_preload_start = 1;

namespace {
[[gnu::constructor]] void start_when_loaded() {
    memscope_run_start();
}
}  // namespace

#pragma once
// The dashboard page and its assets (GET / and GET /static/...): one function, so that
// the page can be built in, or read from disk during development, without touching the
// router.

#include <string_view>

#include "router.hpp"

namespace memscope::web {

/// The response for a page or asset path: "/" or "/static/<file>" (already decoded).
[[nodiscard]] Response serve_static(std::string_view path);

}  // namespace memscope::web

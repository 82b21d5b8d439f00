// SPDX-License-Identifier: MIT
#pragma once
// The dashboard page and its assets (GET / and GET /static/...): one function, so that
// the page can be built in, or read from disk during development, without touching the
// router.
//
// Only the files of the embedded table (assets.hpp) exist for it: a path is looked up by
// name in that table, never joined to a directory, so no request can reach another file.
// With MEMSCOPE_WEB_ROOT set (page development), a file of that table is read from that
// directory instead when it is there, so an edit shows on reload without a rebuild.

#include <string_view>

#include "router.hpp"

namespace memscope::web {

/// The response for a page or asset path: "/" or "/static/<file>" (already decoded).
/// Embedded files carry `Cache-Control: no-cache` and an ETag; a matching If-None-Match
/// in `request` gets 304. Reads MEMSCOPE_WEB_ROOT.
[[nodiscard]] Response serve_static(std::string_view path, const Request& request);

/// serve_static() with the development directory given (empty: embedded files only).
[[nodiscard]] Response serve_static_from(std::string_view path, const Request& request,
                                         std::string_view web_root);

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
#pragma once
// The files of the dashboard page compiled into the library: web/static/ and Chart.js,
// turned into byte arrays at build time by web/embed_assets.cmake (the generated source
// is build/.../web/generated/web_assets.cpp, never committed).

#include <cstddef>
#include <span>
#include <string_view>

namespace memscope::web {

/// One embedded file.
struct EmbeddedAsset {
    std::string_view name;       ///< file name, served at /static/<name>: "app.js"
    std::string_view mime_type;  ///< Content-Type: "text/javascript; charset=utf-8"
    const unsigned char* data;   ///< the file's bytes
    std::size_t size;            ///< how many
    std::string_view etag;       ///< quoted hash of the content, made at build time: "\"3f2a...\""
};

/// The table of every embedded file (index.html among them).
[[nodiscard]] std::span<const EmbeddedAsset> embedded_assets() noexcept;

}  // namespace memscope::web

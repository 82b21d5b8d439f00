// SPDX-License-Identifier: MIT
// The page's files from the table compiled in by web/assets.cmake, or from
// MEMSCOPE_WEB_ROOT while developing the page.
//
// Cache policy: `Cache-Control: no-cache` with an ETag made from the content at build
// time. The page lives inside the game binary, so a rebuilt game can serve a different
// app.js at the same URL: the browser must ask every time (a max-age could run a stale
// script against a newer API), and asking costs one 304 on loopback. Files read from
// MEMSCOPE_WEB_ROOT are `no-store`: they change under the developer's hands.

#include "static_files.hpp"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include "assets.hpp"
#include "memscope/internal.hpp"
#include "memscope/log.hpp"
#include "memscope/options.hpp"

namespace memscope::web {
namespace {

// Larger files under MEMSCOPE_WEB_ROOT are refused rather than read into memory.
constexpr std::size_t kMaxDiskFileBytes = 16 << 20;

const EmbeddedAsset* find_asset(std::string_view name) {
    for (const EmbeddedAsset& asset : embedded_assets())
        if (asset.name == name) return &asset;
    return nullptr;
}

// True when the If-None-Match list ("a", W/"b", or *) names `etag`.
bool etag_matches(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item.starts_with("W/")) item.remove_prefix(2);
        if (item == "*" || item == etag) return true;
    }
    return false;
}

void note_web_root(std::string_view root) {
    static std::once_flag once;
    std::call_once(once, [root] {
        log(LogLevel::info, "memscope dashboard: serving the page's files from MEMSCOPE_WEB_ROOT=" +
                                std::string(root) + " where present (page development)");
    });
}

}  // namespace

Response serve_static_from(std::string_view path, const Request& request,
                           std::string_view web_root) {
    std::string_view name;
    if (path == "/")
        name = "index.html";
    else if (path.starts_with("/static/"))
        name = path.substr(8);
    const EmbeddedAsset* asset = name.empty() ? nullptr : find_asset(name);
    if (asset == nullptr) return error_response(404, "no such file");

    Response response;
    response.content_type = std::string(asset->mime_type);
    if (!web_root.empty()) {
        // `name` is a name of the table, never the request's text: nothing else is readable.
        std::string body;
        if (detail::read_small_file(std::string(web_root) + "/" + std::string(asset->name),
                                    kMaxDiskFileBytes, body)
                .ok) {
            note_web_root(web_root);
            response.body = std::move(body);
            response.set_header("Cache-Control", "no-store");
            return response;
        }
    }
    response.set_header("Cache-Control", "no-cache");
    response.set_header("ETag", std::string(asset->etag));
    if (const auto tags = request.header("If-None-Match");
        tags && etag_matches(*tags, asset->etag)) {
        response.status = 304;
        return response;
    }
    response.body.assign(reinterpret_cast<const char*>(asset->data), asset->size);
    return response;
}

Response serve_static(std::string_view path, const Request& request) {
    const std::optional<std::string> root = read_environment().web_root;
    return serve_static_from(path, request, root ? *root : std::string_view());
}

}  // namespace memscope::web

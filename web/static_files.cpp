// Placeholder until the page is built in (issue 5): every page path answers 404 JSON.

#include "static_files.hpp"

namespace memscope::web {

Response serve_static(std::string_view /*path*/) {
    return error_response(404, "the dashboard page is not built yet");
}

}  // namespace memscope::web

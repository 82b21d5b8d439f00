// SPDX-License-Identifier: MIT
// The dashboard server's API in a build with MEMSCOPE_WITH_SERVER=OFF: every call
// compiles and links, and does nothing but say that the server is not built in. This keeps
// `#ifdef`s out of games that ship a headless build.

#include "memscope/server.hpp"

namespace memscope {

struct Server::Impl {
    ServerOptions options;
};

Server::Server(MemoryBudget&, ServerOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
}
Server::~Server() = default;

StartResult Server::start() {
    StartResult r;
    r.disabled = true;
    r.error = "memscope was built without the dashboard server (MEMSCOPE_WITH_SERVER=OFF)";
    return r;
}

void Server::stop() {}
bool Server::running() const {
    return false;
}
int Server::port() const {
    return 0;
}
const ServerOptions& Server::options() const {
    return impl_->options;
}
void Server::set_verdict_provider(VerdictProvider) {}
bool Server::mark(std::string_view, std::optional<std::uint64_t>) {
    return false;
}

bool server_available() noexcept {
    return false;
}

}  // namespace memscope

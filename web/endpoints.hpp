// SPDX-License-Identifier: MIT
#pragma once
// The dashboard's HTTP API without the HTTP: every route of docs/api.md, wired to one
// MemoryBudget and one Sampler. Server (server.cpp) feeds it requests from cpp-httplib;
// tests, benchmarks and the fuzzer call handle() directly.
//
//     memscope::web::Api api(budget, sampler, {});
//     auto r = api.handle(memscope::web::Request::from_target("GET", "/api/v1/snapshot"));

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "hosts.hpp"
#include "marks.hpp"
#include "memscope/server.hpp"
#include "router.hpp"
#include "stream.hpp"

namespace memscope::web {

/// Settings of an Api (the part of ServerOptions that concerns requests).
struct ApiOptions {
    std::string token;  ///< empty: control endpoints answer 403
    std::size_t max_body_bytes = ServerOptions{}.max_body_bytes;  ///< larger bodies get 413
    std::size_t max_stream_clients = 4;  ///< live streams open at once; more get 503
    HostPolicy hosts;                    ///< the Host values answered; others get 421
    Recorder* recorder = nullptr;        ///< receives every mark, when the session is recorded
};

/// The route table and the state behind it (marks, stream clients, verdict provider).
class Api {
  public:
    /// `budget` and `sampler` must outlive the Api.
    Api(MemoryBudget& budget, const Sampler& sampler, ApiOptions options);
    Api(const Api&) = delete;
    Api& operator=(const Api&) = delete;

    /// Answers one request (never throws).
    [[nodiscard]] Response handle(const Request& request) const { return router_.handle(request); }
    /// The routes, for the documentation test.
    [[nodiscard]] const Router& router() const { return router_; }

    /// Serves GET /api/v1/verdict from `provider` (empty: 404 again).
    void set_verdict_provider(VerdictProvider provider);
    /// Ends every live stream within kStreamPoll and refuses new ones (Server::stop()).
    void stop_streams();
    /// Live streams open now.
    [[nodiscard]] std::size_t stream_clients() const { return hub_->clients.load(); }
    /// Adds a mark of the figures now, as POST /api/v1/marks does; `name` must pass
    /// name_problem(). Returns the mark (its id, time and figures).
    Mark add_mark(std::string name, std::optional<std::uint64_t> frame);

  private:
    void add_routes();

    MemoryBudget& budget_;
    const Sampler& sampler_;
    ApiOptions options_;
    Router router_;
    // Shared with the streams, which may outlive the Api by a poll interval.
    std::shared_ptr<MarkList> marks_ = std::make_shared<MarkList>();
    std::shared_ptr<StreamHub> hub_ = std::make_shared<StreamHub>();
    mutable std::mutex verdict_mutex_;
    std::shared_ptr<const VerdictProvider> verdict_;  // copied out under the mutex, called outside
};

}  // namespace memscope::web

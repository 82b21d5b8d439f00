// SPDX-License-Identifier: MIT
#pragma once
// GET /api/v1/stream: Server-Sent Events. A client first receives a full snapshot (with
// the kept events), then `event: snapshot` after every new sample and `event: budget_event`
// for every event the moment it fires, and `event: end` when the server stops.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include "router.hpp"

namespace memscope {
class MemoryBudget;
class Sampler;
}  // namespace memscope

namespace memscope::web {

class MarkList;

/// What every stream of one server shares: the client count and the stop flag.
struct StreamHub {
    std::atomic<std::size_t> clients{0};    ///< streams open now
    std::atomic<bool> stopping{false};      ///< set by Server::stop(): streams end at once
    std::size_t max_clients = 1;            ///< beyond this, open_stream() refuses
    std::shared_ptr<const MarkList> marks;  ///< the server's marks, for last_mark_id
};

/// How long a stream waits for an event before it checks for a sample or a stop: the
/// bound on how late a snapshot is sent and how long stop() waits for a stream.
inline constexpr std::chrono::milliseconds kStreamPoll{100};

/// A new stream, or nullptr when the hub already has max_clients streams (the caller
/// answers 503). `budget` and `sampler` must outlive the stream.
[[nodiscard]] std::shared_ptr<EventSource> open_stream(const MemoryBudget& budget,
                                                       const Sampler& sampler,
                                                       std::shared_ptr<StreamHub> hub);

}  // namespace memscope::web

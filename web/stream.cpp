// SPDX-License-Identifier: MIT
// The live stream. Each next() call blocks at most kStreamPoll in
// MemoryBudget::wait_for_event(), so an event reaches the client within a few
// milliseconds of firing, and a stop is noticed within kStreamPoll.

#include "stream.hpp"

#include <chrono>
#include <string>
#include <vector>

#include "figures.hpp"
#include "json_api.hpp"
#include "marks.hpp"
#include "memscope/budget.hpp"
#include "memscope/sampler.hpp"

namespace memscope::web {
namespace {

using Clock = std::chrono::steady_clock;

// A comment line this often keeps proxies from closing an idle stream and lets the
// server notice a client that went away.
constexpr std::chrono::seconds kHeartbeat{15};

class SnapshotStream final : public EventSource {
  public:
    SnapshotStream(const MemoryBudget& budget, const Sampler& sampler,
                   std::shared_ptr<StreamHub> hub)
        : budget_(budget), sampler_(sampler), hub_(std::move(hub)) {}

    ~SnapshotStream() override { hub_->clients.fetch_sub(1); }

    bool next(std::string& out) override {
        if (!started_) {
            started_ = true;
            out += "retry: 2000\n\n";  // how soon a browser reconnects after a drop
            const std::vector<BudgetEvent> events = budget_.events(0);
            last_event_ = events.empty() ? 0 : events.back().sequence;
            last_sample_ = latest_sample();
            send_snapshot(out, &events);
            return true;
        }
        if (hub_->stopping.load()) return end(out);

        const std::uint64_t newest = budget_.wait_for_event(last_event_, kStreamPoll);
        if (newest > last_event_) {
            for (const BudgetEvent& e : budget_.events(last_event_)) {
                std::string data;
                JsonWriter w(data);
                write_event(w, e);
                last_event_ = e.sequence;
                send(out, "budget_event", data);
            }
        }
        if (const std::uint64_t sample = latest_sample(); sample > last_sample_) {
            last_sample_ = sample;
            send_snapshot(out, nullptr);
        }
        if (out.empty() && Clock::now() - last_sent_ > kHeartbeat) {
            out += ": keep-alive\n\n";
            last_sent_ = Clock::now();
        }
        if (hub_->stopping.load()) return end(out);
        return true;
    }

    void stopped(std::string& out) override { end(out); }

  private:
    std::uint64_t latest_sample() const {
        const auto latest = sampler_.history().latest();
        return latest ? latest->sequence : 0;
    }

    void send_snapshot(std::string& out, const std::vector<BudgetEvent>* events) {
        Figures f = read_figures(budget_, &sampler_.history());
        if (hub_->marks != nullptr) f.last_mark_id = hub_->marks->last_id();
        send(out, "snapshot", snapshot_document(sampler_, f, events));
    }

    // One SSE message. The JSON has no newline (strings escape it), so one data line.
    void send(std::string& out, std::string_view event, std::string_view data) {
        out += "event: ";
        out += event;
        out += "\nid: ";
        out += std::to_string(last_event_);
        out += "\ndata: ";
        out += data;
        out += "\n\n";
        last_sent_ = Clock::now();
    }

    bool end(std::string& out) {
        send(out, "end", R"({"reason":"the server is stopping"})");
        return false;
    }

    const MemoryBudget& budget_;
    const Sampler& sampler_;
    std::shared_ptr<StreamHub> hub_;
    bool started_ = false;
    std::uint64_t last_event_ = 0;   // newest event sent
    std::uint64_t last_sample_ = 0;  // newest sample a snapshot was sent for
    Clock::time_point last_sent_ = Clock::now();
};

}  // namespace

std::shared_ptr<EventSource> open_stream(const MemoryBudget& budget, const Sampler& sampler,
                                         std::shared_ptr<StreamHub> hub) {
    std::size_t open = hub->clients.load();
    do {
        if (open >= hub->max_clients) return nullptr;
    } while (!hub->clients.compare_exchange_weak(open, open + 1));
    return std::make_shared<SnapshotStream>(budget, sampler, std::move(hub));
}

}  // namespace memscope::web

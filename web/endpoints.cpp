// SPDX-License-Identifier: MIT
// The route table: each read-only endpoint reads its figures once, then writes its
// document (json_api.cpp); control routes are in control.cpp, the page in static_files.cpp.

#include "endpoints.hpp"

#include <charconv>

#include "bodies.hpp"
#include "control.hpp"
#include "figures.hpp"
#include "json_api.hpp"
#include "memscope/budget.hpp"
#include "memscope/sampler.hpp"
#include "metrics.hpp"
#include "static_files.hpp"

namespace memscope::web {
namespace {

// ?since=SEQ: a whole number from 0 to 2^64-1, 0 when absent. Anything else is a 400
// naming the parameter, never a crash or a silent 0.
std::optional<Response> parse_since(const Call& call, std::uint64_t& since) {
    since = 0;
    const auto text = call.param("since");
    if (!text) return std::nullopt;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, since);
    if (text->empty() || (*text)[0] == '-' || (*text)[0] == '+' || ec != std::errc() || ptr != end)
        return error_response(400, "since must be a whole number from 0 to 18446744073709551615",
                              "since");
    return std::nullopt;
}

}  // namespace

Api::Api(MemoryBudget& budget, const Sampler& sampler, ApiOptions options)
    : budget_(budget), sampler_(sampler), options_(std::move(options)) {
    hub_->max_clients = options_.max_stream_clients;
    hub_->marks = marks_;
    router_.set_guard(
        [this](const Request& request) { return check_host(options_.hosts, request); });
    add_routes();
}

Mark Api::add_mark(std::string name, std::optional<std::uint64_t> frame) {
    Mark mark = make_mark(read_figures(budget_, &sampler_.history()), std::move(name));
    mark.frame = frame;
    if (options_.recorder != nullptr) options_.recorder->mark(mark.name, frame);
    return marks_->add(std::move(mark));
}

void Api::set_verdict_provider(VerdictProvider provider) {
    auto shared = provider ? std::make_shared<const VerdictProvider>(std::move(provider)) : nullptr;
    std::lock_guard lock(verdict_mutex_);
    verdict_ = std::move(shared);
}

void Api::stop_streams() {
    hub_->stopping.store(true);
}

void Api::add_routes() {
    const History* history = &sampler_.history();
    Router& r = router_;

    r.add("GET", "/healthz", [](const Call&) { return json_response(200, R"({"status":"ok"})"); });

    r.add("GET", "/api/v1/allocator", [this, history](const Call&) {
        return json_response(200, allocator_document(read_figures(budget_, history)));
    });
    r.add("GET", "/api/v1/process", [this, history](const Call&) {
        return json_response(200, process_document(read_figures(budget_, history)));
    });
    r.add("GET", "/api/v1/subsystems", [this, history](const Call&) {
        return json_response(200, subsystems_document(read_figures(budget_, history)));
    });
    r.add("GET", "/api/v1/totals", [this, history](const Call&) {
        return json_response(200, totals_document(read_figures(budget_, history)));
    });
    r.add("GET", "/api/v1/reconciliation", [this, history](const Call&) {
        return json_response(200, reconciliation_document(read_figures(budget_, history)));
    });
    r.add("GET", "/api/v1/events", [this](const Call& call) {
        std::uint64_t since = 0;
        if (auto bad = parse_since(call, since)) return std::move(*bad);
        return json_response(200, events_document(budget_, since));
    });
    r.add("GET", "/api/v1/frames", [this](const Call& call) {
        std::uint64_t since = 0;
        if (auto bad = parse_since(call, since)) return std::move(*bad);
        return json_response(200, frames_document(budget_, since));
    });
    r.add("GET", "/api/v1/history", [this](const Call& call) {
        std::uint64_t since = 0;
        if (auto bad = parse_since(call, since)) return std::move(*bad);
        return json_response(200, history_document(sampler_, since));
    });
    r.add("GET", "/api/v1/trends", [this, history](const Call&) {
        return json_response(200, trends_document(sampler_, read_figures(budget_, history)));
    });
    r.add("GET", "/api/v1/snapshot", [this, history](const Call&) {
        const std::vector<BudgetEvent> events = budget_.events(0);
        Figures f = read_figures(budget_, history);
        f.last_mark_id = marks_->last_id();
        return json_response(200, snapshot_document(sampler_, f, &events));
    });

    r.add("GET", "/api/v1/stream", [this](const Call&) {
        Response response;
        response.stream = open_stream(budget_, sampler_, hub_);
        if (!response.stream) {
            response = error_response(503, "too many live streams are open (" +
                                               std::to_string(hub_->max_clients) +
                                               "); the JSON endpoints still answer");
            response.set_header("Retry-After", "5");
            return response;
        }
        response.content_type = std::string(kEventStreamType);
        response.set_header("X-Accel-Buffering", "no");  // no proxy buffering of the stream
        return response;
    });

    r.add("POST", "/api/v1/marks", [this](const Call& call) {
        MarkBody body;
        if (auto e = parse_mark_body(call.request, options_.max_body_bytes, body))
            return error_response(e->status, e->message, e->field);
        const Mark mark = add_mark(std::move(body.name), std::nullopt);
        std::string out;
        JsonWriter w(out);
        write_mark(w, mark);
        return json_response(201, std::move(out));
    });
    r.add("GET", "/api/v1/marks", [this](const Call&) {
        std::string out;
        JsonWriter w(out);
        w.begin_object().key("capacity").value(marks_->capacity()).key("marks").begin_array();
        for (const Mark& m : marks_->list()) write_mark(w, m);
        w.end_array().end_object();
        return json_response(200, std::move(out));
    });
    r.add("GET", "/api/v1/diff", [this, history](const Call& call) {
        const auto from_name = call.param("from");
        if (!from_name || from_name->empty())
            return error_response(400, "from must name a mark: /api/v1/diff?from=A[&to=B]", "from");
        const auto from = marks_->find(*from_name);
        if (!from)
            return error_response(404, "no mark named \"" + std::string(*from_name) + "\"", "from");
        const auto to_name = call.param("to");
        std::optional<Mark> to;
        if (to_name && !to_name->empty()) {
            to = marks_->find(*to_name);
            if (!to)
                return error_response(404, "no mark named \"" + std::string(*to_name) + "\"", "to");
        } else {
            to = make_mark(read_figures(budget_, history), "now");
        }
        return json_response(200, diff_document(*from, *to));
    });

    r.add("GET", "/api/v1/verdict", [this](const Call&) {
        std::shared_ptr<const VerdictProvider> provider;
        {
            std::lock_guard lock(verdict_mutex_);
            provider = verdict_;
        }
        if (!provider)
            return error_response(404, "no verdict provider is set (Server::set_verdict_provider)");
        std::string verdict = (*provider)();  // a throw becomes the router's 500
        if (!is_valid_json(verdict))
            return error_response(500, "the verdict provider returned invalid JSON");
        return json_response(200, std::move(verdict));
    });

    add_control_routes(r, budget_, options_.token, options_.max_body_bytes);

    r.add("GET", "/metrics", [this, history](const Call&) {
        Response response = json_response(200, metrics_text(read_figures(budget_, history)));
        response.content_type = std::string(kMetricsType);
        return response;
    });

    r.add("GET", "/", [](const Call& call) { return serve_static("/", call.request); });
    r.add("GET", "/static/{path*}", [](const Call& call) {
        return serve_static("/static/" + call.path_params[0], call.request);
    });
}

}  // namespace memscope::web

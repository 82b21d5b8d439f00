// SPDX-License-Identifier: MIT
// Marks and diffs. A diff writes, for every figure of the X-macro lists, an object
// {"from", "to", "delta"} (plus "formatted" strings for byte figures).

#include "marks.hpp"

#include <algorithm>

#include "json_api.hpp"
#include "memscope/format.hpp"

namespace memscope::web {
namespace {

// {"from": a, "to": b, "delta": b - a}, and the formatted strings when `bytes`.
template <class T>
void write_change(JsonWriter& w, JsonKey key, T from, T to, bool bytes) {
    const auto delta = static_cast<std::int64_t>(to) - static_cast<std::int64_t>(from);
    w.key(key).begin_object();
    w.key("from").value(from).key("to").value(to).key("delta").value(delta);
    if (bytes) {
        w.key("formatted").begin_object();
        w.key("from").value(format_signed_memory(static_cast<std::int64_t>(from)));
        w.key("to").value(format_signed_memory(static_cast<std::int64_t>(to)));
        w.key("delta").value(format_signed_memory(delta, true));
        w.end_object();
    }
    w.end_object();
}

}  // namespace

Mark make_mark(const Figures& f, std::string name) {
    Mark m;
    m.name = std::move(name);
    m.unix_ms = f.unix_ms;
    m.taken = std::chrono::steady_clock::now();
    m.allocator = f.allocator;
    m.process = f.process;
    m.reported_bytes = f.totals.current_bytes;
    m.subsystems.reserve(f.subsystems.size());
    for (const SubsystemSnapshot& row : f.subsystems)
        m.subsystems.emplace_back(row.name, row.memory);
    return m;  // f.subsystems is sorted by name, so m.subsystems is too
}

Mark MarkList::add(Mark mark) {
    std::lock_guard lock(mutex_);
    mark.id = next_id_++;
    marks_.push_back(mark);
    while (marks_.size() > std::max<std::size_t>(capacity_, 1)) marks_.pop_front();
    return mark;
}

std::vector<Mark> MarkList::list() const {
    std::lock_guard lock(mutex_);
    return {marks_.begin(), marks_.end()};
}

std::optional<Mark> MarkList::find(std::string_view name) const {
    std::lock_guard lock(mutex_);
    for (auto it = marks_.rbegin(); it != marks_.rend(); ++it)
        if (it->name == name) return *it;
    return std::nullopt;
}

void write_mark(JsonWriter& w, const Mark& mark) {
    w.begin_object();
    w.key("id").value(mark.id);
    w.key("name").value(mark.name);
    w.key("frame");
    if (mark.frame)
        w.value(*mark.frame);
    else
        w.null();
    w.key("unix_ms").value(mark.unix_ms);
    w.key("time").value(iso8601_utc(mark.unix_ms));
    w.key("reported_bytes").value(mark.reported_bytes);
    w.key("tracked_bytes").value(mark.allocator.total_allocated_bytes);
    w.key("subsystem_count").value(mark.subsystems.size());
    w.key("formatted").begin_object();
    w.key("reported_bytes").value(format_memory(mark.reported_bytes));
    w.key("tracked_bytes").value(format_memory(mark.allocator.total_allocated_bytes));
    w.end_object();
    w.end_object();
}

std::string diff_document(const Mark& from, const Mark& to) {
    std::string out;
    out.reserve(1024 + 400 * std::max(from.subsystems.size(), to.subsystems.size()));
    JsonWriter w(out);
    w.begin_object();
    w.key("from");
    write_mark(w, from);
    w.key("to");
    write_mark(w, to);
    w.key("seconds").value(std::chrono::duration<double>(to.taken - from.taken).count());

    w.key("global").begin_object();
    write_change(w, "reported_bytes", from.reported_bytes, to.reported_bytes, true);
    w.key("allocator").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    write_change(w, #field, from.allocator.field, to.allocator.field, is_byte_field(#field));
    MEMSCOPE_ALLOCATION_STATS_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    w.end_object();
    w.key("process").begin_object();
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    write_change(w, #field, from.process.field, to.process.field, is_byte_field(#field));
    MEMSCOPE_PROCESS_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
    w.end_object();
    w.end_object();

    // Both lists are sorted by name: walk them together, so that a subsystem present at
    // one end only shows with zeros at the other.
    w.key("subsystems").begin_array();
    const SubsystemMemory none{};
    auto a = from.subsystems.begin();
    auto b = to.subsystems.begin();
    while (a != from.subsystems.end() || b != to.subsystems.end()) {
        const bool take_a =
            b == to.subsystems.end() || (a != from.subsystems.end() && a->first <= b->first);
        const bool take_b =
            a == from.subsystems.end() || (b != to.subsystems.end() && b->first <= a->first);
        const std::string& name = take_a ? a->first : b->first;
        const SubsystemMemory& x = take_a ? a->second : none;
        const SubsystemMemory& y = take_b ? b->second : none;
        w.begin_object();
        w.key("name").value(name);
        w.key("in_from").value(take_a);
        w.key("in_to").value(take_b);
#define MEMSCOPE_X_(type, field, kind, metric, help) \
    write_change(w, #field, x.field, y.field, is_byte_field(#field));
        MEMSCOPE_SUBSYSTEM_MEMORY_FIELDS(MEMSCOPE_X_)
#undef MEMSCOPE_X_
        w.end_object();
        if (take_a) ++a;
        if (take_b) ++b;
    }
    w.end_array();
    w.end_object();
    return out;
}

}  // namespace memscope::web

// SPDX-License-Identifier: MIT
// FrameLog: what each frame allocated, the ring of recent frames, and the frame budgets.

#include "frame_log.hpp"

#include <algorithm>

namespace memscope::detail {
namespace {

constexpr std::string_view kUntaggedName = "(untagged)";
constexpr std::string_view kTotal = "(total)";  // memscope::kTotalName (budget.hpp)

// b - a for running sums that only grow; 0 should a reading ever be behind.
std::uint64_t since(std::uint64_t now, std::uint64_t before) noexcept {
    return now > before ? now - before : 0;
}

std::size_t bucket_of(std::uint64_t allocations) noexcept {
    const auto it = std::lower_bound(kFrameAllocationBuckets.begin(), kFrameAllocationBuckets.end(),
                                     allocations);
    return static_cast<std::size_t>(it - kFrameAllocationBuckets.begin());
}

}  // namespace

FrameLog::FrameLog(std::size_t capacity, std::chrono::milliseconds alarm_interval)
    : capacity_(std::max<std::size_t>(capacity, 1)), alarm_interval_(alarm_interval) {}

void FrameLog::start(const TagSums* sums, std::size_t count) {
    previous_.assign(count, Counted{});
    for (std::size_t id = 0; id < count; ++id)
        previous_[id] = {sums[id].allocations, sums[id].frees, sums[id].bytes_allocated};
}

void FrameLog::record(std::uint64_t frame, Clock::time_point now,
                      std::chrono::system_clock::time_point wall, const TagSums* sums,
                      std::size_t count, std::vector<FrameAlarm>& announce) {
    if (ring_.size() < capacity_) {
        ring_.emplace_back();
        next_slot_ = ring_.size() - 1;
    }
    Slot& slot = ring_[next_slot_];
    next_slot_ = (next_slot_ + 1) % capacity_;
    slot.sequence = ++sequence_;
    slot.frame = frame;
    slot.wall = wall;
    slot.duration_ms =
        sequence_ == 1 ? 0.0 : std::chrono::duration<double, std::milli>(now - last_end_).count();
    last_end_ = now;
    slot.total = {};
    slot.over_budget = false;
    slot.parts.clear();
    if (previous_.size() < count) previous_.resize(count);  // tags named since: from zero

    for (std::size_t id = 0; id < count; ++id) {
        Counted& before = previous_[id];
        const Counted now_sums{sums[id].allocations, sums[id].frees, sums[id].bytes_allocated};
        const FrameCounts part{since(now_sums.allocations, before.allocations),
                               since(now_sums.frees, before.frees),
                               since(now_sums.bytes_allocated, before.bytes_allocated)};
        before = now_sums;
        if (id == kInternalTag) continue;  // memscope's own: in no frame
        if (part.allocations == 0 && part.frees == 0) continue;
        slot.total.allocations += part.allocations;
        slot.total.frees += part.frees;
        slot.total.bytes_allocated += part.bytes_allocated;
        slot.parts.push_back({static_cast<TagId>(id), false, part});
    }

    stats_.frames += 1;
    stats_.last_frame = frame;
    stats_.allocations += slot.total.allocations;
    stats_.bytes_allocated += slot.total.bytes_allocated;
    if (slot.total.allocations > stats_.worst_allocations || stats_.frames == 1) {
        stats_.worst_allocations = slot.total.allocations;
        stats_.worst_frame = frame;
    }
    ++stats_.allocation_histogram[bucket_of(slot.total.allocations)];

    for (Budget& b : budgets_) {
        if (b.total) {
            if (!b.budget.exceeded_by(slot.total)) continue;
            slot.over_budget = true;
            ++stats_.frames_over_total_budget;
            breach(b, frame, slot.total, now, announce);
            continue;
        }
        if (b.id == 0) b.id = find_tag(b.name);
        if (b.id == 0) continue;  // never entered: it allocated nothing
        for (TagPart& part : slot.parts) {
            if (part.id != b.id || !b.budget.exceeded_by(part.counts)) continue;
            part.over_budget = true;
            breach(b, frame, part.counts, now, announce);
        }
    }
}

void FrameLog::breach(Budget& b, std::uint64_t frame, const FrameCounts& counts,
                      Clock::time_point now, std::vector<FrameAlarm>& announce) {
    ++b.frames_over;
    b.last_frame_over = frame;
    if (b.announced && now - b.last_announced < alarm_interval_) {
        ++b.unannounced;
        return;
    }
    FrameAlarm alarm;
    alarm.name = b.name;
    alarm.event.frame = frame;
    alarm.event.counts = counts;
    alarm.event.budget = b.budget;
    alarm.event.unannounced_frames = b.unannounced;
    announce.push_back(std::move(alarm));
    b.announced = true;
    b.last_announced = now;
    b.unannounced = 0;
}

void FrameLog::set_budget(std::string_view name, FrameBudget budget) {
    const auto it = std::find_if(budgets_.begin(), budgets_.end(),
                                 [&](const Budget& b) { return b.name == name; });
    if (budget.none()) {
        if (it != budgets_.end()) budgets_.erase(it);
        return;
    }
    if (it != budgets_.end()) {
        it->budget = budget;
        return;
    }
    Budget b;
    b.name = std::string(name);
    b.budget = budget;
    b.total = name == kTotal;
    budgets_.push_back(std::move(b));
    std::sort(budgets_.begin(), budgets_.end(),
              [](const Budget& x, const Budget& y) { return x.name < y.name; });
}

FrameBudget FrameLog::budget(std::string_view name) const {
    for (const Budget& b : budgets_)
        if (b.name == name) return b.budget;
    return {};
}

std::vector<FrameRecord> FrameLog::frames(std::uint64_t after_sequence) const {
    std::vector<FrameRecord> out;
    if (ring_.empty() || sequence_ <= after_sequence) return out;
    const std::uint64_t kept = ring_.size();
    const std::uint64_t first = std::max(after_sequence + 1, sequence_ - kept + 1);
    out.reserve(static_cast<std::size_t>(sequence_ - first + 1));
    for (std::uint64_t seq = first; seq <= sequence_; ++seq) {
        // Slot of sequence s: the ring was filled in order, so (s - 1) % capacity.
        const Slot& slot = ring_[static_cast<std::size_t>((seq - 1) % capacity_)];
        FrameRecord r;
        r.sequence = slot.sequence;
        r.frame = slot.frame;
        r.time = slot.wall;
        r.duration_ms = slot.duration_ms;
        r.total = slot.total;
        r.over_budget = slot.over_budget;
        r.subsystems.reserve(slot.parts.size());
        for (const TagPart& part : slot.parts) {
            const std::string_view name =
                part.id == kUntaggedTag ? kUntaggedName : name_of(part.id);
            r.subsystems.push_back({std::string(name), part.counts, part.over_budget});
        }
        out.push_back(std::move(r));
    }
    return out;
}

FrameStats FrameLog::stats() const {
    FrameStats s = stats_;
    s.budgets.reserve(budgets_.size());
    for (const Budget& b : budgets_)
        s.budgets.push_back({b.name, b.budget, b.frames_over, b.last_frame_over});
    return s;
}

}  // namespace memscope::detail

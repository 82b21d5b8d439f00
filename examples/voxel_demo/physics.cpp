// SPDX-License-Identifier: MIT
// PhysicsWorld: collider boxes per chunk and a broadphase tree sized to them.

#include "memscope/scope.hpp"
#include "subsystems.hpp"

namespace voxel {

std::int32_t PhysicsWorld::add(ChunkKind kind, const Column& column, std::uint64_t seed) {
    MEMSCOPE_SCOPE("Physics");
    const std::size_t r = column.roughness;
    std::size_t boxes = 0;
    switch (kind) {
        case ChunkKind::deep:
        case ChunkKind::subsurface:
            return -1;  // nothing walks inside solid rock
        case ChunkKind::surface:
            boxes = 32 * (1 + r);
            break;
        case ChunkKind::canopy:
            boxes = 8 * (1 + r);
            break;
    }
    const std::int32_t slot = slots_.acquire();
    Collider& collider = slots_[slot];
    collider.boxes.resize(size_class(boxes));
    for (std::size_t i = 0; i < collider.boxes.size(); ++i) {
        const auto f = static_cast<float>(i);
        collider.boxes[i] = {
            {f, 0.0f, f}, {f + 1.0f, 1.0f, f + 1.0f}, static_cast<std::uint32_t>(seed & 0xffU), 0};
    }
    collider.in_use = true;
    box_count_ += collider.boxes.capacity();
    ++in_use_;
    dirty_ = true;
    return slot;
}

void PhysicsWorld::remove(std::int32_t slot) {
    MEMSCOPE_SCOPE("Physics");
    if (slot < 0) return;
    Collider& collider = slots_[slot];
    box_count_ -= collider.boxes.capacity();
    --in_use_;
    std::vector<Box>().swap(collider.boxes);
    collider.in_use = false;
    slots_.release(slot);
    dirty_ = true;
}

void PhysicsWorld::step() {
    MEMSCOPE_SCOPE("Physics");
    if (!dirty_) return;
    dirty_ = false;
    const std::size_t needed = box_count_ == 0 ? 0 : 2 * box_count_ - 1;  // a binary tree
    const std::size_t capacity = broadphase_.capacity();
    if (needed > capacity || needed < capacity / 3) {
        std::vector<Node> resized;
        resized.reserve(size_class(needed + needed / 4));
        resized.resize(needed);
        broadphase_.swap(resized);
    } else {
        broadphase_.resize(needed);
    }
}

Footprint PhysicsWorld::footprint() const {
    return {slots_.table_bytes() + box_count_ * sizeof(Box) + broadphase_.capacity() * sizeof(Node),
            in_use_};
}

}  // namespace voxel

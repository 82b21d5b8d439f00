// MeshStore: vertex and index buffers per visible chunk, in reusable slots.

#include "subsystems.hpp"

namespace voxel {

// The slot table is a fixed pool sized for two sectors in memory at once: grown on demand,
// it would keep its high-water capacity after the first transition, and the leak check
// would (rightly) see meshes that did not return to their baseline.
MeshStore::MeshStore(bool leak_edited) : leak_edited_(leak_edited) {
    slots_.reserve(kSlotPool);
    free_slots_.reserve(kSlotPool);
}

std::int32_t MeshStore::build(ChunkKind kind, const Column& column, std::uint64_t seed) {
    const std::size_t r = column.roughness;
    std::size_t vertices = 0;
    switch (kind) {
        case ChunkKind::deep:
            return -1;  // enclosed: every face is hidden
        case ChunkKind::subsurface:
            vertices = 64 * (1 + r);
            break;
        case ChunkKind::surface:
            vertices = 256 * (2 + r);
            break;
        case ChunkKind::canopy:
            vertices = 128 * (1 + r);
            break;
    }
    std::int32_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = static_cast<std::int32_t>(slots_.size());
        slots_.emplace_back();
    }
    Mesh& mesh = slots_[static_cast<std::size_t>(slot)];
    mesh.vertices.resize(size_class(vertices));
    mesh.indices.resize(size_class(vertices * 3 / 2));
    // A plausible strip of quads; the content only needs to be written, not drawn.
    for (std::size_t i = 0; i < mesh.vertices.size(); ++i) {
        const auto f = static_cast<float>(i);
        mesh.vertices[i] = {{f, static_cast<float>(seed & 31U), f * 0.5f},
                            static_cast<std::uint32_t>(seed + i)};
    }
    for (std::size_t i = 0; i < mesh.indices.size(); ++i)
        mesh.indices[i] = static_cast<std::uint32_t>(i % mesh.vertices.size());
    mesh.in_use = true;
    mesh.attached = true;
    buffer_bytes_ += bytes_of(mesh);
    attached_bytes_ += bytes_of(mesh);
    ++in_use_;
    return slot;
}

void MeshStore::release(std::int32_t slot, bool edited) {
    if (slot < 0) return;
    Mesh& mesh = slots_[static_cast<std::size_t>(slot)];
    mesh.attached = false;
    attached_bytes_ -= bytes_of(mesh);
    // The --leak bug: edited chunks take a separate unload path (their edits are saved
    // first), and that path forgets the mesh. The buffers stay allocated in a slot no one
    // will reuse: the "chunk that fails to deallocate its mesh buffer on unload" of the
    // Nebula specification.
    if (leak_edited_ && edited) {
        ++leaked_;
        return;
    }
    buffer_bytes_ -= bytes_of(mesh);
    --in_use_;
    std::vector<Vertex>().swap(mesh.vertices);
    std::vector<std::uint32_t>().swap(mesh.indices);
    mesh.in_use = false;
    free_slots_.push_back(slot);
}

std::size_t MeshStore::bytes_of(const Mesh& mesh) {
    return mesh.vertices.capacity() * sizeof(Vertex) +
           mesh.indices.capacity() * sizeof(std::uint32_t);
}

Footprint MeshStore::footprint() const {
    return {slots_.capacity() * sizeof(Mesh) + free_slots_.capacity() * sizeof(std::int32_t) +
                buffer_bytes_,
            in_use_};
}

std::size_t MeshStore::attached_bytes() const {
    return attached_bytes_;
}

}  // namespace voxel

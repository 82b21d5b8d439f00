// SPDX-License-Identifier: MIT
// MeshStore: vertex and index buffers per visible chunk, in reusable slots.

#include "memscope/scope.hpp"
#include "subsystems.hpp"

namespace voxel {

MeshStore::MeshStore(bool leak_edited) : leak_edited_(leak_edited) {}

std::int32_t MeshStore::build(ChunkKind kind, const Column& column, std::uint64_t seed) {
    MEMSCOPE_SCOPE("Meshes");
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
    const std::int32_t slot = slots_.acquire();
    Mesh& mesh = slots_[slot];
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
    MEMSCOPE_SCOPE("Meshes");
    if (slot < 0) return;
    Mesh& mesh = slots_[slot];
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
    slots_.release(slot);
}

std::size_t MeshStore::bytes_of(const Mesh& mesh) {
    return mesh.vertices.capacity() * sizeof(Vertex) +
           mesh.indices.capacity() * sizeof(std::uint32_t);
}

Footprint MeshStore::footprint() const {
    return {slots_.table_bytes() + buffer_bytes_, in_use_};
}

std::size_t MeshStore::attached_bytes() const {
    return attached_bytes_;
}

}  // namespace voxel

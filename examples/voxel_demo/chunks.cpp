// SPDX-License-Identifier: MIT
// ChunkStreamer: sectors of chunk columns streamed in front of the camera and out behind it.

#include <algorithm>
#include <bit>
#include <cmath>
#include "memscope/scope.hpp"

#include "subsystems.hpp"

namespace voxel {
namespace {

// Palette entries each kind of chunk uses: rock needs a few block states, the surface many.
std::size_t palette_entries(ChunkKind kind, const Column& column) {
    const std::size_t r = column.roughness;
    switch (kind) {
        case ChunkKind::deep:
            return 6 + r;
        case ChunkKind::subsurface:
            return 12 + 2 * r;
        case ChunkKind::surface:
            return 40 + 40 * r;
        case ChunkKind::canopy:
            return 5 + r;
    }
    return 1;
}

// Bits per block index: palettes are packed into 64-bit words with no index straddling
// two words, so only widths that divide 64 are used.
std::size_t bits_for(std::size_t palette_size) {
    if (palette_size <= 2) return 1;
    if (palette_size <= 4) return 2;
    if (palette_size <= 16) return 4;
    if (palette_size <= 256) return 8;
    return 16;
}

}  // namespace

std::size_t size_class(std::size_t n) {
    if (n <= 4) return 4;
    const std::size_t p = std::bit_floor(n);
    if (n == p) return p;
    if (n <= p + p / 2) return p + p / 2;
    return 2 * p;
}

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

Biome biome_of(int sector_index) {
    return static_cast<Biome>(static_cast<unsigned>(sector_index) % 3U);
}

const char* to_string(Biome biome) {
    switch (biome) {
        case Biome::plains:
            return "plains";
        case Biome::forest:
            return "forest";
        case Biome::mountains:
            return "mountains";
    }
    return "unknown";
}

ChunkStreamer::ChunkStreamer(std::uint64_t seed, MeshStore& meshes, PhysicsWorld& physics)
    : seed_(seed), meshes_(meshes), physics_(physics) {
    terrain_.reserve(kColumnsPerSector);
    for (int i = 0; i < kColumnsPerSector; ++i) {
        const std::uint64_t h = mix(seed ^ static_cast<std::uint64_t>(i));
        Column c;
        c.surface_layer = static_cast<std::uint8_t>(2 + h % 4);
        c.roughness = static_cast<std::uint8_t>((h >> 8) % 4);
        c.vegetation = (h >> 16) % 10 < 6;
        c.edited = (h >> 24) % 10 == 0;
        terrain_.push_back(c);
    }
    sectors_.reserve(4);
}

// The destructor frees only what the streamer owns: meshes and colliders belong to their
// own subsystems (each is torn down, and measured, on its own).
ChunkStreamer::~ChunkStreamer() = default;

std::unique_ptr<ChunkStreamer::Sector> ChunkStreamer::make_sector(int index) const {
    auto sector = std::make_unique<Sector>();
    sector->index = index;
    // Every sector is a shuffle of the same columns: the layout differs, the totals do not.
    // So the memory floor between transitions is flat, and only a real leak makes it rise
    // (which is what the sampler's leak detection looks for).
    sector->columns = terrain_;
    std::uint64_t state = mix(seed_ ^ (0x5ec7000000000000ULL + static_cast<std::uint64_t>(index)));
    for (std::size_t i = sector->columns.size() - 1; i > 0; --i) {
        state = mix(state);
        std::swap(sector->columns[i], sector->columns[state % (i + 1)]);
    }
    std::size_t count = 0;
    for (const Column& c : sector->columns)
        count += c.surface_layer + 1U + (c.vegetation ? 1U : 0U);
    sector->chunks.reserve(count);
    // Column i sits at x = i / kSectorColumns: pushing columns in order keeps the chunk
    // table sorted by x, so loading front to back and unloading back to front are both a
    // walk along the table.
    for (std::size_t i = 0; i < sector->columns.size(); ++i) {
        const Column& c = sector->columns[i];
        const int layers = c.surface_layer + 1 + (c.vegetation ? 1 : 0);
        for (int layer = 0; layer < layers; ++layer) {
            Chunk chunk;
            chunk.column = static_cast<std::int16_t>(i);
            chunk.layer = static_cast<std::uint8_t>(layer);
            chunk.kind = layer + 1 < c.surface_layer ? ChunkKind::deep
                         : layer < c.surface_layer   ? ChunkKind::subsurface
                         : layer == c.surface_layer  ? ChunkKind::surface
                                                     : ChunkKind::canopy;
            sector->chunks.push_back(std::move(chunk));
        }
    }
    return sector;
}

std::size_t ChunkStreamer::chunk_bytes(const Chunk& chunk) {
    return chunk.palette.capacity() * sizeof(std::uint32_t) +
           chunk.blocks.capacity() * sizeof(std::uint64_t);
}

std::size_t ChunkStreamer::table_bytes(const Sector& sector) {
    return sizeof(Sector) + sector.columns.capacity() * sizeof(Column) +
           sector.chunks.capacity() * sizeof(Chunk);
}

double ChunkStreamer::chunk_x(const Sector& sector, const Chunk& chunk) const {
    return sector.index * kSectorColumns + chunk.column / kSectorColumns + 0.5;
}

void ChunkStreamer::load_chunk(Sector& sector, Chunk& chunk) {
    const Column& column = sector.columns[static_cast<std::size_t>(chunk.column)];
    const std::uint64_t seed = mix(seed_ ^ (static_cast<std::uint64_t>(sector.index) << 32) ^
                                   (static_cast<std::uint64_t>(chunk.column) << 8) ^ chunk.layer);
    const std::size_t entries = palette_entries(chunk.kind, column);
    chunk.palette.reserve(std::bit_ceil(std::max<std::size_t>(entries, 4)));
    for (std::size_t i = 0; i < entries; ++i)
        chunk.palette.push_back(static_cast<std::uint32_t>(mix(seed + i) & 0xffffU));
    // Generation proper is out of scope; a per-chunk pattern makes the pages real (touched,
    // resident) without costing more than a memset.
    const std::size_t words = kBlocksPerChunk * bits_for(entries) / 64;
    chunk.blocks.assign(words, mix(seed));
    chunk.mesh = meshes_.build(chunk.kind, column, seed);
    chunk.collider = physics_.add(chunk.kind, column, seed);
    chunk.loaded = true;
    ++sector.loaded;
    ++loaded_chunks_;
    block_bytes_ += chunk_bytes(chunk);
}

void ChunkStreamer::unload_chunk(Sector& sector, Chunk& chunk) {
    if (chunk.done) return;
    chunk.done = true;
    ++sector.done;
    if (!chunk.loaded) return;
    block_bytes_ -= chunk_bytes(chunk);
    --loaded_chunks_;
    const Column& column = sector.columns[static_cast<std::size_t>(chunk.column)];
    meshes_.release(chunk.mesh, column.edited && chunk.kind == ChunkKind::surface);
    physics_.remove(chunk.collider);
    chunk.mesh = chunk.collider = -1;
    std::vector<std::uint32_t>().swap(chunk.palette);  // clear() would keep the capacity
    std::vector<std::uint64_t>().swap(chunk.blocks);
    chunk.loaded = false;
    --sector.loaded;
}

void ChunkStreamer::load_initial(double camera_x) {
    MEMSCOPE_SCOPE("Chunks");
    const int index = static_cast<int>(std::floor(camera_x / kSectorColumns));
    sectors_.push_back(make_sector(index));
    Sector& sector = *sectors_.back();
    table_bytes_ += table_bytes(sector);
    for (Chunk& chunk : sector.chunks) load_chunk(sector, chunk);
    sector.next_to_load = sector.chunks.size();
}

ChunkStreamer::StepResult ChunkStreamer::step(double camera_x) {
    MEMSCOPE_SCOPE("Chunks");
    StepResult result;
    const int here = static_cast<int>(std::floor(camera_x / kSectorColumns));
    auto find = [&](int index) -> Sector* {
        for (auto& s : sectors_)
            if (s->index == index) return s.get();
        return nullptr;
    };

    // Start loading the next sector when the camera nears it.
    if (find(here + 1) == nullptr && camera_x >= (here + 1) * kSectorColumns - kPreloadColumns) {
        sectors_.push_back(make_sector(here + 1));
        table_bytes_ += table_bytes(*sectors_.back());
        result.sector_created = here + 1;
    }

    // Load front to back, a few chunks a frame.
    std::size_t budget = kLoadPerFrame;
    for (auto& s : sectors_) {
        while (budget > 0 && s->next_to_load < s->chunks.size()) {
            Chunk& chunk = s->chunks[s->next_to_load++];
            if (chunk.done) continue;  // evicted before it was ever loaded
            load_chunk(*s, chunk);
            --budget;
        }
    }

    // Unload the sectors behind once the one under the camera is complete and the camera
    // is well inside it: until then the old sector is what the player sees.
    const Sector* current = find(here);
    const bool current_ready =
        current != nullptr && current->next_to_load == current->chunks.size();
    const bool far_enough = camera_x >= here * kSectorColumns + kUnloadDelayColumns;
    std::size_t unload_budget = kUnloadPerFrame;
    for (auto& s : sectors_) {
        if (s->index >= here) continue;
        if (!s->unloading && current_ready && far_enough) s->unloading = true;
        if (!s->unloading) continue;
        for (Chunk& chunk : s->chunks) {
            if (unload_budget == 0) break;
            if (chunk.done) continue;
            if (chunk.loaded) --unload_budget;
            unload_chunk(*s, chunk);
        }
    }
    for (auto it = sectors_.begin(); it != sectors_.end();) {
        Sector& s = **it;
        if (s.unloading && s.done == s.chunks.size()) {
            result.sector_unloaded = s.index;
            table_bytes_ -= table_bytes(s);
            it = sectors_.erase(it);
        } else {
            ++it;
        }
    }
    return result;
}

std::size_t ChunkStreamer::evict_behind(double camera_x) {
    MEMSCOPE_SCOPE("Chunks");
    std::size_t evicted = 0;
    const double limit = camera_x - kKeepBehindColumns;
    for (auto& s : sectors_) {
        for (Chunk& chunk : s->chunks) {
            if (chunk_x(*s, chunk) >= limit) break;  // the table is sorted by x
            if (chunk.done) continue;
            if (chunk.loaded) ++evicted;
            unload_chunk(*s, chunk);
        }
    }
    return evicted;
}

bool ChunkStreamer::in_transition() const {
    return sectors_.size() > 1;
}

bool ChunkStreamer::biome_in_use(Biome biome) const {
    return std::any_of(sectors_.begin(), sectors_.end(),
                       [&](const auto& s) { return biome_of(s->index) == biome; });
}

Footprint ChunkStreamer::estimate() const {
    return {block_bytes_, loaded_chunks_};
}

Footprint ChunkStreamer::footprint() const {
    return {terrain_.capacity() * sizeof(Column) + sectors_.capacity() * sizeof(sectors_[0]) +
                table_bytes_ + block_bytes_,
            loaded_chunks_};
}

}  // namespace voxel

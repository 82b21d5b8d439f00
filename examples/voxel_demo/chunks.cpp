// SPDX-License-Identifier: MIT
// ChunkStreamer: sectors of chunk columns streamed in front of the camera and out behind it.

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

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
    sectors_.reserve(8);
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

std::uint64_t ChunkStreamer::chunk_seed(const Sector& sector, const Chunk& chunk) const {
    return mix(seed_ ^ (static_cast<std::uint64_t>(sector.index) << 32) ^
               (static_cast<std::uint64_t>(chunk.column) << 8) ^ chunk.layer);
}

ChunkStreamer::Sector& ChunkStreamer::sector_at(int index) {
    for (auto& s : sectors_)
        if (s->index == index) return *s;
    // The camera only flies forward: a new sector is always ahead of the others.
    sectors_.push_back(make_sector(index));
    table_bytes_ += table_bytes(*sectors_.back());
    return *sectors_.back();
}

void ChunkStreamer::read_data(Sector& sector, Chunk& chunk) {
    const Column& column = sector.columns[static_cast<std::size_t>(chunk.column)];
    const std::uint64_t seed = chunk_seed(sector, chunk);
    const std::size_t entries = palette_entries(chunk.kind, column);
    chunk.palette.reserve(std::bit_ceil(std::max<std::size_t>(entries, 4)));
    for (std::size_t i = 0; i < entries; ++i)
        chunk.palette.push_back(static_cast<std::uint32_t>(mix(seed + i) & 0xffffU));
    // Generation proper is out of scope; a per-chunk pattern makes the pages real (touched,
    // resident) without costing more than a memset.
    const std::size_t words = kBlocksPerChunk * bits_for(entries) / 64;
    chunk.blocks.assign(words, mix(seed));
    chunk.has_data = true;
    ++loaded_chunks_;
    block_bytes_ += chunk_bytes(chunk);
}

void ChunkStreamer::drop_data(Chunk& chunk) {
    block_bytes_ -= chunk_bytes(chunk);
    --loaded_chunks_;
    std::vector<std::uint32_t>().swap(chunk.palette);  // clear() would keep the capacity
    std::vector<std::uint64_t>().swap(chunk.blocks);
    chunk.has_data = false;
}

void ChunkStreamer::stream_data(double camera_x, std::size_t budget) {
    const double from = camera_x - kDataBehindColumns;
    const double to = camera_x + read_ahead_;
    const int last = static_cast<int>(std::floor(to / kSectorColumns));
    while (sectors_.empty() || sectors_.back()->index < last)
        sector_at(sectors_.empty() ? last : sectors_.back()->index + 1);
    // Every frame walks the chunk tables (a few thousand chunks a sector): one rule, data
    // inside the window and none outside, also when the read-ahead narrows.
    for (auto& s : sectors_) {
        for (Chunk& chunk : s->chunks) {
            if (chunk.done) continue;
            const double x = chunk_x(*s, chunk);
            const bool wanted = x >= from && x < to;
            if (wanted && !chunk.has_data && budget > 0) {
                read_data(*s, chunk);
                --budget;
            } else if (!wanted && chunk.has_data) {
                drop_data(chunk);
            }
        }
    }
}

void ChunkStreamer::load_chunk(Sector& sector, Chunk& chunk) {
    const Column& column = sector.columns[static_cast<std::size_t>(chunk.column)];
    const std::uint64_t seed = chunk_seed(sector, chunk);
    chunk.mesh = meshes_.build(chunk.kind, column, seed);
    chunk.collider = physics_.add(chunk.kind, column, seed);
    chunk.loaded = true;
    ++sector.loaded;
}

void ChunkStreamer::unload_chunk(Sector& sector, Chunk& chunk) {
    if (chunk.done) return;
    chunk.done = true;
    ++sector.done;
    if (chunk.has_data) drop_data(chunk);
    if (!chunk.loaded) return;
    const Column& column = sector.columns[static_cast<std::size_t>(chunk.column)];
    meshes_.release(chunk.mesh, column.edited && chunk.kind == ChunkKind::surface);
    physics_.remove(chunk.collider);
    chunk.mesh = chunk.collider = -1;
    chunk.loaded = false;
    --sector.loaded;
}

void ChunkStreamer::load_initial(double camera_x) {
    MEMSCOPE_SCOPE("Chunks");
    Sector& sector = sector_at(static_cast<int>(std::floor(camera_x / kSectorColumns)));
    sector.active = true;
    for (Chunk& chunk : sector.chunks) load_chunk(sector, chunk);
    sector.next_to_load = sector.chunks.size();
    stream_data(camera_x, std::numeric_limits<std::size_t>::max());
}

ChunkStreamer::StepResult ChunkStreamer::step(double camera_x) {
    MEMSCOPE_SCOPE("Chunks");
    StepResult result;
    stream_data(camera_x, kLoadPerFrame);

    // Start building the next sector's meshes when the camera nears it.
    const int here = static_cast<int>(std::floor(camera_x / kSectorColumns));
    if (camera_x >= (here + 1) * kSectorColumns - kPreloadColumns) {
        Sector& next = sector_at(here + 1);
        if (!next.active) {
            next.active = true;
            result.sector_created = here + 1;
        }
    }

    // Build front to back, a few chunks a frame.
    std::size_t budget = kLoadPerFrame;
    for (auto& s : sectors_) {
        if (!s->active) continue;
        while (budget > 0 && s->next_to_load < s->chunks.size()) {
            Chunk& chunk = s->chunks[s->next_to_load++];
            if (chunk.done) continue;  // evicted before it was ever built
            load_chunk(*s, chunk);
            --budget;
        }
    }

    // Unload the sectors behind once the one under the camera is complete and the camera
    // is well inside it: until then the old sector is what the player sees.
    const Sector* current = nullptr;
    for (const auto& s : sectors_)
        if (s->index == here) current = s.get();
    const bool current_ready =
        current != nullptr && current->active && current->next_to_load == current->chunks.size();
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

bool ChunkStreamer::biome_in_use(Biome biome) const {
    return std::any_of(sectors_.begin(), sectors_.end(),
                       [&](const auto& s) { return s->active && biome_of(s->index) == biome; });
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

// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The six subsystems of the simulated voxel engine (the Nebula specification's Chunks,
/// Meshes, Textures, Entities, Audio and Physics). Each owns real buffers sized from the
/// simulation, and footprint() gives the capacities of everything it owns: the figure the
/// engine reports to memscope every frame. The streamed subsystems keep running totals,
/// updated when a buffer comes or goes, so a report is arithmetic on known sizes (the
/// specification's "no heap walking"), not a walk over thousands of chunks. Buffers are sized in
/// "size classes" (powers of two and 1.5 times powers of two), as GPU and audio buffer pools do,
/// which also makes the reported sizes exactly the block sizes mimalloc hands out.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace voxel {

/// What a subsystem holds: bytes and how many items (chunks, meshes, pages...).
struct Footprint {
    std::size_t bytes = 0;  ///< every byte of heap the subsystem owns
    std::size_t count = 0;  ///< its items, reported as memscope's allocation_count
};

/// The smallest size class (power of two, or 1.5 times one) that holds `n`; at least 4.
[[nodiscard]] std::size_t size_class(std::size_t n);

/// A 64-bit mixing function (splitmix64's finaliser): all the world's "randomness" comes
/// from it, so a run is the same every time.
[[nodiscard]] std::uint64_t mix(std::uint64_t x);

inline constexpr int kSectorColumns = 24;  ///< chunk columns along each side of a sector
inline constexpr int kColumnsPerSector = kSectorColumns * kSectorColumns;
inline constexpr int kBlocksPerChunk = 32 * 32 * 32;  ///< a chunk is 32^3 blocks

/// The look of a sector; it picks the textures and the ambient sounds.
enum class Biome : std::uint8_t { plains, forest, mountains };
/// Biome of sector `index` (they take turns).
[[nodiscard]] Biome biome_of(int sector_index);
/// "plains", "forest", "mountains".
[[nodiscard]] const char* to_string(Biome biome);

/// Where a chunk sits in its column, which decides its palette and whether it has a mesh.
enum class ChunkKind : std::uint8_t {
    deep,        ///< solid rock: small palette, enclosed (no mesh, no collider)
    subsurface,  ///< just under the surface: caves show through
    surface,     ///< the ground: big palette, the bulk of the mesh and colliders
    canopy,      ///< trees and grass above the ground
};

/// One column of terrain: how high the ground is and what grows on it.
struct Column {
    std::uint8_t surface_layer = 2;  ///< chunk layer of the ground (2..5)
    std::uint8_t roughness = 0;      ///< 0..3: palette size, mesh and collider detail
    bool vegetation = false;         ///< has a canopy chunk
    bool edited = false;             ///< the player changed blocks here (see MeshStore)
};

/// Items in reusable slots addressed by index, for the stores whose items come and go
/// with chunks. The table is reserved up front for `capacity` items: grown on demand, it
/// would keep its high-water capacity after the first sector transition, and the leak check
/// would (rightly) see a subsystem that did not return to its baseline.
template <typename T>
class SlotPool {
  public:
    explicit SlotPool(std::size_t capacity) {
        slots_.reserve(capacity);
        free_.reserve(capacity);
    }
    /// A free slot (a recycled one first); its item is whatever the last user left in it.
    std::int32_t acquire() {
        if (!free_.empty()) {
            const std::int32_t slot = free_.back();
            free_.pop_back();
            return slot;
        }
        slots_.emplace_back();
        return static_cast<std::int32_t>(slots_.size() - 1);
    }
    /// Gives a slot back for reuse; the caller has emptied its item.
    void release(std::int32_t slot) { free_.push_back(slot); }
    /// The item in `slot`.
    T& operator[](std::int32_t slot) { return slots_[static_cast<std::size_t>(slot)]; }
    /// Heap bytes of the table itself (not of what the items own).
    [[nodiscard]] std::size_t table_bytes() const {
        return slots_.capacity() * sizeof(T) + free_.capacity() * sizeof(std::int32_t);
    }

  private:
    std::vector<T> slots_;
    std::vector<std::int32_t> free_;
};

// ------------------------------------------------------------------------------------
// Meshes

/// Vertex and index buffers, one mesh per visible chunk, kept in reusable slots.
class MeshStore {
  public:
    /// Slots reserved up front: enough for two loaded sectors' visible chunks.
    static constexpr std::size_t kSlotPool = 8192;

    /// `leak_edited`: the bug of --leak, see release().
    explicit MeshStore(bool leak_edited);

    /// Builds the mesh of a chunk; -1 when the chunk is enclosed and has nothing to draw.
    std::int32_t build(ChunkKind kind, const Column& column, std::uint64_t seed);

    /// Frees a mesh when its chunk unloads. With the leak on, the mesh of an edited chunk
    /// is only detached from its chunk and never freed: the slot stays taken, its buffers
    /// stay allocated, and nothing will ever look at them again.
    void release(std::int32_t slot, bool edited);

    /// All mesh buffers, leaked ones included, and the slot table.
    [[nodiscard]] Footprint footprint() const;
    /// Bytes of the meshes still attached to a chunk: what the engine believes it holds.
    [[nodiscard]] std::size_t attached_bytes() const;
    /// How many meshes leaked so far.
    [[nodiscard]] std::size_t leaked_meshes() const { return leaked_; }

  private:
    struct Vertex {
        float position[3];
        std::uint32_t normal_uv;  // packed normal index and atlas coordinates
    };
    struct Mesh {
        std::vector<Vertex> vertices;
        std::vector<std::uint32_t> indices;
        bool in_use = false;    // the slot holds buffers
        bool attached = false;  // a chunk points at it
    };
    static std::size_t bytes_of(const Mesh& mesh);

    SlotPool<Mesh> slots_{kSlotPool};
    bool leak_edited_;
    std::size_t leaked_ = 0;
    std::size_t buffer_bytes_ = 0;    // every mesh in use, leaked ones included
    std::size_t attached_bytes_ = 0;  // meshes a chunk points at
    std::size_t in_use_ = 0;
};

// ------------------------------------------------------------------------------------
// Physics

/// Collider boxes per chunk and the broadphase tree over all of them.
class PhysicsWorld {
  public:
    /// Slots reserved up front: enough for two loaded sectors' solid chunks.
    static constexpr std::size_t kSlotPool = 4096;

    /// Adds the colliders of a chunk; -1 for chunks nothing can touch.
    std::int32_t add(ChunkKind kind, const Column& column, std::uint64_t seed);
    /// Removes a chunk's colliders.
    void remove(std::int32_t slot);
    /// Refits the broadphase after colliders came or went: its node array grows to a size
    /// class, and shrinks only when it is less than a third used (no churn every frame).
    void step();
    /// Colliders, broadphase and the slot table.
    [[nodiscard]] Footprint footprint() const;

  private:
    struct Box {
        float min[3], max[3];
        std::uint32_t material, flags;
    };
    struct Node {
        float min[3], max[3];
        std::int32_t left, right;
    };
    struct Collider {
        std::vector<Box> boxes;
        bool in_use = false;
    };
    SlotPool<Collider> slots_{kSlotPool};
    std::vector<Node> broadphase_;
    std::size_t box_count_ = 0;  // boxes allocated (capacity) in colliders in use
    std::size_t in_use_ = 0;
    bool dirty_ = false;
};

// ------------------------------------------------------------------------------------
// Chunks

/// Streams sectors of chunks in and out around a camera that flies along +x. Two things
/// stream, at two paces. Chunk data (palettes and blocks) is read column by column, from a
/// few columns behind the camera to a read-ahead in front of it, which the engine widens
/// over time. A sector's meshes and colliders are built as one batch when the camera nears
/// it, and the batch is released only when the camera is inside the next sector: during a
/// transition both batches are in memory, the spike the Nebula specification warns about.
class ChunkStreamer {
  public:
    /// Chunks whose data is read, and chunks whose meshes are built, per frame at most
    /// (like an engine's I/O budget).
    static constexpr std::size_t kLoadPerFrame = 48;
    static constexpr std::size_t kUnloadPerFrame = 128;
    /// Chunk data is dropped this far behind the camera (its mesh stays until the sector
    /// unloads: the player still sees it)...
    static constexpr double kDataBehindColumns = 2.0;
    /// ...and read as far ahead as the read-ahead (set_read_ahead()), from this one on.
    static constexpr double kReadAheadStartColumns = 8.0;
    /// A sector's meshes start building when the camera is this close to its edge...
    static constexpr double kPreloadColumns = 8.0;
    /// ...and the old one unloads once the camera is this far into the new one.
    static constexpr double kUnloadDelayColumns = 2.0;
    /// Under memory pressure, chunks further behind the camera than this are evicted.
    static constexpr double kKeepBehindColumns = 16.0;

    /// What happened in one step().
    struct StepResult {
        int sector_created = -1;   ///< index of a sector whose meshes started loading, or -1
        int sector_unloaded = -1;  ///< index of a sector whose last chunk went, or -1
    };

    ChunkStreamer(std::uint64_t seed, MeshStore& meshes, PhysicsWorld& physics);
    ~ChunkStreamer();
    ChunkStreamer(const ChunkStreamer&) = delete;
    ChunkStreamer& operator=(const ChunkStreamer&) = delete;

    /// The loading screen: builds the meshes of the sector under the camera and reads the
    /// chunk data around it.
    void load_initial(double camera_x);
    /// One frame of streaming.
    StepResult step(double camera_x);
    /// Columns of chunk data read ahead of the camera from the next step() on; data beyond
    /// a narrower read-ahead is dropped.
    void set_read_ahead(double columns) { read_ahead_ = columns; }
    /// The read-ahead in force, in columns.
    [[nodiscard]] double read_ahead() const { return read_ahead_; }
    /// Evicts loaded chunks more than kKeepBehindColumns behind the camera (they will
    /// never be seen again; the camera only flies forward). Returns how many.
    std::size_t evict_behind(double camera_x);
    /// True when some sector with meshes (not only read-ahead data) has this biome.
    [[nodiscard]] bool biome_in_use(Biome biome) const;

    /// Palettes and block arrays of the chunks with data, and the chunk tables.
    [[nodiscard]] Footprint footprint() const;
    /// The estimate a game would write by hand, the specification's
    /// `chunk_count * (palette_size + block_data_size)`: it forgets the sector tables, the
    /// terrain template and the allocator's rounding. The demo reports it on purpose, beside
    /// the measured Chunks row, so the dashboard shows how far an estimate can be off.
    [[nodiscard]] Footprint estimate() const;

  private:
    struct Chunk {
        std::vector<std::uint32_t> palette;  // block state ids
        std::vector<std::uint64_t> blocks;   // palette indices, packed into 64-bit words
        std::int32_t mesh = -1;
        std::int32_t collider = -1;
        std::int16_t column = 0;  // index into the sector's columns
        std::uint8_t layer = 0;
        ChunkKind kind = ChunkKind::deep;
        bool has_data = false;  // palette and blocks read
        bool loaded = false;    // mesh and collider built
        bool done = false;      // unloaded for good (evicted, or the sector is unloading)
    };
    struct Sector {
        int index = 0;
        std::vector<Column> columns;  // this sector's shuffle of the terrain template
        std::vector<Chunk> chunks;    // ordered by x, so front-to-back is vector order
        bool active = false;          // its meshes are built (or being built)
        std::size_t next_to_load = 0;
        std::size_t loaded = 0;
        std::size_t done = 0;  // chunks unloaded for good
        bool unloading = false;
    };

    std::unique_ptr<Sector> make_sector(int index) const;
    Sector& sector_at(int index);
    void stream_data(double camera_x, std::size_t budget);
    void read_data(Sector& sector, Chunk& chunk);
    void drop_data(Chunk& chunk);
    void load_chunk(Sector& sector, Chunk& chunk);
    void unload_chunk(Sector& sector, Chunk& chunk);
    double chunk_x(const Sector& sector, const Chunk& chunk) const;
    std::uint64_t chunk_seed(const Sector& sector, const Chunk& chunk) const;
    static std::size_t chunk_bytes(const Chunk& chunk);
    static std::size_t table_bytes(const Sector& sector);

    std::uint64_t seed_;
    MeshStore& meshes_;
    PhysicsWorld& physics_;
    std::vector<Column> terrain_;                   // the template every sector is a shuffle of
    std::vector<std::unique_ptr<Sector>> sectors_;  // oldest first
    std::size_t block_bytes_ = 0;                   // palettes and block arrays of loaded chunks
    std::size_t table_bytes_ = 0;                   // the sectors' column and chunk tables
    std::size_t loaded_chunks_ = 0;                 // chunks with data
    double read_ahead_ = kReadAheadStartColumns;
};

// ------------------------------------------------------------------------------------
// Textures

/// Texture atlas pages with their mip chains, and the render targets.
class TextureCache {
  public:
    TextureCache();
    /// Loads the pages every sector needs and the render targets.
    void load_base();
    /// Loads a biome's atlas page (no-op if loaded).
    void load_biome(Biome biome);
    /// Frees a biome's atlas page (no-op if not loaded).
    void unload_biome(Biome biome);
    /// Pages, mips, render targets and the page table.
    [[nodiscard]] Footprint footprint() const;

  private:
    struct Page {
        std::string name;
        std::vector<std::vector<std::uint8_t>> mips;  // RGBA8, full size down to 4x4
    };
    void load_page(std::string name, std::size_t edge, std::uint8_t fill);
    std::vector<Page> pages_;
    std::vector<std::uint8_t> color_target_;
    std::vector<std::uint8_t> depth_target_;
};

// ------------------------------------------------------------------------------------
// Entities

/// An ECS with two archetypes, mobs and dropped items, stored as component arrays that
/// grow and shrink with the population (a day/night cycle of mobs, waves of items).
class EntityWorld {
  public:
    EntityWorld();
    /// Spawns the population of time `seconds` at once (the loading screen).
    void populate(double seconds);
    /// One frame: spawns or despawns towards the population of time `seconds`.
    void step(double seconds);
    /// An explosion: `count` particles spawned, simulated and gone within the frame, each
    /// its own small block: churn that leaves the bytes flat (--churn).
    void burst(std::size_t count);
    /// Component arrays (by capacity) and per-mob pose buffers.
    [[nodiscard]] Footprint footprint() const;

  private:
    struct Transform {
        float position[3];
        float rotation[4];
        float scale;
    };
    struct Velocity {
        float linear[3];
        float angular;
    };
    struct Brain {
        std::uint32_t state, target;
        float timers[14];
    };
    struct Bone {
        float rotation[4];
        float translation[3];
        float scale;
    };
    struct Item {
        std::uint32_t kind, count;
        float despawn_at;
        std::uint32_t owner;
    };
    static std::size_t mob_target(double seconds);
    static std::size_t item_target(double seconds);
    void spawn_mob();
    void despawn_mob();
    void spawn_item();
    void despawn_item();
    void shrink_if_sparse();

    std::vector<Transform> mob_transforms_;
    std::vector<Velocity> mob_velocities_;
    std::vector<Brain> mob_brains_;
    std::vector<std::unique_ptr<Bone[]>> mob_poses_;
    std::vector<std::uint16_t> mob_bone_counts_;
    std::size_t pose_bytes_ = 0;
    std::vector<Transform> item_transforms_;
    std::vector<Item> items_;
    std::uint64_t spawned_ = 0;
};

// ------------------------------------------------------------------------------------
// Audio

/// Sample buffers: the ambient loops of the loaded biomes (streamed with the sectors), a
/// pool of voice buffers for sound effects, and the music streaming ring.
class AudioSystem {
  public:
    AudioSystem();
    /// Allocates the voice pool and the music ring.
    void load_base();
    /// Loads a biome's ambient loops (no-op if loaded).
    void load_ambience(Biome biome);
    /// Frees a biome's ambient loops (no-op if not loaded).
    void unload_ambience(Biome biome);
    /// Clips, voices, the ring and the clip table.
    [[nodiscard]] Footprint footprint() const;

  private:
    struct Clip {
        Biome biome;
        std::vector<std::int16_t> samples;  // interleaved stereo
    };
    std::vector<Clip> ambience_;
    std::vector<std::vector<std::int16_t>> voices_;
    std::vector<std::int16_t> music_ring_;
};

}  // namespace voxel

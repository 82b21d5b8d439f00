// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The simulated voxel engine: a camera flies over a world of sectors at a steady speed,
/// and each frame the six subsystems stream, simulate and report what they hold to a
/// memscope::MemoryBudget.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "memscope/budget.hpp"
#include "subsystems.hpp"

namespace voxel {

/// The whole simulated game: owns the subsystems and reports them.
class Engine {
  public:
    static constexpr double kFrameRate = 60.0;   ///< frames per simulated second
    static constexpr double kCameraSpeed = 3.0;  ///< columns per second: a sector in 8 s
    static constexpr double kCameraStart = 4.0;  ///< camera x at frame 0
    /// The chunk data read-ahead widens by this many columns a second (five a sector),
    /// from ChunkStreamer::kReadAheadStartColumns up to kReadAheadMaxColumns: the game
    /// starts with a short one, so that the first frame comes fast, and reads further ahead
    /// while it can. An over-budget call on Chunks halves it.
    static constexpr double kReadAheadGrowth = 0.625;
    static constexpr double kReadAheadMaxColumns = 48.0;      ///< the player's setting: 2 sectors
    static constexpr std::uint64_t kChurnPeriodFrames = 120;  ///< --churn: a burst every 2 s
    static constexpr std::size_t kChurnParticles = 30000;     ///< --churn: allocations per burst

    /// The engine's settings.
    struct Settings {
        bool leak_meshes = false;             ///< --leak
        bool churn = false;                   ///< --churn: a particle burst every 2 s
        std::uint64_t seed = 0x4e6562756c61;  ///< the world's seed
    };

    /// An engine reporting to `budget` (which must outlive it); registers its pressure
    /// callback on "Chunks". Allocates nothing of the world until load().
    Engine(memscope::MemoryBudget& budget, Settings settings);
    /// Unregisters the pressure callback.
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// The loading screen: first sector, base textures and sounds, the first entities;
    /// then the first report.
    void load();

    /// Simulates frame `frame` (1, 2, 3...) and reports every subsystem.
    void step(std::uint64_t frame);

    /// Reports Textures (GPU memory) and the Chunks estimate, then has memscope re-read
    /// the measured rows (Chunks, Meshes, Entities, Audio, Physics: MemoryBudget::update()).
    void report();

    /// Camera position along the flight path at `frame`, in chunk columns.
    [[nodiscard]] static double camera_x(std::uint64_t frame);

    /// Called at the game's milestones with a name such as "sector-3-forest-loaded" and the
    /// frame: the demo turns them into dashboard marks (Server::mark).
    using Milestone = std::function<void(std::string_view name, std::uint64_t frame)>;
    /// Sets the milestone callback (empty: none).
    void on_milestone(Milestone callback) { milestone_ = std::move(callback); }

    /// How many leak checks around sector transitions fired (report_unload()).
    [[nodiscard]] std::size_t unload_leaks() const { return unload_leaks_; }

    /// One row of destroy_and_measure().
    struct Truth {
        std::string name;          ///< subsystem
        std::size_t reported = 0;  ///< what memscope holds as its current bytes
        std::size_t freed = 0;     ///< what the tracked allocator saw freed on teardown
    };
    /// Destroys the subsystems one at a time and measures, with allocation_stats(), the
    /// bytes each teardown freed: the allocator's own account of what each subsystem held,
    /// independent of the footprint arithmetic. Call with no other thread allocating.
    std::vector<Truth> destroy_and_measure();

  private:
    void milestone(const std::string& name, std::uint64_t frame);
    void on_chunk_pressure(const memscope::PressureEvent& event);

    memscope::MemoryBudget& budget_;
    Settings settings_;
    std::unique_ptr<MeshStore> meshes_;
    std::unique_ptr<PhysicsWorld> physics_;
    std::unique_ptr<ChunkStreamer> chunks_;
    std::unique_ptr<TextureCache> textures_;
    std::unique_ptr<EntityWorld> entities_;
    std::unique_ptr<AudioSystem> audio_;

    memscope::CallbackId pressure_callback_ = 0;
    std::thread::id game_thread_;
    double camera_x_ = kCameraStart;
    // Set by the pressure callback; read by the game loop. Atomic because the dashboard's
    // simulated-pressure endpoint calls the callback on a server thread.
    std::atomic<bool> under_pressure_{false};
    std::atomic<bool> eviction_requested_{false};
    std::atomic<bool> narrow_requested_{false};  // an over-budget call: halve the read-ahead

    // Leak check around sector transitions (mark_baseline / report_unload on "Meshes").
    bool baseline_marked_ = false;
    std::size_t attached_at_baseline_ = 0;
    std::size_t attached_last_report_ = 0;
    bool check_unload_ = false;
    std::size_t unload_leaks_ = 0;
    Milestone milestone_;  // the game's milestones (sector loads and unloads)
};

}  // namespace voxel

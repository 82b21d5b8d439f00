// SPDX-License-Identifier: MIT
// Engine: the frame of the simulated game, its memscope reports, its pressure response and
// its leak check around sector transitions.

#include "engine.hpp"

#include <algorithm>

#include "memscope/allocator.hpp"
#include "memscope/scope.hpp"

namespace voxel {

Engine::Engine(memscope::MemoryBudget& budget, Settings settings)
    : budget_(budget), settings_(settings), game_thread_(std::this_thread::get_id()) {
    pressure_callback_ = budget_.on_pressure(
        "Chunks", [this](const memscope::PressureEvent& e) { on_chunk_pressure(e); });
}

Engine::~Engine() {
    budget_.remove_pressure_callback(pressure_callback_);
}

double Engine::camera_x(std::uint64_t frame) {
    return kCameraStart + kCameraSpeed * static_cast<double>(frame) / kFrameRate;
}

void Engine::load() {
    // Each subsystem is made inside its own scope, as its methods run inside it
    // (MEMSCOPE_SCOPE at their top), so everything it holds is charged to its tag.
    // Textures are not scoped: they stand for GPU memory, which the game reports.
    {
        MEMSCOPE_SCOPE("Meshes");
        meshes_ = std::make_unique<MeshStore>(settings_.leak_meshes);
    }
    {
        MEMSCOPE_SCOPE("Physics");
        physics_ = std::make_unique<PhysicsWorld>();
    }
    {
        MEMSCOPE_SCOPE("Chunks");
        chunks_ = std::make_unique<ChunkStreamer>(settings_.seed, *meshes_, *physics_);
    }
    textures_ = std::make_unique<TextureCache>();
    {
        MEMSCOPE_SCOPE("Entities");
        entities_ = std::make_unique<EntityWorld>();
    }
    {
        MEMSCOPE_SCOPE("Audio");
        audio_ = std::make_unique<AudioSystem>();
    }

    camera_x_ = camera_x(0);
    chunks_->load_initial(camera_x_);
    physics_->step();
    const Biome biome = biome_of(static_cast<int>(camera_x_ / kSectorColumns));
    textures_->load_base();
    textures_->load_biome(biome);
    audio_->load_base();
    audio_->load_ambience(biome);
    entities_->populate(0.0);
    report();
}

void Engine::step(std::uint64_t frame) {
    const double seconds = static_cast<double>(frame) / kFrameRate;
    camera_x_ = camera_x(frame);

    double read_ahead = chunks_->read_ahead();
    if (narrow_requested_.exchange(false, std::memory_order_relaxed))
        read_ahead = std::max(ChunkStreamer::kReadAheadStartColumns, read_ahead / 2);
    else
        read_ahead = std::min(kReadAheadMaxColumns, read_ahead + kReadAheadGrowth / kFrameRate);
    chunks_->set_read_ahead(read_ahead);
    const ChunkStreamer::StepResult streamed = chunks_->step(camera_x_);
    if (streamed.sector_created >= 0) {
        const Biome biome = biome_of(streamed.sector_created);
        textures_->load_biome(biome);
        audio_->load_ambience(biome);
        // A transition starts: remember where the meshes stood (as last reported, which is
        // what mark_baseline() records) so that, once the old sector is gone, memscope can
        // say whether they came back down.
        budget_.mark_baseline("Meshes");
        attached_at_baseline_ = attached_last_report_;
        baseline_marked_ = true;
        milestone("sector-" + std::to_string(streamed.sector_created) + "-" + to_string(biome) +
                      "-loaded",
                  frame);
    }
    // While Chunks is under pressure, keep evicting what falls far behind the camera;
    // an eviction requested from another thread (a simulated pressure) runs here too.
    if (under_pressure_.load(std::memory_order_relaxed) ||
        eviction_requested_.exchange(false, std::memory_order_relaxed))
        chunks_->evict_behind(camera_x_);
    if (streamed.sector_unloaded >= 0) {
        const Biome biome = biome_of(streamed.sector_unloaded);
        if (!chunks_->biome_in_use(biome)) {
            textures_->unload_biome(biome);
            audio_->unload_ambience(biome);
        }
        check_unload_ = baseline_marked_;
        milestone("sector-" + std::to_string(streamed.sector_unloaded) + "-unloaded", frame);
    }
    physics_->step();
    entities_->step(seconds);
    // Every 2 s (from 1 s in), an explosion's particles: a frame of churn.
    if (settings_.churn && frame % kChurnPeriodFrames == kChurnPeriodFrames / 2)
        entities_->burst(kChurnParticles);
    report();

    if (check_unload_) {
        check_unload_ = baseline_marked_ = false;
        // The meshes the engine still uses grew or shrank by this much since the baseline
        // (the new sector's against the old one's); anything beyond that, and a 64 KiB
        // allowance, stayed behind. A leak smaller than a shrinking sector would hide in
        // the difference, which is why the sampler's floor test runs as well.
        const std::size_t growth = attached_last_report_ > attached_at_baseline_
                                       ? attached_last_report_ - attached_at_baseline_
                                       : 0;
        if (budget_.report_unload("Meshes", growth + 64 * 1024)) ++unload_leaks_;
    }
}

void Engine::milestone(const std::string& name, std::uint64_t frame) {
    if (milestone_) milestone_(name, frame);
}

void Engine::report() {
    // Textures: GPU memory, reported. Chunks: measured, and also reported with a
    // hand-written estimate that is wrong on purpose (the dashboard shows both, and the
    // difference). The other four are measured only.
    const Footprint textures = textures_->footprint();
    budget_.report("Textures", textures.bytes, textures.count);
    attached_last_report_ = meshes_->attached_bytes();
    if (!memscope::tracking_enabled()) {
        // A build without tracking measures nothing: the engine reports every subsystem's
        // own footprint instead, as a game without scopes does.
        const Footprint chunks = chunks_->footprint();
        budget_.report("Chunks", chunks.bytes, chunks.count);
        const Footprint meshes = meshes_->footprint();
        budget_.report("Meshes", meshes.bytes, meshes.count);
        const Footprint entities = entities_->footprint();
        budget_.report("Entities", entities.bytes, entities.count);
        const Footprint audio = audio_->footprint();
        budget_.report("Audio", audio.bytes, audio.count);
        const Footprint physics = physics_->footprint();
        budget_.report("Physics", physics.bytes, physics.count);
        return;
    }
    const Footprint chunks = chunks_->estimate();
    budget_.report("Chunks", chunks.bytes, chunks.count);
    // Re-reads the measured rows, fires their warnings and calls their pressure callbacks,
    // as report() does (a Chunks eviction in its callback measures again).
    budget_.update();
}

void Engine::on_chunk_pressure(const memscope::PressureEvent& event) {
    const bool pressed = event.status == memscope::MemoryStatus::warning ||
                         event.status == memscope::MemoryStatus::over_budget;
    if (event.simulated) {
        // The dashboard's simulated pressure: exercise the eviction path once, on the game
        // thread, without pretending the figures changed.
        if (pressed) eviction_requested_.store(true, std::memory_order_relaxed);
        return;
    }
    under_pressure_.store(pressed, std::memory_order_relaxed);
    if (!pressed) return;
    // Evicting behind frees meshes and colliders, but the data is the read-ahead's: over
    // budget, read less far ahead (from the next frame on). A forecast alone changes
    // nothing here, so the demo crosses its scaled budget and shows both events.
    if (event.status == memscope::MemoryStatus::over_budget && event.forecast_seconds == 0)
        narrow_requested_.store(true, std::memory_order_relaxed);
    if (std::this_thread::get_id() != game_thread_ || !chunks_) {
        eviction_requested_.store(true, std::memory_order_relaxed);
        return;
    }
    // On the game thread, inside update(): evict now and measure again, so the spike is
    // cut in this very frame. memscope calls back with no lock held, so this nested
    // update() is allowed.
    if (chunks_->evict_behind(camera_x_) > 0) {
        if (memscope::tracking_enabled()) {
            budget_.update();
        } else {
            const Footprint chunks = chunks_->footprint();
            budget_.report("Chunks", chunks.bytes, chunks.count);
        }
    }
}

std::vector<Engine::Truth> Engine::destroy_and_measure() {
    std::vector<Truth> rows;
    auto measure = [&](const char* name, auto& subsystem) {
        Truth row;
        row.name = name;
        if (const auto memory = budget_.subsystem(name)) row.reported = memory->current_bytes;
        const std::size_t before = memscope::allocation_stats().total_allocated_bytes;
        subsystem.reset();
        const std::size_t after = memscope::allocation_stats().total_allocated_bytes;
        row.freed = before > after ? before - after : 0;
        rows.push_back(std::move(row));
    };
    // Chunks first: it refers to meshes and colliders by slot only and frees neither.
    measure("Chunks", chunks_);
    measure("Meshes", meshes_);
    measure("Textures", textures_);
    measure("Entities", entities_);
    measure("Audio", audio_);
    measure("Physics", physics_);
    return rows;
}

}  // namespace voxel

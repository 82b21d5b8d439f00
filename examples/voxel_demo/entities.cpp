// SPDX-License-Identifier: MIT
// EntityWorld: component arrays of two archetypes that grow and shrink with the population.

#include <cmath>
#include <iterator>
#include <numbers>
#include "memscope/scope.hpp"

#include "subsystems.hpp"

namespace voxel {
namespace {

// Halves an array's capacity once it is less than a quarter used: std::vector never
// gives memory back by itself, and a game whose population swings wants it to.
template <class T>
void shrink_if_sparse(std::vector<T>& v) {
    const std::size_t capacity = v.capacity();
    if (capacity <= 1024 || v.size() >= capacity / 4) return;
    std::vector<T> smaller;
    smaller.reserve(capacity / 2);
    std::move(v.begin(), v.end(), std::back_inserter(smaller));
    v.swap(smaller);
}

// 0 at t = 0, 1 half a period later, 0 again after a period.
double wave(double seconds, double period) {
    return 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * seconds / period);
}

}  // namespace

EntityWorld::EntityWorld() = default;

// Mobs follow a 40-second day/night cycle and dropped items 20-second waves. Both periods
// are shorter than the sampler's leak window (60 samples), so every window sees a trough
// and the population cannot pass for a leak.
std::size_t EntityWorld::mob_target(double seconds) {
    return 500 + static_cast<std::size_t>(std::lround(4000.0 * wave(seconds, 40.0)));
}

std::size_t EntityWorld::item_target(double seconds) {
    return 1000 + static_cast<std::size_t>(std::lround(5000.0 * wave(seconds, 20.0)));
}

void EntityWorld::spawn_mob() {
    const auto f = static_cast<float>(spawned_);
    mob_transforms_.push_back({{f, 64.0f, f}, {0.0f, 0.0f, 0.0f, 1.0f}, 1.0f});
    mob_velocities_.push_back({{0.0f, 0.0f, 1.0f}, 0.0f});
    mob_brains_.push_back({static_cast<std::uint32_t>(spawned_ % 7), 0, {}});
    // Three skeletons: small critters, humanoids, large beasts.
    static constexpr std::uint16_t kBones[] = {16, 24, 48};
    const std::uint16_t bones = kBones[spawned_ % 3];
    mob_poses_.push_back(std::make_unique<Bone[]>(bones));
    mob_bone_counts_.push_back(bones);
    pose_bytes_ += bones * sizeof(Bone);
    ++spawned_;
}

void EntityWorld::despawn_mob() {
    pose_bytes_ -= mob_bone_counts_.back() * sizeof(Bone);
    mob_transforms_.pop_back();
    mob_velocities_.pop_back();
    mob_brains_.pop_back();
    mob_poses_.pop_back();
    mob_bone_counts_.pop_back();
}

void EntityWorld::spawn_item() {
    const auto f = static_cast<float>(items_.size());
    item_transforms_.push_back({{f, 64.0f, -f}, {0.0f, 0.0f, 0.0f, 1.0f}, 0.5f});
    items_.push_back({static_cast<std::uint32_t>(items_.size() % 64), 1, 300.0f, 0});
}

void EntityWorld::despawn_item() {
    item_transforms_.pop_back();
    items_.pop_back();
}

void EntityWorld::shrink_if_sparse() {
    voxel::shrink_if_sparse(mob_transforms_);
    voxel::shrink_if_sparse(mob_velocities_);
    voxel::shrink_if_sparse(mob_brains_);
    voxel::shrink_if_sparse(mob_poses_);
    voxel::shrink_if_sparse(mob_bone_counts_);
    voxel::shrink_if_sparse(item_transforms_);
    voxel::shrink_if_sparse(items_);
}

void EntityWorld::populate(double seconds) {
    MEMSCOPE_SCOPE("Entities");
    while (mob_transforms_.size() < mob_target(seconds)) spawn_mob();
    while (items_.size() < item_target(seconds)) spawn_item();
}

void EntityWorld::step(double seconds) {
    MEMSCOPE_SCOPE("Entities");
    const std::size_t mobs = mob_target(seconds);
    const std::size_t items = item_target(seconds);
    // At most this many spawns or despawns of each archetype per frame.
    constexpr std::size_t kPerFrame = 64;
    for (std::size_t i = 0; i < kPerFrame && mob_transforms_.size() < mobs; ++i) spawn_mob();
    for (std::size_t i = 0; i < kPerFrame && mob_transforms_.size() > mobs; ++i) despawn_mob();
    for (std::size_t i = 0; i < kPerFrame && items_.size() < items; ++i) spawn_item();
    for (std::size_t i = 0; i < kPerFrame && items_.size() > items; ++i) despawn_item();
    shrink_if_sparse();
}

void EntityWorld::burst(std::size_t count) {
    MEMSCOPE_SCOPE("Entities");
    struct Particle {
        Transform transform;
        Velocity velocity;
        float life;
    };
    std::vector<std::unique_ptr<Particle>> particles;
    particles.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto p = std::make_unique<Particle>();
        p->life = 1.0f + static_cast<float>(i % 7);
        particles.push_back(std::move(p));
    }
}

Footprint EntityWorld::footprint() const {
    Footprint f;
    f.bytes = mob_transforms_.capacity() * sizeof(Transform) +
              mob_velocities_.capacity() * sizeof(Velocity) +
              mob_brains_.capacity() * sizeof(Brain) +
              mob_poses_.capacity() * sizeof(mob_poses_[0]) +
              mob_bone_counts_.capacity() * sizeof(std::uint16_t) + pose_bytes_ +
              item_transforms_.capacity() * sizeof(Transform) + items_.capacity() * sizeof(Item);
    f.count = mob_transforms_.size() + items_.size();
    return f;
}

}  // namespace voxel

// SPDX-License-Identifier: MIT
// TextureCache and AudioSystem: the asset-shaped subsystems, streamed per biome.

#include <algorithm>
#include "memscope/scope.hpp"

#include "subsystems.hpp"

namespace voxel {

// ------------------------------------------------------------------------------------
// Textures

TextureCache::TextureCache() {
    pages_.reserve(8);  // a fixed page table, as GPU descriptor tables are
}

void TextureCache::load_page(std::string name, std::size_t edge, std::uint8_t fill) {
    Page page;
    page.name = std::move(name);
    std::size_t levels = 0;
    for (std::size_t e = edge; e >= 4; e /= 2) ++levels;
    page.mips.reserve(levels);
    for (std::size_t e = edge; e >= 4; e /= 2) page.mips.emplace_back(e * e * 4, fill);
    pages_.push_back(std::move(page));
}

void TextureCache::load_base() {
    load_page("terrain_albedo", 1024, 0x80);
    load_page("terrain_normal", 1024, 0x7f);
    load_page("ui", 512, 0xff);
    color_target_.assign(std::size_t{1024} * 512 * 4, 0);  // RGBA8 1024x512
    depth_target_.assign(std::size_t{1024} * 512 * 4, 0);  // D32
}

void TextureCache::load_biome(Biome biome) {
    const std::string name = std::string("biome_") + to_string(biome);
    const bool loaded =
        std::any_of(pages_.begin(), pages_.end(), [&](const Page& p) { return p.name == name; });
    if (!loaded) load_page(name, 1024, static_cast<std::uint8_t>(biome));
}

void TextureCache::unload_biome(Biome biome) {
    const std::string name = std::string("biome_") + to_string(biome);
    std::erase_if(pages_, [&](const Page& p) { return p.name == name; });
}

Footprint TextureCache::footprint() const {
    // Textures stand for GPU memory, which the CPU allocator cannot see, so the engine
    // reports them. A real engine asks the driver what each resource holds; the demo's
    // "driver" is the allocator's own account of the stand-in buffers.
    auto held = [](const void* p) { return memscope::usable_size(p); };
    Footprint f;
    f.bytes = held(pages_.data()) + held(color_target_.data()) + held(depth_target_.data());
    for (const Page& p : pages_) {
        // A name longer than the small-string buffer lives on the heap too.
        if (p.name.capacity() > std::string().capacity()) f.bytes += held(p.name.data());
        f.bytes += held(p.mips.data());
        for (const auto& mip : p.mips) f.bytes += held(mip.data());
    }
    f.count = pages_.size() + (color_target_.empty() ? 0 : 2);
    return f;
}

// ------------------------------------------------------------------------------------
// Audio

namespace {
constexpr std::size_t kAmbienceFrames = std::size_t{1} << 18;  // ~6 s loops at 44.1 kHz
constexpr std::size_t kVoices = 16;
constexpr std::size_t kVoiceFrames = std::size_t{1} << 16;  // ~1.5 s per effect
constexpr std::size_t kMusicRingFrames = std::size_t{1} << 16;
}  // namespace

AudioSystem::AudioSystem() {
    MEMSCOPE_SCOPE("Audio");
    ambience_.reserve(8);
}

void AudioSystem::load_base() {
    MEMSCOPE_SCOPE("Audio");
    voices_.reserve(kVoices);
    for (std::size_t i = 0; i < kVoices; ++i) voices_.emplace_back(kVoiceFrames * 2, 0);
    music_ring_.assign(kMusicRingFrames * 2, 0);
}

void AudioSystem::load_ambience(Biome biome) {
    MEMSCOPE_SCOPE("Audio");
    if (std::any_of(ambience_.begin(), ambience_.end(),
                    [&](const Clip& c) { return c.biome == biome; }))
        return;
    for (int loop = 0; loop < 2; ++loop) {
        Clip clip;
        clip.biome = biome;
        clip.samples.assign(kAmbienceFrames * 2, static_cast<std::int16_t>(loop + 1));
        ambience_.push_back(std::move(clip));
    }
}

void AudioSystem::unload_ambience(Biome biome) {
    MEMSCOPE_SCOPE("Audio");
    std::erase_if(ambience_, [&](const Clip& c) { return c.biome == biome; });
}

Footprint AudioSystem::footprint() const {
    Footprint f;
    f.bytes = ambience_.capacity() * sizeof(Clip) + voices_.capacity() * sizeof(voices_[0]) +
              music_ring_.capacity() * sizeof(std::int16_t);
    for (const Clip& c : ambience_) f.bytes += c.samples.capacity() * sizeof(std::int16_t);
    for (const auto& v : voices_) f.bytes += v.capacity() * sizeof(std::int16_t);
    f.count = ambience_.size() + voices_.size() + (music_ring_.empty() ? 0 : 1);
    return f;
}

}  // namespace voxel

// SPDX-License-Identifier: MIT
// README.md's C++ example, compiled and run as it is written: CMake cuts the example out
// of the README into readme_includes.inc and readme_body.inc. The stand-ins below play
// the game's own objects it mentions.

#include <cstdint>
#include <cstdio>
#include <vector>

#include "readme_includes.inc"

namespace {

struct World {
    std::vector<std::vector<char>> chunks;
    void stream_chunks(std::uint64_t frame) {
        chunks.emplace_back(4096);
        if (frame % 3 == 0) chunks.erase(chunks.begin());
    }
    void unload_distant_chunks() { chunks.resize(chunks.size() / 2); }
};

struct Gpu {
    std::size_t texture_bytes() const { return 1 << 20; }
    std::size_t texture_count() const { return 16; }
};

// The example's loop runs "while running": 600 frames here.
struct Running {
    int frames_left = 600;
    explicit operator bool() { return frames_left-- > 0; }
};

}  // namespace

int main() {
    World world;
    for (int i = 0; i < 100; ++i) world.chunks.emplace_back(4096);
    Gpu gpu;
    Running running;
    {
#include "readme_body.inc"
    } std::puts("README example ran");
    return 0;
}

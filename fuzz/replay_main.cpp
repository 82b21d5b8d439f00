// SPDX-License-Identifier: MIT
// Replays fuzz inputs without libFuzzer: feeds every file named on the command line, and
// every file of every directory named (sorted, recursively, dot files skipped), to the
// target's LLVMFuzzerTestOneInput(). A failed check aborts, which fails the CTest test;
// the file being replayed is printed first so the failure names it.
//
// usage: fuzz_replay_<target> PATH...

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return !name.empty() && name.front() == '.';
}

// The files under `root` (or `root` itself), sorted; false if it does not exist.
bool collect(const fs::path& root, std::vector<fs::path>& out) {
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) {
        out.push_back(root);
        return true;
    }
    if (!fs::is_directory(root, ec)) return false;
    std::vector<fs::path> found;
    for (const auto& entry : fs::recursive_directory_iterator(root, ec))
        if (entry.is_regular_file() && !hidden(entry.path())) found.push_back(entry.path());
    if (ec) return false;
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        // A directory that is not there is a broken test setup, not an empty corpus.
        if (!collect(argv[i], files)) {
            std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
            return 2;
        }
    }
    std::size_t bytes = 0;
    for (const fs::path& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "%s: cannot read\n", file.c_str());
            return 2;
        }
        const std::vector<char> data((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
        // Named before the run: if a check aborts, the last line says which input.
        std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.c_str(), data.size());
        static_cast<void>(LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()),
                                                 data.size()));
        bytes += data.size();
    }
    std::printf("replayed %zu inputs (%zu bytes) without a failure\n", files.size(), bytes);
    return 0;
}

// SPDX-License-Identifier: MIT
// A program with its own global operator new and operator delete, as engines and
// middleware often have: each block carries a header in front of what the program sees, and
// the program counts its blocks. It replaces only the two basic forms, as the C++ standard
// lets it: the library's array, nothrow and sized forms must come back to them, or a
// block of its operator new reaches another operator delete. Run by
// tests/run_strangers.sh, plain and under memscope-run, whose output must be the same.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t kMagic = 0x6f776e2d6e657721;  // "own-new!"
struct alignas(16) Header {
    std::uint64_t magic;
    std::uint64_t size;
};

long g_news = 0;
long g_deletes = 0;

}  // namespace

void* operator new(std::size_t size) {
    auto* h = static_cast<Header*>(std::malloc(sizeof(Header) + size));
    if (h == nullptr) throw std::bad_alloc();
    h->magic = kMagic;
    h->size = size;
    ++g_news;
    return h + 1;
}

void operator delete(void* p) noexcept {
    if (p == nullptr) return;
    Header* h = static_cast<Header*>(p) - 1;
    if (h->magic != kMagic) {
        std::fprintf(stderr, "WRONG: operator delete got a block its operator new did not make\n");
        std::abort();
    }
    h->magic = 0;
    ++g_deletes;
    std::free(h);
}

namespace {

struct Node {
    std::string name;
    double weight;
};

}  // namespace

int main() {
    long made = 0;
    for (int round = 0; round < 200; ++round) {
        std::vector<std::unique_ptr<Node>> nodes;  // new, and sized delete
        for (int i = 0; i < 100; ++i)
            nodes.push_back(std::make_unique<Node>(Node{std::string(i % 40, 'n'), i * 0.5}));
        auto* array = new int[1000];  // new[], then delete[]
        array[999] = round;
        made += array[999];
        delete[] array;
        int* nothrow = new (std::nothrow) int(round);  // the nothrow form
        made += *nothrow;
        delete nothrow;
        std::map<int, std::string> map;
        std::list<std::string> list;
        for (int i = 0; i < 50; ++i) {
            map.emplace(i, std::string(60, 'm'));
            list.emplace_back(70, 'l');
        }
        std::shared_ptr<Node> shared = std::make_shared<Node>();
        made += static_cast<long>(map.size() + list.size() + nodes.size());
    }
    // Every block its operator delete got was one of its operator new's (it aborts
    // otherwise). The counts need not balance here: under memscope-run, the dashboard's
    // own blocks come through this operator new too, as any library's would, and some are
    // still live when main returns.
    std::printf("own operator new: made %ld, %s\n", made,
                g_news >= g_deletes ? "every block came back to it" : "deleted more than made");
    return g_news >= g_deletes ? 0 : 3;
}

// SPDX-License-Identifier: MIT
// read_small_file(): the config file and the page's development copies are read whole.

#include <cerrno>
#include <cstdio>
#include <memory>

#include "memscope/internal.hpp"

namespace memscope::detail {
namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

FileRead read_small_file(const std::string& path, std::size_t max_bytes, std::string& out) {
    FileRead r;
    errno = 0;
    const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        r.error_code = errno;
        return r;
    }
    char buf[16384];
    for (;;) {
        const std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
        out.append(buf, n);
        if (out.size() > max_bytes) {
            r.too_large = true;
            return r;
        }
        if (n < sizeof buf) break;
    }
    if (std::ferror(file.get())) {
        r.error_code = errno != 0 ? errno : EIO;  // reading a directory fails here: EISDIR
        return r;
    }
    r.ok = true;
    return r;
}

}  // namespace memscope::detail

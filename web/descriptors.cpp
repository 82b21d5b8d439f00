// SPDX-License-Identifier: MIT
// Descriptor identities, with fstat().

#include "descriptors.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace memscope::web {

FdIdentity FdIdentity::of(int fd) noexcept {
    FdIdentity id;
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) return id;
    id.device_ = st.st_dev;
    id.inode_ = st.st_ino;
    id.known_ = true;
    return id;
}

bool FdIdentity::matches(int fd) const noexcept {
    if (!known_ || fd < 0) return false;
    struct stat st {};
    return ::fstat(fd, &st) == 0 && st.st_dev == device_ && st.st_ino == inode_;
}

bool close_if_ours(int fd, const FdIdentity& identity) noexcept {
    if (!identity.matches(fd)) return false;
    ::close(fd);  // the window between the check and the close: see descriptors.hpp
    return true;
}

}  // namespace memscope::web

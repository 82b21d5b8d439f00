// SPDX-License-Identifier: MIT
#pragma once
// Which descriptors are still the dashboard's. memscope may run inside a program it does
// not know (memscope-run), and programs (daemons) close every descriptor from 3 up early
// in main, then open their own files, which get the same numbers. A number alone says
// nothing: every read, write or close of a descriptor the dashboard made first checks
// that the number still names the file it made, by device and inode (sockets and pipes
// each have their own inode; eventfds share one, so the dashboard makes none).
//
// The check and the use that follows are two system calls: a program closing the
// descriptor and opening another between them is not caught. That window is a few
// instructions wide, against a program that closes descriptors it did not open, once, at
// its start; it is accepted.

#include <sys/types.h>

namespace memscope::web {

/// A descriptor's identity: the file it named when memscope made it.
class FdIdentity {
  public:
    /// No file: matches no descriptor.
    FdIdentity() = default;
    /// What `fd` names now (no file if fstat() fails). Called right after memscope makes it.
    [[nodiscard]] static FdIdentity of(int fd) noexcept;

    /// Whether `fd` still names this file (never for an identity of no file).
    [[nodiscard]] bool matches(int fd) const noexcept;
    /// Whether a file was recorded.
    [[nodiscard]] bool known() const noexcept { return known_; }

  private:
    dev_t device_ = 0;
    ino_t inode_ = 0;
    bool known_ = false;
};

/// Closes `fd` if it still names `identity`'s file; a descriptor that is no longer ours is
/// left alone (the program closed it, and its number may now be the program's). True when
/// it was closed.
bool close_if_ours(int fd, const FdIdentity& identity) noexcept;

}  // namespace memscope::web

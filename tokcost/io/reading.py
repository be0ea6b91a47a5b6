"""One bounded read for every file tokcost reads (issue 17, class 1).

Only regular files are read: a device, FIFO, socket or directory is refused at once (the file is opened with
``O_NONBLOCK`` so a FIFO never blocks the open, then checked with ``fstat``). The size is checked before reading
and the read itself is bounded, so a file that grows, or lies about its size, still cannot exhaust memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class ReadRefused(OSError):
    """The file is not a regular file or is larger than the limit for its kind."""


_READ: set[tuple[int, int]] = set()  # (device, inode) of every file read since forget_reads(): outputs avoid them


def was_read(st: os.stat_result) -> bool:
    """Whether the file with this stat was read since :func:`forget_reads` (an output must not replace it)."""
    return (st.st_dev, st.st_ino) in _READ


def forget_reads() -> None:
    """Start a new run: the CLI calls it before each command."""
    _READ.clear()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else raises an OSError with a message."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(os.fspath(path), flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadRefused(f"is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise ReadRefused(f"file is larger than {limit:,} bytes")
        _READ.add((st.st_dev, st.st_ino))
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        raw = b"".join(chunks)
        if len(raw) > limit:
            raise ReadRefused(f"file is larger than {limit:,} bytes")
        return raw
    finally:
        os.close(fd)

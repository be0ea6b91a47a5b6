"""The one way tokcost writes files: to a temporary file beside the target, fsync, then rename over it.

A run that fails or is killed midway leaves the previous file untouched (rename is atomic on POSIX and on
Windows' ``os.replace``); nothing is written until the content is complete.

Only regular files are replaced: a character device (``/dev/null``, a terminal) is written through, as a shell
redirection would; a directory, FIFO, socket or block device is refused. A symbolic link keeps pointing where it
did: the file it points at is replaced. A file this run read (a spec, a baseline) is never an output: refused.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tokcost.io.reading import was_read

# Test hook (tests/test_atomic.py): when set, write_atomic fails after the temporary file is complete and before
# the rename, as a run that dies at the worst moment would; set to "sleep" it first pauses 60 s so that a test
# can kill the process there. Never set it outside tests.
TEST_FAIL_ENV = "TOKCOST_TEST_FAIL_BEFORE_RENAME"


class OutputRefused(OSError):
    """The output is not a file tokcost may replace."""


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """``data`` to ``path``, atomically (see the module's docstring for what ``path`` may be)."""
    with open_atomic(path) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def open_atomic(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, piece by piece (a streaming sweep): the pieces go to a temporary
    file beside it, renamed over ``path`` when the block ends without an error; an error or a kill leaves ``path``
    as it was. A character device is written through."""
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        if was_read(st):
            raise OutputRefused("it is one of this run's inputs; write the output to another file")
        if stat.S_ISCHR(st.st_mode):  # /dev/null, a terminal: write through, nothing to replace
            with open(target, "wb") as device:
                yield device
            return
        if not stat.S_ISREG(st.st_mode):
            raise OutputRefused("it is not a regular file (a directory, FIFO, socket or block device)")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        hook = os.environ.get(TEST_FAIL_ENV)
        if hook == "sleep":  # the test kills the process during this pause
            time.sleep(60)
        if hook:
            raise OSError(f"{TEST_FAIL_ENV} is set: failing before the rename, as a killed run would")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # persist the rename itself
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass

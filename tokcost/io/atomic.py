"""The one way tokcost writes files: to a temporary file beside the target, fsync, then rename over it.

A run that fails or is killed midway leaves the previous file untouched (rename is atomic on POSIX and on
Windows' ``os.replace``); nothing is written until the content is complete. A SIGINT, SIGTERM or SIGHUP removes
the temporary file (the CLI turns the last two into an exit, :func:`tokcost.cli.common.prepare_process`).

What an output may be, as a shell redirection (``> FILE``) would treat it:

- a regular file is replaced atomically; a new one gets the mode the umask gives (``0666 & ~umask``), an existing
  one keeps its mode; a file the user may not write (``chmod 0444``) is refused as the shell refuses it;
- a descriptor link (``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``) is written through that
  descriptor, never renamed over: ``-o /dev/stdout >> log.txt`` appends to ``log.txt`` as ``>> log.txt`` asks;
- a character device (``/dev/null``, a terminal) is written through;
- a name ending in ``/``, a directory, FIFO, socket or block device is refused; so is a file this run read (a
  spec, a baseline);
- a symbolic link keeps pointing where it did: the file it points at is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tokcost.io.reading import was_read

# Test hook (tests/test_atomic.py): when set, write_atomic fails after the temporary file is complete and before
# the rename, as a run that dies at the worst moment would; set to "sleep" it first pauses 60 s so that a test
# can kill the process there. Never set it outside tests.
TEST_FAIL_ENV = "TOKCOST_TEST_FAIL_BEFORE_RENAME"

_DESCRIPTOR = re.compile(r"/(?:dev/fd|proc/(?P<pid>self|thread-self|\d+)(?:/task/\d+)?/fd)/(?P<fd>\d+)")
_STANDARD = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_TEMP_SUFFIX = ".tmp"
_RANDOM_CHARS = 8


class OutputRefused(OSError):
    """The output is not a file tokcost may replace (exit 2: the user named the wrong thing)."""


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """``data`` to ``path``, atomically (see the module's docstring for what ``path`` may be)."""
    with open_atomic(path) as fh:
        fh.write(data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data)


@contextlib.contextmanager
def open_atomic(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, piece by piece (a streaming sweep): the pieces go to a temporary
    file beside it, renamed over ``path`` when the block ends without an error; an error, a kill or a signal
    leaves ``path`` as it was. Descriptor links and character devices are written through."""
    text = os.fspath(path)
    if not text:
        raise OutputRefused("the output name is empty")
    if text.endswith(os.sep) or (os.altsep and text.endswith(os.altsep)):
        raise OutputRefused("it names a directory (it ends with '/'); give a file name")
    descriptor = descriptor_of(text)
    if descriptor is not None:
        with _through_descriptor(descriptor) as fh:
            yield fh
        return
    target = Path(os.path.realpath(text)) if os.path.islink(text) else Path(text)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        _check_replaceable(target, st)
        if stat.S_ISCHR(st.st_mode):  # /dev/null, a terminal: write through, nothing to replace
            with open(target, "wb") as device:
                yield device
            return
    elif not parent.is_dir():
        raise OutputRefused(f"the folder {parent} does not exist")
    # The name is chosen before the file exists and the cleanup below covers its creation: a signal that lands
    # between the create and the next statement still has the name to remove.
    names = _temporary_names(parent, target.name)
    tmp = next(names)
    try:
        while True:
            try:
                fd = _create(tmp, existing=st)
                break
            except FileExistsError:  # another file has this random name: not ours to remove
                tmp = ""  # (nothing of ours exists until the next name is created)
                tmp = next(names)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        hook = os.environ.get(TEST_FAIL_ENV)
        if hook == "sleep":  # the test kills the process during this pause
            time.sleep(60)
        if hook:
            raise OSError(f"{TEST_FAIL_ENV} is set: failing before the rename, as a killed run would")
        os.replace(tmp, target)
    except BaseException:  # an error, Ctrl-C, or SIGTERM/SIGHUP (raised as SystemExit by the CLI's handler)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    try:  # persist the rename itself
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _check_replaceable(target: Path, st: os.stat_result) -> None:
    if was_read(st):
        raise OutputRefused("it is one of this run's inputs; write the output to another file")
    if stat.S_ISDIR(st.st_mode):
        raise OutputRefused("it is a directory, not a regular file; give a file name")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        raise OutputRefused("it is not a regular file (a FIFO, socket or block device)")
    # `> FILE` on a read-only file fails; replacing it would not. A file with no write bit is refused even for
    # root, whose shell would write it: a 0444 file is one its owner marked not to be overwritten.
    if not os.access(target, os.W_OK) or (stat.S_ISREG(st.st_mode) and not st.st_mode & 0o222):
        raise PermissionError(errno.EACCES, "Permission denied (the file is read-only)")


def _temporary_names(parent: Path, name: str) -> Iterator[str]:
    """Up to 100 random temporary names in ``parent`` beside ``name``, each within the folder's NAME_MAX (a legal
    255-byte target name stays legal); then an error (the folder is full of them)."""
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    room = max(1, name_max - 2 - _RANDOM_CHARS - len(_TEMP_SUFFIX))  # "." + stem + "." + random + ".tmp"
    stem = os.fsencode(name)[:room].decode(sys.getfilesystemencoding(), "ignore") or "out"
    for _ in range(100):
        yield str(parent / f".{stem}.{secrets.token_hex(_RANDOM_CHARS // 2)}{_TEMP_SUFFIX}")
    raise FileExistsError(errno.EEXIST, "no unused temporary file name")  # pragma: no cover


def _create(tmp: str, existing: os.stat_result | None) -> int:
    """Create ``tmp`` (never an existing file or a link) and open it to write. A new target's mode is what the umask
    gives (the kernel applies it to 0666); a replaced file's mode is kept."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600 if existing is not None else 0o666)
    if existing is not None and hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, stat.S_IMODE(existing.st_mode) & 0o777)
        except BaseException:
            os.close(fd)
            raise
    return fd


def descriptor_of(path: str) -> int | None:
    """The descriptor number when ``path`` is, or links through, one of this process's descriptors (``/dev/stdout``,
    ``/dev/fd/1``, ``/proc/self/fd/1``), else None. A link into another process's descriptors is refused."""
    seen = 0
    current = os.path.abspath(path)
    while seen < 40:  # the kernel's own limit on links followed
        if current in _STANDARD:
            return _STANDARD[current]
        folder, base = os.path.split(current)
        current = os.path.join(os.path.realpath(folder), base)
        m = _DESCRIPTOR.fullmatch(current)
        if m is not None:
            pid = m["pid"]
            if pid not in (None, "self", "thread-self") and int(pid) != os.getpid():
                raise OutputRefused("it is a descriptor of another process")
            return int(m["fd"])
        if not os.path.islink(current):
            return None
        current = os.path.normpath(os.path.join(folder, os.readlink(current)))
        seen += 1
    raise OutputRefused("too many levels of symbolic links")


def silence_stdout() -> None:
    """Point descriptor 1 at /dev/null once a write to it failed (a broken pipe, a full disk), so that the
    interpreter's flush at exit does not fail a second time with "Exception ignored ... BrokenPipeError"."""
    with contextlib.suppress(Exception):
        if sys.stdout is not None and sys.stdout.fileno() == 1:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)


@contextlib.contextmanager
def _through_descriptor(number: int) -> Iterator[BinaryIO]:
    """Write to this process's descriptor ``number`` as a shell redirection set it up (appending stays appending):
    the descriptor is duplicated, never reopened, truncated or renamed over."""
    try:
        import fcntl

        mode = fcntl.fcntl(number, fcntl.F_GETFL) & os.O_ACCMODE
    except ImportError:  # pragma: no cover - Windows has no fcntl; os.dup below still checks the descriptor
        mode = os.O_WRONLY
    except OSError:
        raise OutputRefused(f"descriptor {number} is not open") from None
    if mode == os.O_RDONLY:
        raise OutputRefused(f"descriptor {number} is open for reading only")
    for stream in (sys.stdout, sys.stderr):  # what was printed before comes first
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    with os.fdopen(os.dup(number), "wb") as fh:
        yield fh
        fh.flush()

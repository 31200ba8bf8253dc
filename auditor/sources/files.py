"""Opening input files (bundles, twcs files, configs): regular files only, lines of bounded size.

A device (``/dev/zero``), a FIFO or a directory given as an input would be read forever, block,
or fail somewhere deep: each is refused on opening with one line naming the file. A FIFO is
opened without blocking, so that refusing it does not wait for a writer.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

# The longest line an input may have (a bundle record, a CSV row). Real records are a few KB;
# a longer line is a broken or hostile file, and reading it whole would take the memory.
MAX_LINE_BYTES: Final = 10 * 1024 * 1024
# The largest twcs file, which is read into memory whole (the public dataset is 0.5 GB).
MAX_TWCS_BYTES: Final = 8 * 1024 * 1024 * 1024
# The largest config file (a config is a few KB).
MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(OSError):
    """An input path that is not a regular file; ``str()`` is the one line to print."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: is {what}, not a regular file")
        self.what = what

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def strerror(self) -> str:  # type: ignore[override]
        return f"is {self.what}, not a regular file"


def _what(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a file"


def open_regular(path: Path) -> IO[bytes]:
    """``path`` opened for binary reading; raises :class:`NotARegularFile` (an OSError) when it
    is anything but a regular file (after symlinks), and OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(path, _what(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: Path) -> None:
    """Raise :class:`NotARegularFile` (or OSError) unless ``path`` is a readable regular file."""
    with open_regular(path):
        pass


class LineTooLong(ValueError):
    """A line over :data:`MAX_LINE_BYTES`; the message names the file and the line."""


def bounded_lines(stream: IO[bytes], path: Path, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of ``stream`` as file iteration gives them, none longer than ``limit`` bytes:
    a longer one raises :class:`LineTooLong` after reading at most ``limit`` + 1 bytes of it."""
    readline = stream.readline
    number = 0
    while line := readline(limit + 1):
        number += 1
        if len(line) > limit:
            raise LineTooLong(_too_long(path, number, limit))
        yield line


_CHUNK_BYTES: Final = 1 << 20


def bounded_universal_lines(
    stream: IO[bytes], path: Path, limit: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """The lines of ``stream`` split as text mode with ``newline=""`` splits them (at ``\n``,
    ``\r\n`` or a lone ``\r``, each kept), none longer than ``limit`` bytes: a longer one
    raises :class:`LineTooLong` having held at most ``limit`` + 1 MB of it.

    Binary ``readline`` knows ``\n`` only: a file whose lines end in a lone ``\r`` would be one
    endless line to it, and a text stream reads a line whole, however long."""
    number = 0
    pending = b""  # the start of a line whose end has not been read yet
    while chunk := stream.read(_CHUNK_BYTES):
        # bytes.splitlines splits at exactly these three line ends.
        lines = (pending + chunk).splitlines(keepends=True)
        # The last piece goes on unless it ends in \n: a \r last may be half of a \r\n.
        pending = b"" if lines[-1].endswith(b"\n") else lines.pop()
        if lines and max(map(len, lines)) > limit:
            longest = next(i for i, line in enumerate(lines) if len(line) > limit)
            yield from lines[:longest]
            raise LineTooLong(_too_long(path, number + longest + 1, limit))
        yield from lines
        number += len(lines)
        if len(pending) > limit:
            raise LineTooLong(_too_long(path, number + 1, limit))
    if pending:
        yield pending


def _too_long(path: Path, number: int, limit: int) -> str:
    return f"{path}:{number}: line longer than {limit // (1 << 20)} MB"


class FileTooLarge(ValueError):
    """A file over its size limit; the message says the limit."""


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``; :class:`FileTooLarge` past ``limit`` bytes
    (read no further than that), :class:`NotARegularFile` or OSError as :func:`open_regular`."""
    with open_regular(path) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"larger than the {limit >> 20} MB limit")
    return data

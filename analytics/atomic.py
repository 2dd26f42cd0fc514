"""Atomic file writes: a hidden temporary file beside the target, fsynced, then renamed over it.

A reader never sees a partial file under the final name; after a crash only a hidden
``partial_path`` (``.<stem>.partial-<host>-<pid>-<random><suffix>``) can be left, never a
truncated output. The host and pid in the name let a later run on the same host tell an
abandoned partial file (its writer is gone) from one still being written.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


HOST_TAG = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())
_PARTIAL = re.compile(r"\.partial-(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)-[0-9a-f]{8}")


def partial_path(final: Path) -> Path:
    """The hidden name ``final`` is written under before the rename (unique per writer)."""
    return final.with_name(f".{final.stem}.partial-{HOST_TAG}-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")


def partial_writer(path: Path) -> tuple[str, int] | None:
    """``(host tag, pid)`` of the process that writes the partial file ``path``; None for other names."""
    match = _PARTIAL.search(path.name) if path.name.startswith(".") else None
    return (match["host"], int(match["pid"])) if match else None


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; renamed into place when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = partial_path(path)
    try:
        with open(temp, "xb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8)."""
    with replacing(path) as file:
        file.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_with(path: Path, writer: Callable[[BinaryIO], None]) -> None:
    """Replace ``path`` with what ``writer`` writes to a binary file."""
    with replacing(path) as file:
        writer(file)

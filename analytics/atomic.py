"""Atomic file writes: a hidden temporary file beside the target, fsynced, then renamed over it.

A reader never sees a partial file under the final name; after a crash only a hidden
``.<name>.<uuid>.tmp`` can be left, never a truncated output.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; renamed into place when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
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

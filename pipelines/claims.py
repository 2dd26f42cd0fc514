"""Coordinating runs that share an output folder: per-clip claims and short exclusive sections.

A run claims a clip before processing it by creating ``out/claims/<clip>.lock`` with
``O_CREAT | O_EXCL`` (atomic on local filesystems and on NFSv3+), holding the owner's pid,
host, start time and a random token; it deletes the file when done. Another run that finds
the file skips the clip. A claim is stale, and recovered, when its owner is on this host and
its pid is gone, or when it is older than ``stale_after_s`` (owners on other hosts cannot be
probed, so age is the only test for them). Recovery and release run under one exclusive
``flock``, so two runs that find the same stale claim never both take it over, and an owner
never deletes a claim that was recovered from it and taken by another run.

A run killed mid-write leaves hidden partial files (never final names); ``remove_abandoned_partials``
deletes those whose writer was on this host and is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from analytics.atomic import HOST_TAG, partial_writer

DEFAULT_STALE_AFTER_S = 3600.0


class ClaimHeldError(Exception):
    """Another live run holds the clip's claim; the message names its host and pid."""


@dataclass(frozen=True)
class ClaimOwner:
    pid: int
    host: str
    time: float  # seconds since the epoch, on the owner's clock
    token: str

    @staticmethod
    def me() -> ClaimOwner:
        return ClaimOwner(os.getpid(), socket.gethostname(), time.time(), uuid.uuid4().hex)


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing); the kernel drops it if the process dies."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """A process with this pid exists on this host (perhaps one we may not signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_abandoned_partials(folder: Path) -> list[Path]:
    """Delete the partial files and folders under ``folder`` left by dead processes on this host."""
    removed = []
    for path in sorted(folder.rglob(".*.partial-*"), reverse=True):  # deepest first
        writer = partial_writer(path)
        if writer is None or writer[0] != HOST_TAG or pid_alive(writer[1]):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


class Claims:
    """Claim files under ``out/claims/``."""

    def __init__(self, out_dir: Path, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> None:
        self.folder = out_dir / "claims"
        self.stale_after_s = stale_after_s

    def path(self, clip_id: str) -> Path:
        return self.folder / f"{clip_id}.lock"

    @contextmanager
    def hold(self, clip_id: str) -> Iterator[ClaimOwner]:
        """Claim ``clip_id`` for the duration of the block; raises ``ClaimHeldError`` when a live run holds it."""
        owner = self.acquire(clip_id)
        try:
            yield owner
        finally:
            self.release(clip_id, owner)

    def acquire(self, clip_id: str) -> ClaimOwner:
        """Create the claim file, recovering it once if it is stale."""
        path = self.path(clip_id)
        for _ in range(2):
            owner = self._create(path)
            if owner is not None:
                return owner
            self._recover_if_stale(path)
        raise ClaimHeldError(f"claimed by another run ({self._describe(path)})")

    def release(self, clip_id: str, owner: ClaimOwner) -> None:
        """Delete the claim file if it is still ours (it may have been recovered from us as stale)."""
        path = self.path(clip_id)
        with self._exclusive():
            if self.owner(path) == owner:
                path.unlink(missing_ok=True)

    def owner(self, path: Path) -> ClaimOwner | None:
        """The claim's owner, or None when the file is missing or not (yet) written completely."""
        try:
            return ClaimOwner(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def is_stale(self, path: Path) -> bool:
        owner = self.owner(path)
        if owner is None:  # being written right now, or its writer died mid-write: judge by the file's age
            try:
                return time.time() - path.stat().st_mtime > self.stale_after_s
            except FileNotFoundError:
                return False
        if owner.host == socket.gethostname() and not pid_alive(owner.pid):
            return True
        return time.time() - owner.time > self.stale_after_s

    def _create(self, path: Path) -> ClaimOwner | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        owner = ClaimOwner.me()
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(asdict(owner)))
            f.flush()
            os.fsync(f.fileno())
        return owner

    def _recover_if_stale(self, path: Path) -> None:
        with self._exclusive():
            if self.is_stale(path):
                path.unlink(missing_ok=True)

    def _exclusive(self) -> AbstractContextManager[None]:
        return exclusive(self.folder / ".claims.flock")

    def _describe(self, path: Path) -> str:
        owner = self.owner(path)
        if owner is None:
            return "owner unknown"
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.time))
        return f"{owner.host} pid {owner.pid} since {since}"

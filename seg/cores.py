"""The CPU cores this process may fill: the machine's, or its share when clips run in worker processes.

Thread pools (ONNX Runtime, the upsampling pool, the encoders) are sized from ``usable_cores``,
so several clip workers on one machine do not each start a thread per core.
"""

from __future__ import annotations

import os

_share: int | None = None


def usable_cores() -> int:
    """This process's cores: its share when ``share_cores`` was called, else every core of the machine."""
    return _share or os.cpu_count() or 1


def core_share() -> int | None:
    """The share ``share_cores`` set; None when this process may fill the machine."""
    return _share


def share_cores(cores: int) -> None:
    """Size this process's thread pools for ``cores`` cores (a worker process among several)."""
    global _share
    _share = max(1, cores)

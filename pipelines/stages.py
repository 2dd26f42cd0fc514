"""Run stages on threads joined by bounded queues, so memory stays flat and stages overlap.

A stage is a callable taking an item and returning an item (or ``None`` for a sink). An
exception in any stage stops the whole line and is re-raised in the caller's thread, and
so is ``StageTimeoutError`` when the line outlives its time limit: the caller waits on
queues with a deadline, so a stage stuck inside a decoder or encoder cannot hang the run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_DONE = object()


class StageTimeoutError(Exception):
    """The stages did not finish within the time limit."""


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _produce(source: Iterable[Any], out: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in source:
            if stop.is_set():
                return
            _put(out, item, stop)
        _put(out, _DONE, stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
        _put(out, _Failure(exc), stop)


def _put(out: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain(inbox: queue.Queue, stop: threading.Event, deadline: float | None = None) -> Iterator[Any]:
    while not stop.is_set():
        try:
            item = inbox.get(timeout=0.1)
        except queue.Empty:
            if deadline is not None and time.monotonic() > deadline:
                raise StageTimeoutError from None
            continue
        if item is _DONE:
            return
        if isinstance(item, _Failure):
            raise item.exc
        yield item


def run_pipeline(
    source: Iterable[Any], stages: list[Callable[[Any], Any]], depth: int = 4, timeout_s: float | None = None
) -> None:
    """Feed ``source`` through ``stages`` in order, the source and each stage on its own thread.

    Queues between them hold at most ``depth`` items; the caller waits for the last stage,
    at most ``timeout_s`` seconds when given.
    """
    stop = threading.Event()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    inbox: queue.Queue = queue.Queue(maxsize=depth)
    threads = [threading.Thread(target=_produce, args=(source, inbox, stop), daemon=True)]
    for stage in stages:
        outbox: queue.Queue = queue.Queue(maxsize=depth)
        mapped = map(stage, _drain(inbox, stop))
        threads.append(threading.Thread(target=_produce, args=(mapped, outbox, stop), daemon=True))
        inbox = outbox
    for thread in threads:
        thread.start()
    try:
        for _ in _drain(inbox, stop, deadline):
            pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=1)

"""Run stages on threads joined by bounded queues, so memory stays flat and stages overlap.

A stage is a callable taking an item and returning an item (or ``None`` for a sink). An
exception in any stage stops the whole line and is re-raised in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_DONE = object()


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


def _drain(inbox: queue.Queue, stop: threading.Event) -> Iterator[Any]:
    while not stop.is_set():
        try:
            item = inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is _DONE:
            return
        if isinstance(item, _Failure):
            raise item.exc
        yield item


def run_pipeline(source: Iterable[Any], stages: list[Callable[[Any], Any]], depth: int = 4) -> None:
    """Feed ``source`` through ``stages`` in order, each on its own thread but the last.

    The source runs on a thread; every stage but the last runs on a thread; the last
    stage runs in the calling thread. Queues between them hold at most ``depth`` items.
    """
    stop = threading.Event()
    threads: list[threading.Thread] = []
    inbox: queue.Queue = queue.Queue(maxsize=depth)
    threads.append(threading.Thread(target=_produce, args=(source, inbox, stop), daemon=True))
    for stage in stages[:-1]:
        outbox: queue.Queue = queue.Queue(maxsize=depth)
        mapped = map(stage, _drain(inbox, stop))
        threads.append(threading.Thread(target=_produce, args=(mapped, outbox, stop), daemon=True))
        inbox = outbox
    for thread in threads:
        thread.start()
    try:
        for item in _drain(inbox, stop):
            stages[-1](item)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)

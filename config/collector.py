"""The garbage collector of an ASGI process that holds thousands of open sockets.

CPython collects a generation when its count has passed a threshold. The oldest one's counts
objects that reached it, and every collection of it walks every tracked object of the
process: with 2,000 sockets in a process that is some millions of objects, pauses of
300-500 ms every 10-20 s under chat load, stopping every socket of the process at once
(docs/performance.md, round 6). The young one's counts objects made minus objects freed:
under chat load each event frees about what it makes (its socket's waiter since the last
event), so the count stays low while the generation fills, and its collection, when it
comes, pauses the process for 50-100 ms (round 12). So an ASGI process, once started:

- freezes what it imported (Django, the apps, their module state): it lives as long as
  the process, and collections no longer walk it;
- collects its young generation on a timer too, and the middle one every tenth time, so
  each holds what a short while made: pauses of a few milliseconds;
- collects its oldest generation on a timer instead of whenever it has grown: garbage in
  reference cycles waits at most that long, and the pause comes at a known rate.
"""

import functools
import gc
import logging
import math
import os
import threading
import time

logger = logging.getLogger(__name__)

# The oldest generation's threshold counts collections of the middle one, each some
# seconds apart under load: this many never come between two timed collections.
_NEVER = 1_000_000
# Young collections on the timer per middle one, as CPython's own middle threshold.
_MIDDLE_EVERY = 10


def collector_tune(*, full_collection_seconds: float, young_collection_seconds: float) -> threading.Event:
    """Freeze the start-up heap; from a daemon thread, collect the young generation every
    `young_collection_seconds` (0: only when CPython's count says so) and the oldest every
    `full_collection_seconds`. Set the returned event to stop the thread."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    stop = threading.Event()
    start = functools.partial(_start_timer, full_collection_seconds, young_collection_seconds, stop)
    start()
    # A thread does not survive a fork: a forked worker (a pre-loading server) starts its own.
    os.register_at_fork(after_in_child=start)
    return stop


def _start_timer(full_seconds: float, young_seconds: float, stop: threading.Event) -> None:
    threading.Thread(
        target=_collect_on_timers, args=(full_seconds, young_seconds, stop), name="collector", daemon=True
    ).start()


def _collect_on_timers(full_seconds: float, young_seconds: float, stop: threading.Event) -> None:
    now = time.monotonic()
    next_full = now + full_seconds
    next_young = now + young_seconds if young_seconds else math.inf
    young_collections = 0
    while not stop.wait(max(0.0, min(next_full, next_young) - time.monotonic())):
        now = time.monotonic()
        if now >= next_full:
            started = time.perf_counter()
            found = gc.collect()
            logger.debug(
                "full collection: %d unreachable objects in %.0f ms", found, (time.perf_counter() - started) * 1000
            )
            next_full = now + full_seconds
        else:
            young_collections += 1
            gc.collect(1 if young_collections % _MIDDLE_EVERY == 0 else 0)
            next_young = now + young_seconds

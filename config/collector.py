"""The garbage collector of an ASGI process that holds thousands of open sockets.

CPython collects its oldest generation when a quarter more objects reached it since the
last time, and every collection of it walks every tracked object of the process. With
2,000 sockets in a process that is some millions of objects: pauses of 300-500 ms, every
10-20 s under chat load, stopping every socket of the process at once
(docs/performance.md, round 6). So an ASGI process, once started:

- freezes what it imported (Django, the apps, their module state): it lives as long as
  the process, and collections no longer walk it;
- collects its oldest generation on a timer instead of whenever it has grown: garbage in
  reference cycles waits at most that long, and the pause comes at a known rate;
- keeps CPython's young-generation thresholds, which are cheap at any socket count.
"""

import gc
import logging
import os
import threading
import time

logger = logging.getLogger(__name__)

# The oldest generation's threshold counts collections of the middle one, each some
# seconds apart under load: this many never come between two timed collections.
_NEVER = 1_000_000


def collector_tune(*, full_collection_seconds: float) -> threading.Event:
    """Freeze the start-up heap and collect the oldest generation every
    `full_collection_seconds` from a daemon thread; set the returned event to stop it."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    stop = threading.Event()
    _start_timer(full_collection_seconds, stop)
    # A thread does not survive a fork: a forked worker (a pre-loading server) starts its own.
    os.register_at_fork(after_in_child=lambda: _start_timer(full_collection_seconds, stop))
    return stop


def _start_timer(seconds: float, stop: threading.Event) -> None:
    threading.Thread(target=_collect_every, args=(seconds, stop), name="full-collection", daemon=True).start()


def _collect_every(seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        started = time.perf_counter()
        found = gc.collect()
        logger.debug(
            "full collection: %d unreachable objects in %.0f ms", found, (time.perf_counter() - started) * 1000
        )

import gc
import os
import time
import weakref

import pytest

from config.collector import collector_tune


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


@pytest.fixture
def tune():
    """Runs collector_tune (timers an hour apart unless given); after the test its thread
    stops and the collector is as it was."""
    thresholds = gc.get_threshold()
    stops = []

    def start(*, full: float = 3600, young: float = 3600) -> None:
        stops.append(collector_tune(full_collection_seconds=full, young_collection_seconds=young))

    yield start
    for stop in stops:
        stop.set()
    gc.unfreeze()
    gc.set_threshold(*thresholds)


YOUNG, MIDDLE, OLDEST = 0, 1, 2


def garbage_cycle(generation: int) -> weakref.ref:
    """A reference cycle that reached `generation` before it became garbage: collections of
    the younger generations never look at it again."""
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    if generation > YOUNG:
        gc.collect(generation - 1)  # the survivors of a collection move one generation older
    return weakref.ref(first)


def freed_within(cycle: weakref.ref, seconds: float) -> bool:
    """Whether the cycle is freed while this thread allocates next to nothing (sleeping)."""
    deadline = time.monotonic() + seconds
    while cycle() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    return cycle() is None


def test_the_start_up_heap_is_frozen_and_the_oldest_generation_waits_for_the_timer(tune):
    tune()
    assert gc.get_freeze_count() > 10_000  # Django and the apps, imported by now
    young, middle, oldest = gc.get_threshold()
    assert (young, middle) == (700, 10), "the young generations keep CPython's thresholds"
    assert oldest >= 1_000_000

    cycle = garbage_cycle(OLDEST)
    for _ in range(50):  # far more middle-generation collections than the default 10
        gc.collect(1)
    assert cycle() is not None, "only a full collection frees a cycle in the oldest generation"


def test_the_timer_frees_a_cycle_in_the_oldest_generation(tune):
    tune(full=0.05)
    assert freed_within(garbage_cycle(OLDEST), 5)


def test_the_young_generation_is_collected_on_the_timer_not_only_by_count(tune):
    # CPython counts objects made minus objects freed: under chat load each event frees
    # about what it makes, so the count stays low while the generation fills up, and its
    # collection, when it comes, is long (docs/performance.md, round 12).
    gc.set_threshold(1_000_000, 10, 10)  # the count alone would never collect it here
    tune(young=0.02)
    assert gc.get_threshold()[0] == 1_000_000, "the count's threshold stays as it was"
    assert freed_within(garbage_cycle(YOUNG), 5)


def test_the_middle_generation_is_collected_every_tenth_young_timer(tune):
    gc.set_threshold(1_000_000, 1_000_000, 10)
    tune(young=0.02)
    assert freed_within(garbage_cycle(MIDDLE), 5)


def test_a_forked_process_runs_its_own_timer(tune):
    tune(full=0.05)
    child = os.fork()
    if child == 0:  # the child: only its own timer thread can free the cycle
        os._exit(0 if freed_within(garbage_cycle(OLDEST), 5) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0

"""Times every garbage collection of a server under test (loaded by the bench, never by the app).

bench.chat_load puts this folder on the servers' PYTHONPATH with GC_PROBE_FILE set; Python
imports `sitecustomize` at start-up. Each collection's pause is added to a bucket per wall-clock
second and generation; a thread rewrites the file as JSON once a second, so the bench can sum
exactly the seconds of its measurement window, and the figures survive however the server ends.
"""

import gc
import json
import os
import threading
import time


def install(path: str) -> None:
    # second -> per generation [count, total s, max s, CPU s of the collecting thread]; the
    # pause is wall time, which on a busy machine includes waiting for a core.
    buckets: dict[int, list[list[float]]] = {}
    started = [0.0, 0.0]

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = time.perf_counter(), time.thread_time()
            return
        pause = time.perf_counter() - started[0]
        cpu = time.thread_time() - started[1]
        second = buckets.setdefault(int(time.time()), [[0, 0.0, 0.0, 0.0] for _ in range(3)])
        stats = second[info["generation"]]
        stats[0] += 1
        stats[1] += pause
        stats[2] = max(stats[2], pause)
        stats[3] += cpu

    def write_forever() -> None:
        while True:
            time.sleep(1.0)
            # copy() is one C call: a collection inside it cannot add a second under it.
            snapshot = {str(k): v for k, v in buckets.copy().items()}
            temporary = f"{path}.tmp"
            with open(temporary, "w") as out:
                json.dump({"thresholds": gc.get_threshold(), "seconds": snapshot}, out)
            os.replace(temporary, path)

    gc.callbacks.append(on_collection)
    threading.Thread(target=write_forever, name="gc-probe", daemon=True).start()


if os.environ.get("GC_PROBE_FILE"):
    install(os.environ["GC_PROBE_FILE"])

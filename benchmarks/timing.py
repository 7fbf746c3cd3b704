"""The one timing helper of the benchmarks (no torch here: fit_speed must
choose what loads torch first)."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The median of ``repeats`` timed calls of ``fn``, after one untimed warm-up
    call (which, for cached paths, fills the cache)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

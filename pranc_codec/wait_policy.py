"""OpenMP's wait policy, chosen from how busy the machine is before torch starts.

torch's OpenMP threads spin while they wait for each other. Alone on the
machine that is fastest (a default-preset fit iteration: 53 ms spinning,
85 ms with ``OMP_WAIT_POLICY=PASSIVE``); beside one other CPU-bound process
the spinning threads fight it for the cores (221 ms) where PASSIVE threads
sleep (80 ms). OpenMP reads the policy once, when torch loads it, so the
package chooses on import: PASSIVE when other processes keep at least
BUSY_CPUS of the CPUs busy, else OpenMP's default. A policy the user set is
kept.
"""
from __future__ import annotations

import os
import time

BUSY_CPUS = 0.5  # CPUs kept busy by other processes from which spinning costs more than it gives
SAMPLE_S = 0.05  # how long the CPUs are watched: 5 clock ticks of each CPU at 100 Hz
STAT = "/proc/stat"


def _busy_and_total(stat: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs from the first line of /proc/stat."""
    with open(stat, encoding="ascii") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle and waiting for I/O
    return sum(ticks) - idle, sum(ticks)


def busy_cpus(sample_s: float = SAMPLE_S, stat: str = STAT) -> float:
    """How many CPUs the machine's processes kept busy over the next ``sample_s``
    seconds; the 1-minute load average where /proc/stat is missing."""
    try:
        busy0, total0 = _busy_and_total(stat)
        time.sleep(sample_s)
        busy1, total1 = _busy_and_total(stat)
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cpus = os.cpu_count() or 1
    return cpus * (busy1 - busy0) / max(1, total1 - total0)


def choose(environ: dict | None = None, busy: float | None = None) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE in ``environ`` (os.environ) when the machine is
    busy and the user set no policy; returns the policy set, or None."""
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ:
        return None
    if (busy_cpus() if busy is None else busy) < BUSY_CPUS:
        return None
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return "PASSIVE"

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
# Runnable tasks of other processes, counted SAMPLES times over SAMPLE_S:
# busy CPU ticks over so short a window came in steps of 0.2 CPU and
# included this process's own threads (numpy's BLAS threads spin a while
# after it loads), so the benchmarks, which load numpy first, ran PASSIVE
# on an idle machine.
SAMPLE_S = 0.05
SAMPLES = 10
STAT = "/proc/stat"
TASKS = "/proc/self/task"


def _running(stat: str) -> int:
    """Tasks running or ready to run, from /proc/stat's procs_running line."""
    with open(stat, encoding="ascii") as f:
        for line in f:
            if line.startswith("procs_running"):
                return int(line.split()[1])
    raise ValueError(f"no procs_running in {stat}")


def _own_running(tasks: str) -> int:
    """This process's threads that are running or ready to run."""
    count = 0
    for tid in os.listdir(tasks):
        try:
            with open(os.path.join(tasks, tid, "stat"), encoding="ascii", errors="replace") as f:
                count += f.read().rpartition(")")[2].split()[0] == "R"
        except (OSError, IndexError):
            pass  # the thread ended meanwhile
    return count


def busy_cpus(sample_s: float = SAMPLE_S, stat: str = STAT, tasks: str = TASKS) -> float:
    """How many CPUs other processes keep busy: their mean number of runnable
    tasks over the next ``sample_s`` seconds; the 1-minute load average
    where /proc is missing."""
    try:
        counts = []
        for _ in range(SAMPLES):
            counts.append(_running(stat) - _own_running(tasks))
            time.sleep(sample_s / SAMPLES)
    except (OSError, ValueError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(0.0, sum(counts) / len(counts))


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

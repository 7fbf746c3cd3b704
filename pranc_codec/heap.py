"""Freed memory kept on glibc's heap for the encoder's next iteration.

A fit allocates and frees the same tens of megabytes every iteration. glibc
hands blocks above its mmap threshold straight back to the kernel and trims
the heap's free top above twice that, so each iteration faulted the same
memory in again, page by page: 24,000-53,000 minor page faults an iteration
at the full-resolution grid of 768x512 and 3,700-5,100 at the half-resolution
one, a quarter of the iteration's time (benchmarks/README.md). Raising both
thresholds keeps the blocks on the heap: no faults, and the same arithmetic
on the same values, so the same files.

It is a setting of the whole process (the peak stays with it until it
exits), so importing the library never makes it: the command line and the
benchmarks, which own their processes, call ``keep_freed``; a program
encoding in its own process may too.
"""
from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1  # mallopt's parameters (malloc.h)
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 1 << 30


def keep_freed() -> bool:
    """Ask the C library to serve blocks up to KEEP_BYTES from its heap and to
    keep up to that much freed there; whether it could (glibc: yes;
    elsewhere nothing changes)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its C library's
    except (OSError, AttributeError, TypeError):  # no mallopt (not glibc), or no such lookup
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES))

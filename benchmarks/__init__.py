"""Benchmarks, each ``python -m benchmarks.NAME`` in a process of its own."""
from pranc_codec import heap

# the process is the benchmark's: its fits keep freed memory as the command line's do
heap.keep_freed()

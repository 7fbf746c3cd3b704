"""pranc_codec.heap: a fit's freed memory stays on the heap for its next iteration."""
import platform
import subprocess
import sys

import pytest

# In a fresh process, as the command line's: the test suite's own heap, after
# hundreds of tests, is fragmented. A block from the C library's malloc, not
# a torch tensor: glibc before 2.38 serves torch's aligned blocks with a few
# bytes of padding, and in a loop of one block the small objects made
# between them can strand the freed one (a fit's many blocks coalesce: with
# the heap kept, iterations 40-100 of kodim05's fit faulted at most 220 pages
# an iteration against 48,000, three processes each).
_FAULTS_OF_A_BLOCK_MADE_AGAIN = """
import ctypes, resource, sys
from pranc_codec import heap
if sys.argv[1] == "keep":
    assert heap.keep_freed()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def block(n=40 << 20):  # past glibc's largest own mmap threshold (32 MB)
    p = libc.malloc(n)
    ctypes.memset(p, 1, n)
    libc.free(p)
block()  # the heap grows to hold it
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", _FAULTS_OF_A_BLOCK_MADE_AGAIN, mode],
                         capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_block_freed_and_made_again_is_not_faulted_in_again():
    # glibc's defaults map and fault in every 4 KB page of it each time: 10,240
    assert _faults("default") > 5000
    assert _faults("keep") < 500

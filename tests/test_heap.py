"""pranc_codec.heap: a fit's freed memory stays on the heap for its next iteration."""
import platform
import resource

import pytest
import torch

from pranc_codec import heap


def _faults_of(make) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    make()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_block_freed_and_made_again_is_not_faulted_in_again():
    assert heap.keep_freed()

    def block():  # 40 MB, past glibc's largest own mmap threshold (32 MB)
        torch.ones(10 << 20)

    for _ in range(3):  # the heap grows to hold it (twice here: glibc places the first elsewhere)
        block()
    # glibc's defaults map and fault in every 4 KB page of it each time: 10,240
    assert _faults_of(block) < 500

import os

# Triton kernels run on the CPU only in its interpreter, which must be chosen
# before any module defining a kernel is imported.
os.environ["TRITON_INTERPRET"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

# Small, quick encoder settings: enough to learn a tiny image, seconds to run.
TINY = dict(width=24, depth=2, k=300, steps=300, batch=4096, chunk=32)


@pytest.fixture
def photo() -> np.ndarray:
    """A 40x48 RGB crop of a real photo (astronaut's face region)."""
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[60:100, 200:248])


@pytest.fixture
def tiny_settings() -> dict:
    return dict(TINY)

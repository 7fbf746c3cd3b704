import os
from pathlib import Path

# Triton kernels run on the CPU only in its interpreter, which must be chosen
# before any module defining a kernel is imported.
os.environ["TRITON_INTERPRET"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

DATA = Path(__file__).parent / "data"  # the committed reference files of every version

# Small, quick encoder settings: enough to learn a tiny image, seconds to run.
TINY = dict(arch="siren", width=24, depth=2, k=300, steps=300, batch=4096, chunk=32)
# The same for format v2: a small latent pyramid and networks.
LATENT_TINY = dict(iterations=60, levels=4, syn_width=12, arm_width=8, chunk=32, min_basis=64)


@pytest.fixture
def photo() -> np.ndarray:
    """A 40x48 RGB crop of a real photo (astronaut's face region)."""
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[60:100, 200:248])


@pytest.fixture
def tiny_settings() -> dict:
    return dict(TINY)


@pytest.fixture
def latent_tiny() -> dict:
    return dict(LATENT_TINY)

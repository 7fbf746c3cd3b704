"""The codec's entry, across the format versions: settings and decoding."""
import subprocess
import sys

import pytest

from pranc_codec import codec
from tests.conftest import DATA


def test_bad_settings_are_value_errors(photo):
    for bad in (dict(k=0), dict(seed=-1), dict(width=5000), dict(steps=0)):
        with pytest.raises(ValueError):
            codec.encode(photo, arch="siren", **bad)
    for bad in (dict(lam=0), dict(seed=-1), dict(levels=40), dict(iterations=0),
                dict(device="tpu")):
        with pytest.raises(ValueError):
            codec.encode(photo, **bad)
    with pytest.raises(TypeError, match="k"):
        codec.encode(photo, k=100)  # a v1 setting for the v2 codec
    with pytest.raises(ValueError, match="preset"):
        codec.encode(photo, preset="ultra")


@pytest.mark.parametrize("name", ["v1_16x12.prc", "v2_24x20.prc"])
def test_decoding_never_loads_torch(tmp_path, name):
    # a decoder's process stays small and starts fast: numpy, constriction, numba
    prc = DATA / name
    script = (
        "import sys\n"
        "from pranc_codec.cli import main\n"
        f"assert main(['decode', {str(prc)!r}, {str(tmp_path / 'out.png')!r}]) == 0\n"
        "assert main(['info', sys.argv[1]]) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'triton'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(prc)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

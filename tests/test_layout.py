"""The package's layout: imports run one way; a wheel holds every module and
installs beside the torch an environment already has."""
import ast
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import DATA

ROOT = Path(__file__).parents[1]
# Each part of the package and its layer: a module imports only from lower
# layers or from its own part, so the formats share what lies below them
# and never reach into each other or up into the entry points.
LAYERS = {"errors": 0, "metrics": 0, "kernels": 0, "fileformat": 1, "basis": 2,
          "latent": 3, "siren": 3}
ENTRY = 4  # every other top-level module: codec, cli, batch, the Pillow plugin, ...


def _sources() -> dict[str, Path]:
    """Module name -> file, kernels/ as installed (pranc_codec.kernels)."""
    return {".".join(Path(installed).with_suffix("").parts).removesuffix(".__init__"): path
            for installed, path in _installed().items()}


def _installed() -> dict[str, Path]:
    """Path in an installed package -> file here (kernels/ lands in pranc_codec/kernels/)."""
    return {f"{prefix}/{path.relative_to(root).as_posix()}": path
            for root, prefix in ((ROOT / "pranc_codec", "pranc_codec"),
                                 (ROOT / "kernels", "pranc_codec/kernels"))
            for path in root.rglob("*.py")}


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (function-level too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            # "from . import x" names a module where x is one, else a name in stem
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem
                       for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


def _part(name: str) -> tuple[str, int]:
    part = name.split(".")[1] if "." in name else "__init__"
    return part, LAYERS.get(part, ENTRY)


def test_imports_run_down_never_up_or_in_a_circle():
    sources = _sources()
    graph = {name: _imports(name, path, set(sources)) for name, path in sources.items()}
    upward = []
    for name, targets in graph.items():
        part, layer = _part(name)
        for target in targets:
            other, other_layer = _part(target)
            if other != part and not (other_layer < layer or other_layer == layer == ENTRY):
                upward.append(f"{name} -> {target}")
    assert not upward, "imports across or up the layers: " + ", ".join(sorted(upward))

    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            assert state.get(target) != 1, "import cycle: " + " -> ".join(path + [name, target])
            if target not in state:
                visit(target, path + [name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    # the rule has something to hold: the formats and their shared parts are there
    assert {"pranc_codec.latent.decoder", "pranc_codec.siren.decoder",
            "pranc_codec.basis.groups"} <= set(graph)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of the package, built from a copy of its sources (nothing lands here)."""
    tmp = tmp_path_factory.mktemp("wheel")
    for name in ("pranc_codec", "kernels"):
        shutil.copytree(ROOT / name, tmp / "src" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "README.md"):
        shutil.copy(ROOT / name, tmp / "src" / name)
    run([sys.executable, "-m", "pip", "wheel", str(tmp / "src"), "--no-deps",
         "--no-build-isolation", "-q", "-w", str(tmp / "dist")])
    (built,) = (tmp / "dist").glob("*.whl")
    return built


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, " ".join(command) + "\n" + result.stdout + result.stderr
    return result


def test_a_wheel_holds_every_module(wheel):
    """setup.py finds its packages: a subpackage added later cannot be left out."""
    held = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    missing = sorted(set(_installed()) - held)
    assert not missing, f"missing from the wheel: {missing}"


def test_the_wheel_installs_beside_the_torch_it_finds_and_runs(wheel, tmp_path):
    """A user's environment that already holds torch and the rest (here: this
    .venv's, seen through a .pth file, the codec itself left out): pip installs
    the wheel with no index at all, so a requirement that wanted another torch
    fails, and the installed command encodes and decodes."""
    site = Path(sysconfig.get_paths()["purelib"])
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(("pranc_codec", "__editable__", "_pranc")) \
                and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    env = tmp_path / "env"
    run([sys.executable, "-m", "venv", "--without-pip", str(env)])
    python = env / "bin" / "python"
    env_site = Path(run([str(python), "-c", "import sysconfig; "
                         "print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (env_site / "existing_environment.pth").write_text(f"{deps}\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "-q",
         str(wheel)])
    where = run([str(python), "-c", "import pranc_codec, torch; "
                 "print(pranc_codec.__file__); print(torch.__version__)"], cwd=tmp_path)
    installed, torch_version = where.stdout.split()
    assert installed.startswith(str(env_site)) and torch_version == torch.__version__
    command = str(env / "bin" / "pranc-codec")
    assert run([command, "--version"]).stdout.startswith("pranc-codec ")
    run([command, "decode", str(DATA / "v2_24x20.prc"), str(tmp_path / "ref.png")])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "ref.png")),
                          np.asarray(Image.open(DATA / "v2_24x20.png")))
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.asarray(Image.open(DATA / "v2_24x20.png"))[:12, :16]).save(tiny)
    run([command, "encode", str(tiny), str(tmp_path / "tiny.prc"), "--preset", "fast",
         "--iterations", "5", "--quiet"], cwd=tmp_path)
    assert (tmp_path / "tiny.prc").read_bytes()[:5] == b"PRNC\x03"

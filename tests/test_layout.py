"""The package's layout: imports run one way, and a wheel holds every module."""
import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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


def test_a_wheel_holds_every_module(tmp_path):
    """setup.py finds its packages: a subpackage added later cannot be left out."""
    source = tmp_path / "src"
    for name in ("pranc_codec", "kernels"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                             "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    held = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    missing = sorted(set(_installed()) - held)
    assert not missing, f"missing from the wheel: {missing}"

"""``pranc-codec batch``: every image of a collection to .prc (or back), resumably.

The driver finds the work (a folder walked recursively, or a text file of
paths), skips outputs that are already whole (a .prc whose header and CRCs
check, a decoded image Pillow verifies) unless forced, reads each input and
hands its bytes to a worker: in this process, in local worker processes
(``--jobs``) or as Ray tasks (``--ray``), so workers need no shared disk.
A worker returns the output's bytes and a record; only the driver writes,
atomically, so an interrupted run leaves whole files and a rerun finishes
the rest. Every input gets a line in DST/manifest.jsonl. Each fit runs on
one thread whatever the mode, so a file is byte-identical however it was
scheduled (torch's sums depend on the thread count).
"""
from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from . import codec
from .errors import PrcError
from .images import LOSSLESS, check_writable, image_bytes, load_image, write_atomic
from .metrics import ms_ssim, psnr

MANIFEST = "manifest.jsonl"
IN_FLIGHT = 2  # tasks queued per worker: enough to keep it busy, few inputs held in memory


@dataclass(frozen=True)
class Job:
    source: Path
    output: Path


@dataclass(frozen=True)
class Options:
    decode: bool
    settings: dict  # codec.encode's keyword arguments
    strip: bool = False
    ms_ssim: bool = False
    # images a task fits together (codec.encode_many), those of one shape in one
    # multi-image fit: on a GPU N images take little longer than one
    together: int = 1


def image_suffixes() -> set[str]:
    """Extensions of the files Pillow reads, .prc excepted."""
    return {s for s, fmt in Image.registered_extensions().items()
            if fmt in Image.OPEN and s != ".prc"}


def output_name(relative: Path, decode: bool) -> Path:
    """a/b.png -> a/b.png.prc; back: a/b.png.prc -> a/b.png, a/c.prc -> a/c.png."""
    if not decode:
        return relative.with_name(relative.name + ".prc")
    stem = relative.with_suffix("") if relative.suffix.lower() == ".prc" else relative
    return stem if stem.suffix.lower() in LOSSLESS else stem.with_name(stem.name + ".png")


def find_jobs(src: Path, dst: Path, decode: bool) -> list[Job]:
    """The work: every image (or .prc) under the folder ``src``, or listed in the file ``src``."""
    if src.is_dir():
        wanted = {".prc"} if decode else image_suffixes()
        found = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in wanted
                       and dst.resolve() not in p.resolve().parents)
        pairs = [(p, p.relative_to(src)) for p in found]
    elif src.is_file():
        base = src.parent
        pairs = []
        for line in src.read_text().splitlines():
            if line.strip():
                p = Path(line.strip())
                p = p if p.is_absolute() else base / p
                inside = base.resolve() in p.resolve().parents
                pairs.append((p, p.resolve().relative_to(base.resolve()) if inside else Path(p.name)))
    else:
        raise ValueError(f"{src}: no such folder or list file")
    return [Job(p, dst / output_name(rel, decode)) for p, rel in pairs]


def is_whole(path: Path, decode: bool) -> bool:
    """Whether an output from an earlier run is complete (its header and CRCs check)."""
    try:
        if decode:
            with Image.open(path) as img:
                img.verify()
            return True
        codec.check(path.read_bytes())
        return True
    except (OSError, PrcError, SyntaxError, ValueError):
        return False


def run_one(name: str, data: bytes, options: Options) -> tuple[dict, bytes | None]:
    """A worker's part: (record, output bytes, None if it failed). Never raises for
    a bad input: the error is the record's."""
    start = time.perf_counter()
    try:
        if options.decode:
            described = codec.describe(io.BytesIO(data))
            out = image_bytes(codec.decode(data), ".png", described.icc, described.exif)
            return {"status": "ok", "bytes": len(out),
                    "seconds": round(time.perf_counter() - start, 3)}, out
        _one_thread()
        loaded = load_image(io.BytesIO(data), name)
        out = codec.encode(loaded.array, **options.settings, **_kept(loaded, options))
        return _record(loaded, out, time.perf_counter() - start, options), out
    except Exception as exc:  # a batch goes on past any one file
        return _failed(exc), None


Results = list[tuple[dict, bytes | None]]  # a task's: one (record, output) per input


def run_group(names: list[str], datas: list[bytes], options: Options) -> Results:
    """run_one for each input of a task, those that load fitted together
    (``Options.together``; their records share the fit's time equally)."""
    if options.decode or len(names) == 1:
        return [run_one(name, data, options) for name, data in zip(names, datas)]
    results: Results = [({}, None)] * len(names)
    loaded = {}
    for i, (name, data) in enumerate(zip(names, datas)):
        try:
            loaded[i] = load_image(io.BytesIO(data), name)
        except Exception as exc:
            results[i] = _failed(exc), None
    if not loaded:
        return results
    start = time.perf_counter()
    try:
        _one_thread()
        outs = codec.encode_many([x.array for x in loaded.values()],
                                 metadata=[_kept(x, options) for x in loaded.values()],
                                 **options.settings)
    except Exception as exc:  # the whole task fails, and says why on each file
        return [results[i] if i not in loaded else (_failed(exc), None) for i in range(len(names))]
    seconds = (time.perf_counter() - start) / len(loaded)
    shapes = [x.array.shape for x in loaded.values()]
    for (i, x), out in zip(loaded.items(), outs):
        # how many images its fit held: those of its shape
        together = {"fitted_with": shapes.count(x.array.shape)}
        results[i] = {**_record(x, out, seconds, options), **together}, out
    return results


def _kept(loaded, options: Options) -> dict[str, bytes]:
    return codec.metadata_kept(loaded.icc, loaded.exif, options.strip,
                               options.settings.get("arch", "latent"))


def _record(loaded, out: bytes, seconds: float, options: Options) -> dict:
    """An encoded file's manifest record: its size, rate and quality as decoded."""
    decoded = codec.decode(out)
    h, w = loaded.array.shape[:2]
    record = {"status": "ok", "bytes": len(out), "bpp": round(len(out) * 8 / (h * w), 5),
              "psnr": round(psnr(loaded.array, decoded), 3), "seconds": round(seconds, 2)}
    if options.ms_ssim:
        score = ms_ssim(loaded.array, decoded)
        record["ms_ssim"] = None if score is None else round(score, 5)
    if loaded.note:
        record["note"] = loaded.note
    return record


def _failed(exc: Exception) -> dict:
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}



# Each worker is one thread in every library, and its OpenMP threads sleep
# rather than spin while they wait: workers share the cores by design, and
# spinning threads of busy neighbours slow each other 5-30x.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
              "OMP_WAIT_POLICY": "PASSIVE"}


# A multi-image fit's GPU memory per pixel, an estimate: 0.9-1.4 KB a pixel
# measured on the CPU (one Kodak image at stride 1, RSS), times three for the
# CUDA graphs' pools (one per rounding mode), rounded up; to be calibrated on a GPU.
GPU_BYTES_PER_PIXEL = 4096


def gpu_batch_size(pixels: int = 1 << 20) -> int:
    """How many images of ``pixels`` (by default the largest fitted whole) the
    GPU's free memory holds in one multi-image fit, at most 64."""
    import torch

    free, _ = torch.cuda.mem_get_info()
    return max(1, min(64, int(0.8 * free) // (GPU_BYTES_PER_PIXEL * pixels)))


def _one_thread() -> None:
    import numba
    import torch  # only encoding needs it

    torch.set_num_threads(1)
    numba.set_num_threads(1)


def _init_worker() -> None:
    os.environ.update(WORKER_ENV)  # before torch loads in this process


def _local(tasks: Iterator[tuple], workers: int) -> Iterator[tuple[tuple, Results]]:
    """(task, results) as they finish, from worker processes (or this one)."""
    if workers == 1:
        for task in tasks:
            yield task, run_group(*task[1:])
        return
    import multiprocessing

    # spawn, not fork: a forked child of a process that ran torch's thread pool can hang
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                             initializer=_init_worker) as pool:
        pending = {}
        for task in tasks:
            pending[pool.submit(run_group, *task[1:])] = task
            while len(pending) >= IN_FLIGHT * workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    yield task, _result(future.result, len(task[0]))
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                yield task, _result(future.result, len(task[0]))


def _ray(tasks: Iterator[tuple], address: str | None,
         gpu: bool) -> Iterator[tuple[tuple, Results]]:
    """(task, results) as they finish, from Ray tasks: one CPU each (or one GPU),
    a task whose worker was lost retried once."""
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install 'pranc-codec[ray]'") from None
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # Ray's own errors vary: a one-line message either way
        raise ValueError(f"cannot start or reach Ray: {exc}") from None
    try:
        remote = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=1,
                            runtime_env={"env_vars": WORKER_ENV})(run_group)
        workers = max(1, int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)))
        pending = {}
        for task in tasks:
            pending[remote.remote(*task[1:])] = task
            while len(pending) >= IN_FLIGHT * workers:
                yield from _ray_done(ray, pending)
        while pending:
            yield from _ray_done(ray, pending)
    finally:
        ray.shutdown()


def _ray_done(ray, pending: dict) -> Iterator[tuple[tuple, Results]]:
    done, _ = ray.wait(list(pending), num_returns=1)
    for ref in done:
        task = pending.pop(ref)
        yield task, _result(lambda: ray.get(ref), len(task[0]))


def _result(get: Callable[[], Results], inputs: int) -> Results:
    """A finished task's results, or failed records where its worker died."""
    try:
        return get()
    except Exception as exc:
        return [({"status": "failed", "error": f"worker lost: {type(exc).__name__}: {exc}"},
                 None)] * inputs


def _task(group: list[tuple[Job, bytes]], options: Options) -> tuple:
    return ([job for job, _ in group], [job.source.name for job, _ in group],
            [data for _, data in group], options)


def run(src: Path, dst: Path, options: Options, jobs: int = 1, ray: str | None = None,
        force: bool = False, quiet: bool = False) -> int:
    """The whole batch; returns the exit status (1 if any file failed).

    ``ray``: None for local workers, "" for a local Ray, else a cluster's address."""
    all_jobs = find_jobs(src, dst, options.decode)
    if not all_jobs:
        raise ValueError(f"{src}: no {'.prc files' if options.decode else 'images'} in it")
    dst.mkdir(parents=True, exist_ok=True)
    check_writable(dst / MANIFEST)
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    bar = tqdm(total=len(all_jobs), unit="file", disable=quiet or not sys.stderr.isatty())
    with open(dst / MANIFEST, "a", encoding="utf-8") as manifest:
        def record(job: Job, entry: dict) -> None:
            entry = {"source": str(job.source), "output": str(job.output), **entry}
            manifest.write(json.dumps(entry) + "\n")
            manifest.flush()
            counts[entry["status"]] += 1
            bar.update()
            bar.set_postfix(done=counts["ok"], failed=counts["failed"], skipped=counts["skipped"])
            if not quiet and bar.disable:
                detail = entry.get("error") or ", ".join(
                    f"{k} {entry[k]}" for k in ("bpp", "psnr", "seconds") if k in entry)
                print(f"[{sum(counts.values())}/{len(all_jobs)}] {job.source}: "
                      f"{entry['status']} {detail}", file=sys.stderr, flush=True)

        def tasks() -> Iterator[tuple]:
            """(jobs, their names, their bytes, options): up to options.together inputs."""
            group: list[tuple[Job, bytes]] = []
            for job in all_jobs:
                if not force and job.output.exists() and is_whole(job.output, options.decode):
                    record(job, {"status": "skipped"})
                    continue
                try:
                    group.append((job, job.source.read_bytes()))
                except OSError as exc:
                    record(job, {"status": "failed", "error": f"cannot read: {exc.strerror}"})
                    continue
                if len(group) == options.together:
                    yield _task(group, options)
                    group = []
            if group:
                yield _task(group, options)

        gpu = str(options.settings.get("device") or "").startswith("cuda")
        results = _local(tasks(), jobs) if ray is None else _ray(tasks(), ray or None, gpu)
        for (jobs, *_), outcomes in results:
            for job, (entry, out) in zip(jobs, outcomes, strict=True):
                if out is not None:
                    job.output.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(job.output, out)
                record(job, entry)
    bar.close()
    if not quiet or counts["failed"]:
        print(f"batch: {len(all_jobs)} files: {counts['ok']} done, {counts['skipped']} skipped, "
              f"{counts['failed']} failed; manifest {dst / MANIFEST}", file=sys.stderr)
    return 1 if counts["failed"] else 0

"""The pranc-codec command line: encode, decode, info, batch.

``main(argv)`` returns the exit status, so tests (and ``python -m pranc_codec``)
call it directly. Every failure a user can cause ends in one line on stderr and
a non-zero status, never a traceback. ``-`` as an input or output is standard
input or output; reports then go to stderr, so a pipe carries only the file.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from . import __version__, batch, codec, heap
from .errors import ImageError, PrcError, RateNote
from .fileformat import version_of
from .images import Loaded, check_writable, image_bytes, load_image, lossless_format, write_atomic
from .latent import decoder as latent_decoder
from .metrics import ms_ssim, psnr
from .siren import decoder as siren_decoder

EXIT_ERROR = 1
REPORT_MS_SSIM_PIXELS = 1 << 24  # encode's report measures MS-SSIM up to this size
CORES = os.cpu_count() or 1
# the encoder options each --arch takes (the others belong to the other arch)
ARCH_OPTIONS = {"latent": {"lam", "quality", "iterations", "device", "seed"},
                "siren": {"k", "steps", "width", "depth", "seed"}}


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None


def _write(path: str, data: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(path, data)


def _report(args: argparse.Namespace, line: str) -> None:
    """A line for the user, unless --quiet: on stderr where stdout carries the file."""
    if not args.quiet:
        print(line, file=sys.stderr if args.output == "-" else sys.stdout, flush=True)


def _quality(original: np.ndarray, decoded: np.ndarray, with_ms_ssim: bool = True) -> str:
    if not with_ms_ssim:
        ms = "not measured above 16 MP (decode --compare measures it)"
    else:
        score = ms_ssim(original, decoded)
        ms = "n/a (image too small)" if score is None else f"{score:.4f}"
    return f"PSNR {psnr(original, decoded):.2f} dB, MS-SSIM {ms}"


def encoder_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of codec.encode that the encoder options give."""
    own, other = ARCH_OPTIONS[args.arch], ARCH_OPTIONS["siren" if args.arch == "latent" else "latent"]
    stray = [f"--{name}" for name in other - own if getattr(args, name) is not None]
    if stray:
        raise ValueError(f"{', '.join(stray)} only applies to the other --arch")
    return dict(preset=args.preset, bpp=args.bpp, psnr=args.psnr, quality=args.quality,
                arch=args.arch, **{name: getattr(args, name) for name in own - {"quality"}})


def metadata_kept(loaded: Loaded, args: argparse.Namespace) -> dict[str, bytes]:
    """codec.metadata_kept, with a note where the format drops metadata not stripped."""
    kept = codec.metadata_kept(loaded.icc, loaded.exif, args.strip, args.arch)
    if not kept and not args.strip and (loaded.icc or loaded.exif) and not args.quiet:
        print("note: format v1 (--arch siren) keeps no colour profile or EXIF", file=sys.stderr)
    return kept


def _encode(args: argparse.Namespace) -> int:
    settings = encoder_settings(args)
    codec.encoder_settings(**settings)  # a bad setting fails here, before the fit
    if args.output != "-":
        check_writable(args.output)  # before the fit, not after it
    name = "<stdin>" if args.input == "-" else args.input
    loaded = load_image(io.BytesIO(_read_bytes("-")) if args.input == "-" else args.input, name)
    if loaded.note and not args.quiet:
        print(f"note: {loaded.note}", file=sys.stderr)
    # a bar redraws in place on a terminal; a log gets one line per stage instead
    bar = not args.quiet and sys.stderr.isatty()
    if not args.quiet and not bar:
        print(f"{name}: fitting ({args.preset} preset)", file=sys.stderr, flush=True)
    keep = metadata_kept(loaded, args)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", RateNote)
        data = codec.encode(loaded.array, progress=bar, **settings, **keep)
    encode_s = time.perf_counter() - start
    if not args.quiet:
        for n in notes:
            print(f"note: {n.message}", file=sys.stderr)
    _write(args.output, data)
    # Report the quality of what a decoder will see: decode our own bitstream.
    if not args.quiet:
        start = time.perf_counter()
        decoded = codec.decode(data)
        decode_s = time.perf_counter() - start
        h, w = loaded.array.shape[:2]
        # MS-SSIM of a 24 MP photo takes 37 s and 3.4 GB: too much for a report
        small = h * w <= REPORT_MS_SSIM_PIXELS
        _report(args, f"{args.output}: {len(data)} bytes, {len(data) * 8 / (h * w):.4f} bpp, "
                      f"{_quality(loaded.array, decoded, small)}, encode {encode_s:.1f} s, "
                      f"decode {decode_s:.2f} s")
    return 0


def _decode(args: argparse.Namespace) -> int:
    suffix = lossless_format(args.output)
    if args.output != "-":
        check_writable(args.output)
    data = _read_bytes(args.input)
    start = time.perf_counter()
    decoded = codec.decode(data)
    decode_s = time.perf_counter() - start
    described = codec.describe(io.BytesIO(data))
    _write(args.output, image_bytes(decoded, suffix, described.icc, described.exif))
    line = f"{args.output}: {decoded.shape[1]}x{decoded.shape[0]}, decode {decode_s:.2f} s"
    if args.compare:
        original = load_image(args.compare).array
        if original.shape != decoded.shape:
            raise ImageError(f"{args.compare}: shape {original.shape} differs from the "
                             f"decoded {decoded.shape}")
        line += f", {_quality(original, decoded)} against {args.compare}"
    _report(args, line)
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    if args.output != "-":
        check_writable(args.output)
    data = _read_bytes(args.input)
    new = codec.upgrade(data)
    _write(args.output, new)
    _report(args, f"{args.output}: format version {new[4]}, {len(new)} bytes "
                  f"({100 * (len(new) / len(data) - 1):+.1f} %), the same pixels")
    return 0


def _info_latent(path: str, data: bytes) -> None:
    f, arch, groups = latent_decoder.parse(data)
    print(f"file: {path} ({len(data)} bytes, format version {f.version})")
    for name, value in asdict(f.head).items():
        print(f"{name}: {value}")
    print(f"parameters: synthesis {arch.synthesis.n_params}, entropy model {arch.arm.n_params}")
    for i, (gh, g) in enumerate(zip(f.groups, groups)):
        kind = "direct" if g.chunk == 0 else f"basis ({g.basis.n_chunks} chunks)"
        values = ", ".join(f"{k}={v}" for k, v in asdict(gh).items())
        print(f"group {i}: {kind}, {g.n_coeffs} coefficients; {values}")
    print(f"coefficients: {sum(g.n_coeffs for g in groups)}, {len(f.net_payload)} bytes")
    if f.version == 2:
        for i in reversed(range(f.head.levels)):
            print(f"latent grid {f.head.l0 + i}: {len(f.streams[i])} bytes")
    else:
        print(f"latent grids: {f.head.levels} in one stream, {f.latent_bytes} bytes")
    print(f"ICC profile: {len(f.icc)} bytes" if f.icc else "ICC profile: none")
    print(f"EXIF: {len(f.exif)} bytes" if f.exif else "EXIF: none")
    print(f"bits per pixel: {len(data) * 8 / (f.head.width * f.head.height):.4f}")


def _info(args: argparse.Namespace) -> int:
    data = _read_bytes(args.input)
    if version_of(data) != 1:
        _info_latent("<stdin>" if args.input == "-" else args.input, data)
        return 0
    header, payload, net, groups = siren_decoder.parse(data)
    print(f"file: {args.input} ({len(data)} bytes, format version {data[4]})")
    for f in fields(header):
        if f.name != "groups":
            print(f"{f.name}: {getattr(header, f.name)}")
    print(f"parameters: {net.n_params}")
    print(f"n_groups: {header.n_groups}")
    for i, (gh, g) in enumerate(zip(header.groups, groups)):
        kind = "direct" if g.direct else f"basis ({g.n_chunks} chunks)"
        values = ", ".join(f"{k}={v}" for k, v in asdict(gh).items())
        print(f"group {i}: {kind}, {g.n_coeffs} coefficients; {values}")
    print(f"coefficients: {sum(g.n_coeffs for g in groups)}")
    print(f"payload: {len(payload)} bytes")
    print(f"bits per pixel: {len(data) * 8 / (header.width * header.height):.4f}")
    return 0


def _encoder_options(enc: argparse.ArgumentParser) -> None:
    enc.add_argument("--preset", choices=tuple(codec.ARCHS["latent"]), default="default",
                     help="speed/quality trade-off; gpu: the long schedule on a CUDA GPU "
                          "(--arch latent) (default: %(default)s)")
    enc.add_argument("--arch", choices=sorted(ARCH_OPTIONS), default="latent",
                     help="latent: format v3, latents decoded by PRANC-coded networks; "
                          "siren: format v1, one SIREN (default: %(default)s)")
    target = enc.add_mutually_exclusive_group()
    target.add_argument("--bpp", type=float,
                        help="target bits per pixel: chooses k and the quantization "
                             "(within 5%%, or the nearest reachable with a note)")
    target.add_argument("--psnr", type=float,
                        help="target PSNR in dB: the smallest file found that reaches it "
                             "(may fit several times)")
    target.add_argument("--quality", type=float,
                        help="0 to 100, larger: bigger and better files; sets lambda "
                             "with no search, each 25 a tenth of it (--arch latent)")
    target.add_argument("--lam", type=float,
                        help="rate weight lambda: larger, smaller files (sets the rate; "
                             "--arch latent)")
    target.add_argument("--k", type=int, help="number of basis coefficients (sets the rate; "
                                              "--arch siren)")
    enc.add_argument("--iterations", type=int, help="fit iterations (--arch latent)")
    enc.add_argument("--device", help="cpu or cuda (--arch latent; default cpu)")
    enc.add_argument("--steps", type=int, help="optimisation steps of the fit (--arch siren)")
    enc.add_argument("--seed", type=int, help="seed of the random basis (0 to 2**64-1)")
    enc.add_argument("--width", type=int, help="SIREN hidden width (--arch siren)")
    enc.add_argument("--depth", type=int, help="number of SIREN sine layers (--arch siren)")
    enc.add_argument("--strip", action="store_true",
                     help="drop the image's colour profile and EXIF (kept by default)")


def _batch(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    settings = {} if args.decode else encoder_settings(args)
    if settings:
        codec.encoder_settings(**settings)  # a bad setting fails once, not once per file
    together = args.gpu_batch
    if together is not None and together < 1:
        raise ValueError(f"--gpu-batch must be at least 1, got {together}")
    if together is None:
        on_gpu = str(settings.get("device") or "").startswith("cuda")
        together = batch.gpu_batch_size() if on_gpu else 1
    if together > 1 and not args.decode:
        codec.encode_many([], **settings)  # refuses what cannot be fitted together, once
    options = batch.Options(args.decode, settings, args.strip, args.ms_ssim, together)
    return batch.run(Path(args.src), Path(args.dst), options, min(args.jobs, CORES), args.ray,
                     args.force, args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pranc-codec",
        description="PRANC image codec: an image is stored as the seed of a random "
                    "basis and the coefficients of a small neural network in it.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enc = sub.add_parser("encode", help="compress an image to .prc",
                         description="Compress an image (anything Pillow reads) to a .prc file.")
    enc.add_argument("input", help="image to compress (-: standard input)")
    enc.add_argument("output", help=".prc file to write (-: standard output)")
    _encoder_options(enc)
    enc.add_argument("--quiet", action="store_true", help="print nothing but errors")
    enc.set_defaults(run=_encode)

    bat = sub.add_parser(
        "batch", help="compress (or decompress) a whole collection, resumably",
        description="Compress every image under SRC (a folder, walked recursively, or a "
                    "text file of paths) to DST/<relative path>.prc, or with --decode every "
                    ".prc to PNG. Outputs already whole are skipped, so an interrupted run "
                    "finishes on a rerun; DST/manifest.jsonl gets one record per file.")
    bat.add_argument("src", help="folder of images, or a text file with one path per line")
    bat.add_argument("dst", help="folder for the outputs and manifest.jsonl")
    _encoder_options(bat)
    bat.add_argument("--jobs", type=int, default=CORES,
                     help="local worker processes, one thread each (default: the cores, "
                          "%(default)s)")
    bat.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                     help="run the files as Ray tasks on the cluster at ADDRESS (without "
                          "one: a local Ray); needs pip install 'pranc-codec[ray]'")
    bat.add_argument("--gpu-batch", type=int, metavar="N",
                     help="images fitted together, those of one shape in one multi-image fit "
                          "(default: as many as the GPU's free memory holds with --device "
                          "cuda, else 1)")
    bat.add_argument("--decode", action="store_true", help=".prc files to PNG instead")
    bat.add_argument("--force", action="store_true", help="redo outputs that already exist")
    bat.add_argument("--ms-ssim", action="store_true", help="also record MS-SSIM")
    bat.add_argument("--quiet", action="store_true", help="print nothing but errors")
    bat.set_defaults(run=_batch)

    dec = sub.add_parser("decode", help="decompress a .prc file to PNG",
                         description="Decompress a .prc file to an image (PNG unless the "
                                     "output's extension names another lossless format), "
                                     "with the original's colour profile and EXIF.")
    dec.add_argument("input", help=".prc file to read (-: standard input)")
    dec.add_argument("output", help="image to write, in the lossless format its extension "
                                    "names (.png, .tif, .bmp, .ppm, .webp, .tga; "
                                    "-: PNG on standard output)")
    dec.add_argument("--compare", metavar="IMAGE",
                     help="also print PSNR and MS-SSIM against this original")
    dec.add_argument("--quiet", action="store_true", help="print nothing but errors")
    dec.set_defaults(run=_decode)

    upg = sub.add_parser("upgrade", help="rewrite a .prc file in the latest version",
                         description="Rewrite a format v2 .prc file as v3: the same image, "
                                     "pixel for pixel, in fewer bytes (nothing is fitted "
                                     "again). A v3 file is copied as it is.")
    upg.add_argument("input", help=".prc file to read (-: standard input)")
    upg.add_argument("output", help=".prc file to write (-: standard output)")
    upg.add_argument("--quiet", action="store_true", help="print nothing but errors")
    upg.set_defaults(run=_upgrade)

    info = sub.add_parser("info", help="print a .prc file's header",
                          description="Print every header field, the payload size and "
                                      "the bits per pixel of a .prc file.")
    info.add_argument("input", help=".prc file to read (-: standard input)")
    info.set_defaults(run=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    heap.keep_freed()  # the process is the command's: a fit's iterations fault no pages
    try:
        return args.run(args)
    except (PrcError, ValueError) as exc:
        print(f"pranc-codec {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"pranc-codec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

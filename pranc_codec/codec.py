"""encode(image) -> .prc bytes and decode(.prc bytes) -> image: the one place that
chooses between the format versions.

Versions 2 and 3 (v3 written by default, ``arch="latent"``): ``latent.encoder`` and
``latent.rate`` fit latents and PRANC-coded networks with torch;
``latent.decoder`` decodes with numpy and numba. Version 1
(``arch="siren"``): ``siren.encoder`` and ``siren.rate`` fit a SIREN;
``siren.decoder`` decodes it. A decode never loads torch. The settings only
steer the encoder: everything the decoder needs is in the file.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from typing import IO, NamedTuple

import numpy as np

from .errors import PrcFormatError, PrcTruncatedError
from .fileformat import CHANNELS, MAGIC, MAX_PIXELS, MAX_SIDE, version_of
from .latent import container
from .latent import decoder as latent_decoder
from .latent import upgrade as latent_upgrade
from .latent import settings as latent_settings
from .siren import bitstream
from .siren import decoder as siren_decoder
from .siren import settings as siren_settings

ARCHS = {"latent": latent_settings.PRESETS, "siren": siren_settings.PRESETS}


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in CHANNELS:
        raise ValueError("image must be uint8 of shape (height, width, 1|3|4)")
    h, w = image.shape[:2]
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or h * w > MAX_PIXELS:
        raise ValueError(f"{w}x{h} is outside the supported size (each side at most "
                         f"{MAX_SIDE}, at most {MAX_PIXELS} pixels)")


def _check_decodable(settings, image: np.ndarray, arch: str) -> None:
    """ValueError where the file a fit of ``image`` would end in is one no decoder
    reads: checked before the fit, which cannot change it."""
    try:
        (latent_settings if arch == "latent" else siren_settings).check_decodable(
            settings, *image.shape)
    except PrcFormatError as e:
        h, w = image.shape[:2]
        raise ValueError(f"{w}x{h} at these settings would make a file no decoder reads: "
                         f"{e}") from None


def settings_for(preset: str = "default", arch: str = "latent", **overrides):
    """A preset of format ``arch`` with some fields replaced (None values are ignored)."""
    presets = ARCHS.get(arch)
    if presets is None:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
    unknown = set(overrides) - set(asdict(presets[preset]))
    if unknown:
        raise TypeError(f"unknown encoder setting(s) for {arch}: {', '.join(sorted(unknown))}")
    settings = replace(presets[preset], **{k: v for k, v in overrides.items() if v is not None})
    settings.validate()
    return settings


def encoder_settings(preset: str = "default", bpp: float | None = None,
                     psnr: float | None = None, quality: float | None = None,
                     arch: str = "latent", **overrides):
    """The checked settings ``encode`` would fit with (ValueError naming a bad or
    conflicting one), cheap enough to call before reading an image."""
    if bpp is not None and psnr is not None:
        raise ValueError("give a target bpp or a target PSNR, not both")
    for rate_setting in ("k", "lam"):
        if bpp is not None and overrides.get(rate_setting) is not None:
            raise ValueError(f"give {rate_setting} or a target bpp, not both: the target "
                             f"chooses {rate_setting}")
    for name, value in (("bpp", bpp), ("psnr", psnr), ("lam", overrides.get("lam"))):
        if quality is not None and value is not None:
            raise ValueError(f"give quality or {name}, not both: each sets the rate")
    if quality is not None:
        if arch != "latent":
            raise ValueError("quality applies to the latent codec (--arch latent)")
        overrides["lam"] = latent_settings.lam_for_quality(quality)
    settings = settings_for(preset, arch, **overrides)
    if getattr(settings, "device", "cpu").startswith("cuda"):
        import torch  # only a CUDA fit asks: torch loads slowly

        if not torch.cuda.is_available():
            raise ValueError(f"device {settings.device} needs a CUDA GPU, and torch sees none "
                             "(use a CPU preset)")
    return settings


def encode(image: np.ndarray, preset: str = "default", progress: bool = False,
           bpp: float | None = None, psnr: float | None = None, quality: float | None = None,
           arch: str = "latent", icc: bytes = b"", exif: bytes = b"", **overrides) -> bytes:
    """Fit, quantize and pack one uint8 (H, W, C) or (H, W) image; returns the .prc bytes.

    ``arch="latent"`` writes format v3 (the rate follows the settings' lam,
    or ``quality``, or a target ``bpp`` or ``psnr``) with the image's ICC
    profile and EXIF block if given; ``arch="siren"`` writes v1, whose rate
    follows k, or ``bpp`` or ``psnr`` (see pranc_codec.siren.rate), and holds
    no metadata. A RateNote warning says when a target is out of reach.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    _check_image(image)
    settings = encoder_settings(preset, bpp, psnr, quality, arch, **overrides)
    if arch == "siren" and (icc or exif):
        raise ValueError("format v1 (--arch siren) holds no colour profile or EXIF")
    # Everything a fit could not change is checked before it: the file a fit
    # would end in must be one a decoder reads.
    container.check_metadata(icc, exif)
    _check_decodable(settings, image, arch)
    # Imported here, not at the top: torch is needed to encode, and only to encode.
    if arch == "latent":
        from .latent import encoder, rate

        if bpp is not None:
            data = rate.encode_to_bpp(image, settings, bpp, progress)
        elif psnr is not None:
            data = rate.encode_to_psnr(image, settings, psnr, progress)
        else:
            data = encoder.encode_image(image, settings, progress)
        return container.with_metadata(data, icc, exif) if icc or exif else data
    from .siren import encoder, rate

    if bpp is not None:
        return rate.encode_to_bpp(image, settings, bpp, progress)
    if psnr is not None:
        return rate.encode_to_psnr(image, settings, psnr, progress)
    return encoder.encode_image(image, settings, progress)


def encode_many(images: list[np.ndarray], preset: str = "default", progress: bool = False,
                bpp: float | None = None, psnr: float | None = None, quality: float | None = None,
                arch: str = "latent", metadata: list[dict[str, bytes]] | None = None,
                **overrides) -> list[bytes]:
    """``encode`` of several images at one setting (format v3, the rate set by lam
    or ``quality``; ``metadata``: each image's icc and exif arguments). Images
    of one shape are fitted together, one multi-image fit (``latent.multi_fit``:
    on a GPU one pass and one basis product for them all), so pass as many as
    the device holds; each file is what encode would write but for the fit's
    rounding noise. Rate targets (bpp, psnr) are searched image by image: use
    encode for them."""
    if bpp is not None or psnr is not None:
        raise ValueError("a target bpp or PSNR is searched image by image: encode them apart")
    if arch != "latent":
        raise ValueError("images are fitted together in the latent codec only (--arch latent)")
    images = [image[:, :, None] if image.ndim == 2 else image for image in images]
    metadata = metadata or [{}] * len(images)
    if len(metadata) != len(images):
        raise ValueError("give one metadata entry per image")
    settings = encoder_settings(preset, None, None, quality, "latent", **overrides)
    for image, meta in zip(images, metadata):
        _check_image(image)
        container.check_metadata(meta.get("icc", b""), meta.get("exif", b""))
        _check_decodable(settings, image, "latent")
    from .latent import encoder

    shapes: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        shapes.setdefault(image.shape, []).append(i)
    out: list[bytes] = [b""] * len(images)
    for indices in shapes.values():
        group = [images[i] for i in indices]
        for i, data in zip(indices, encoder.encode_images(group, settings, progress)):
            meta = metadata[i]
            out[i] = container.with_metadata(data, **meta) if any(meta.values()) else data
    return out


def metadata_kept(icc: bytes, exif: bytes, strip: bool, arch: str) -> dict[str, bytes]:
    """encode's icc and exif arguments for an image's metadata: none with ``strip``
    or for format v1, which holds none."""
    if strip or arch == "siren" or not (icc or exif):
        return {}
    return {"icc": icc, "exif": exif}


class Described(NamedTuple):
    """What a .prc file says of its image, without decoding it."""

    width: int
    height: int
    channels: int
    icc: bytes  # the ICC profile, b"" where the file has none (v1 files never)
    exif: bytes  # the EXIF block, likewise


def describe(fp: IO[bytes]) -> Described:
    """The image a .prc stream holds, read from its start: the header, its fields
    and the decoder's caps checked, and in v2 the metadata sections, found by
    seeking past the others; PrcFormatError if the header is malformed. The
    rest of the file is ``check``'s and ``decode``'s to check."""
    version = version_of(fp.read(len(MAGIC) + 1))
    if version != 1:
        head, icc, exif = container.describe(fp, version)
        latent_decoder.check_caps(head)
        return Described(head.width, head.height, head.channels, icc, exif)
    header = bitstream.read_header(fp)
    return Described(header.width, header.height, header.channels, b"", b"")


def check(data: bytes) -> None:
    """Every check of a .prc file that needs no decoding (layout, checksums, fields,
    caps); PrcFormatError says what is wrong."""
    (latent_decoder if version_of(data) != 1 else siren_decoder).parse(data)


def decode(data: bytes) -> np.ndarray:
    """The uint8 (H, W, C) image of a .prc file of any version; PrcFormatError if malformed."""
    if version_of(data) != 1:
        return latent_decoder.decode(data)
    return siren_decoder.decode(data)


def upgrade(data: bytes) -> bytes:
    """A v2 file rewritten in the latest version, v3: the same pixels in fewer bytes
    (a v3 file comes back as it is). Format v1 has no later form: ValueError."""
    if version_of(data) == 1:
        raise ValueError("a version 1 file (a SIREN) has no later version to take")
    return latent_upgrade.upgrade(data)


def decode_partial(data: bytes) -> np.ndarray | None:
    """``decode`` for a file that may be cut short: a v2 file cut after its networks
    gives the grids that are whole, the finer ones at the entropy model's mean
    (a blurred preview); None where too little is left to decode (a v1 file's
    payload is range-coded whole). Damage other than a cut is a PrcFormatError."""
    try:
        if version_of(data) != 1:
            return latent_decoder.decode(data, partial=True)
        return siren_decoder.decode(data)
    except PrcTruncatedError:
        return None

"""encode(image) -> .prc bytes and decode(.prc bytes) -> image, for every format version.

Version 2 (the default, ``arch="latent"``): latent_encoder.py fits latents
and PRANC-coded networks with torch; latent_decoder.py decodes with numpy
and numba. Version 1 (``arch="siren"``): encoder.py fits a SIREN; unpack ->
range decode -> theta (groups.py) -> render (inr.py). A decode never loads
torch. The settings (settings.py) only steer the encoder: everything the
decoder needs is in the file.
"""
from __future__ import annotations

import numpy as np

from . import bitstream, container, entropy, groups, latent_decoder
from .bitstream import Header
from .errors import PrcFormatError
from .groups import Group
from .inr import Siren, render
from .settings import lam_for_quality, settings_for


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in bitstream.CHANNELS:
        raise ValueError("image must be uint8 of shape (height, width, 1|3|4)")
    h, w = image.shape[:2]
    if not (1 <= h <= bitstream.MAX_SIDE and 1 <= w <= bitstream.MAX_SIDE) \
            or h * w > bitstream.MAX_PIXELS:
        raise ValueError(f"{w}x{h} is outside the supported size (each side at most "
                         f"{bitstream.MAX_SIDE}, at most {bitstream.MAX_PIXELS} pixels)")


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
        overrides["lam"] = lam_for_quality(quality)
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

    ``arch="latent"`` writes format v2 (the rate follows the settings' lam,
    or ``quality``, or a target ``bpp`` or ``psnr``) with the image's ICC
    profile and EXIF block if given; ``arch="siren"`` writes v1, whose rate
    follows k, or ``bpp`` or ``psnr`` (see pranc_codec.rate), and holds no
    metadata. A RateNote warning says when a target is out of reach.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    _check_image(image)
    settings = encoder_settings(preset, bpp, psnr, quality, arch, **overrides)
    if arch == "siren" and (icc or exif):
        raise ValueError("format v1 (--arch siren) holds no colour profile or EXIF")
    # Imported here, not at the top: torch is needed to encode, and only to encode.
    if arch == "latent":
        from . import latent_encoder

        if bpp is not None:
            data = latent_encoder.encode_to_bpp(image, settings, bpp, progress)
        elif psnr is not None:
            data = latent_encoder.encode_to_psnr(image, settings, psnr, progress)
        else:
            data = latent_encoder.encode_image(image, settings, progress)
        return container.with_metadata(data, icc, exif) if icc or exif else data
    from . import encoder, rate

    if bpp is not None:
        return rate.encode_to_bpp(image, settings, bpp, progress)
    if psnr is not None:
        return rate.encode_to_psnr(image, settings, psnr, progress)
    return encoder.encode_image(image, settings, progress)


def network(header: Header) -> tuple[Siren, list[Group]]:
    """The INR and the coefficient groups a header describes."""
    net = Siren(header.inr_width, header.inr_depth, header.channels, header.w0)
    if sum(g.size for g in header.groups) != net.n_params:
        raise PrcFormatError(
            f"groups cover {sum(g.size for g in header.groups)} parameters but a SIREN of "
            f"width {net.width} and depth {net.depth} has {net.n_params}")
    layout, start = [], 0
    for g in header.groups:
        layout.append(Group(start, g.size, g.chunk, g.rank, g.scale))
        start += g.size
    return net, layout


def metadata_kept(icc: bytes, exif: bytes, strip: bool, arch: str) -> dict[str, bytes]:
    """encode's icc and exif arguments for an image's metadata: none with ``strip``
    or for format v1, which holds none."""
    if strip or arch == "siren" or not (icc or exif):
        return {}
    return {"icc": icc, "exif": exif}


def metadata(data: bytes) -> tuple[bytes, bytes]:
    """(ICC profile, EXIF block) of a .prc file, b"" where it has none (v1 files never)."""
    if bitstream.version_of(data) == 2:
        f = container.unpack(data)
        return f.icc, f.exif
    return b"", b""


def decode(data: bytes) -> np.ndarray:
    """The uint8 (H, W, C) image of a .prc file of any version; PrcFormatError if malformed."""
    if bitstream.version_of(data) == 2:
        return latent_decoder.decode(data)
    header, payload = bitstream.unpack(data)
    net, layout = network(header)
    models = [(g.laplace, g.qmax) for g in header.groups]
    ints = entropy.decode(payload, models, [g.n_coeffs for g in layout])
    coeffs = [entropy.dequantize(q, g.step) for q, g in zip(ints, header.groups)]
    theta = groups.theta(header.seed, layout, net.init_bounds(), coeffs)
    return render(net, theta, header.height, header.width)

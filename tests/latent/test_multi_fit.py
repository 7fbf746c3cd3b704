"""Several images fitted in lockstep (``multi_fit``) against the same images fitted alone."""
import numpy as np
import pytest
import torch

from pranc_codec import codec
from pranc_codec.latent import encoder
from pranc_codec.metrics import psnr
from tests.conftest import LATENT_TINY


def _crops(size=(24, 28)):
    from skimage.data import astronaut, chelsea, coffee

    h, w = size
    return [np.ascontiguousarray(image[y:y + h, x:x + w]) for image, y, x in
            ((astronaut(), 60, 200), (chelsea(), 100, 100), (coffee(), 100, 200))]


def _settings(**overrides):
    return codec.settings_for("default", **{**LATENT_TINY, **overrides})


def _judged(fitted, lam):
    return encoder.judge(fitted.fit, lam, [2.0**e for e in fitted.step_exps])()


def test_without_noise_a_multi_fit_is_the_single_fits(monkeypatch):
    """The rounding noise is the only thing a batch draws differently: with it fixed,
    each image's fit is its single fit up to float rounding (batched matmuls sum
    in another order), each at its own lambda."""
    monkeypatch.setattr(torch, "rand_like", lambda t, **kw: torch.full_like(t, 0.5))
    images, lams = _crops(), [0.01, 0.004, 0.006]
    s = _settings()
    single = [encoder.fit(image, s, lam) for image, lam in zip(images, lams)]
    multi = encoder.fit_many(images, s, lams)
    for a, b, lam in zip(single, multi, lams, strict=True):
        assert a.step_exps == b.step_exps
        for x, y in zip(a.fit.latents + a.fit.coeffs, b.fit.latents + b.fit.coeffs, strict=True):
            torch.testing.assert_close(x, y, atol=1e-2, rtol=0)
        assert _judged(b, lam) == pytest.approx(_judged(a, lam), rel=0.01)


def test_multi_fit_files_decode_to_their_images():
    images, lams = _crops(), [0.001, 0.001, 0.001]
    fitted = encoder.fit_many(images, _settings(), lams)
    flat = [psnr(im, np.broadcast_to(im.reshape(-1, 3).mean(0).round(), im.shape).astype(np.uint8))
            for im in images]
    for image, f, base in zip(images, fitted, flat, strict=True):
        decoded = codec.decode(encoder.pack(f))
        assert decoded.shape == image.shape
        assert psnr(image, decoded) > base + 6.0  # each learned its own image


def test_multi_fit_refuses_what_it_cannot_batch():
    a, b = _crops()[:2]
    with pytest.raises(ValueError, match="one shape"):
        encoder.fit_many([a, b[:20]], _settings(), [0.01, 0.01])
    with pytest.raises(ValueError, match="different latent grids"):
        encoder.fit_many([a, b], _settings(), [0.01, 1e-4])  # the full-resolution grid

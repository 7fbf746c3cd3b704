"""The Triton kernels (run in Triton's CPU interpreter) against the torch path."""
import pytest
import torch

from pranc_codec import codec
from pranc_codec.basis import groups, philox, product
from pranc_codec.basis.groups import Group
from pranc_codec.basis.product import BasisProduct
from pranc_codec.kernels import launch
from pranc_codec.metrics import psnr

# (size, chunk, rank): sizes off every block and chunk multiple, m = 1, r = 1, dense
SHAPES = [(37, 8, 3), (50, 1, 2), (23, 23, 5), (64, 16, 1), (101, 7, 4), (300, 300, 9),
          (1000, 128, 16)]
KEYS = [groups.stream_key(99, 3), 2**32 + 12345, 2**63 + 7]


def close(ours: torch.Tensor, ref: torch.Tensor) -> bool:
    return (ours - ref).abs().max() <= 1e-5 * ref.abs().max().clamp_min(1.0)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("size,chunk,rank", SHAPES)
def test_kernels_equal_torch_path(size, chunk, rank, key):
    group = Group(0, size, chunk, rank, 0.37)
    for n_vec in (1, 3):  # single and batched
        alpha = torch.randn(n_vec, group.n_coeffs)
        grad = torch.randn(n_vec, size)
        fwd = launch.forward(alpha, size, group.n_chunks, rank, group.scale, key)
        bwd = launch.backward(grad, size, group.n_chunks, rank, group.scale, key)
        assert close(fwd, product.basis_forward(group, key, alpha, cache=False))
        assert close(bwd, product.basis_backward(group, key, grad, cache=False))


def test_forward_adds_theta0_when_given():
    group = Group(0, 40, 8, 2, 0.5)
    alpha, base = torch.randn(1, group.n_coeffs), torch.randn(40)
    fused = launch.forward(alpha, 40, group.n_chunks, 2, 0.5, 11, base=base)
    assert close(fused, base + launch.forward(alpha, 40, group.n_chunks, 2, 0.5, 11))


@pytest.mark.parametrize("key", KEYS)
def test_integer_stage_is_bit_exact(key):
    size, rank = 70, 3
    words = launch.basis_words(size, rank, key)
    offsets = torch.arange(size * rank, dtype=torch.int64)
    w0, w1, _, _ = philox.randint4x(key, offsets)
    assert torch.equal(words.reshape(-1, 2)[:, 0], w0)
    assert torch.equal(words.reshape(-1, 2)[:, 1], w1)


def test_backend_dispatch(monkeypatch):
    cpu = torch.zeros(3)
    monkeypatch.delenv("PRANC_BACKEND", raising=False)
    assert product.backend_for(cpu) == "torch"
    monkeypatch.setenv("PRANC_BACKEND", "triton")
    assert product.backend_for(cpu) == "triton"
    monkeypatch.setenv("PRANC_BACKEND", "cuda")
    with pytest.raises(ValueError, match="PRANC_BACKEND"):
        product.backend_for(cpu)


def test_autograd_through_triton_backend(monkeypatch):
    group, key = Group(0, 45, 10, 3, 0.5), 77
    weights = torch.randn(45)
    grads = {}
    for backend in ("torch", "triton"):
        monkeypatch.setenv("PRANC_BACKEND", backend)
        alpha = torch.linspace(-1, 1, group.n_coeffs).requires_grad_()
        (BasisProduct.apply(alpha, group, key, False) * weights).sum().backward()
        grads[backend] = alpha.grad
    assert close(grads["triton"], grads["torch"])


def test_fit_through_triton_matches_torch(monkeypatch, photo, tiny_settings):
    image = photo[:16, :16]
    settings = {**tiny_settings, "steps": 40}
    files = {}
    for backend in ("torch", "triton"):
        monkeypatch.setenv("PRANC_BACKEND", backend)
        files[backend] = codec.encode(image, **settings)
    monkeypatch.delenv("PRANC_BACKEND")
    if files["torch"] != files["triton"]:
        a, b = (psnr(image, codec.decode(files[k])) for k in ("torch", "triton"))
        assert abs(a - b) <= 0.01

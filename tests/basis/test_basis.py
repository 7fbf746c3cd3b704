import math

import numpy as np
import pytest
import torch

from pranc_codec.basis import groups, philox, product
from pranc_codec.basis.groups import Group
from pranc_codec.basis.product import BasisProduct, Reparam


def dense_matrix(group: Group, key: int) -> torch.Tensor:
    """The group's basis as an explicit (size, n_coeffs) matrix, from the spec's formula."""
    c = group.n_chunks
    b = torch.zeros(group.size, group.n_coeffs, dtype=torch.float64)
    for p in range(group.size):
        offsets = torch.arange(p * group.rank, (p + 1) * group.rank, dtype=torch.int64)
        cols = (p % c) * group.rank + torch.arange(group.rank)
        b[p, cols] = philox.randn(key, offsets).double()
    return b * group.scale


SHAPES = [  # (size, chunk, rank): odd sizes, a partial last row, m = 1, r = 1, dense
    (37, 8, 3),
    (50, 1, 2),
    (23, 23, 5),
    (64, 16, 1),
    (101, 7, 4),
]


@pytest.fixture(params=["cached", "compiled-sliced", "torch-sliced"])
def cache_mode(request, monkeypatch):
    """The cache flag, with each way the CPU path can get its basis values."""
    product.CACHE.clear()
    if request.param != "cached":
        monkeypatch.setattr(groups, "SLICE_VALUES", 10)  # many small slices
    if request.param == "compiled-sliced":  # a fit whose basis is over the budget
        monkeypatch.setattr(product.CACHE, "budget_bytes", 0)
    return request.param != "torch-sliced"


@pytest.mark.parametrize("size,chunk,rank", SHAPES)
def test_forward_and_gradient_equal_dense_product(size, chunk, rank, cache_mode):
    group = Group(0, size, chunk, rank, scale=0.37)
    key = groups.stream_key(99, 3)
    b = dense_matrix(group, key)
    alpha = torch.randn(group.n_coeffs)
    grad = torch.randn(size)
    fwd = product.basis_forward(group, key, alpha, cache=cache_mode)
    bwd = product.basis_backward(group, key, grad, cache=cache_mode)
    assert torch.allclose(fwd.double(), b @ alpha.double(), atol=1e-5)
    assert torch.allclose(bwd.double(), b.T @ grad.double(), atol=1e-5)


@pytest.mark.parametrize("size,chunk,rank", SHAPES)
def test_decoder_product_equals_dense_product(size, chunk, rank, monkeypatch):
    monkeypatch.setattr(groups, "SLICE_VALUES", 10)
    group = Group(0, size, chunk, rank, scale=0.37)
    key = groups.stream_key(99, 3)
    alpha = torch.randn(group.n_coeffs)
    out = groups.forward(group, key, alpha.numpy())
    assert out.dtype == np.float32
    assert np.allclose(out, (dense_matrix(group, key) @ alpha.double()).numpy(), atol=1e-5)


@pytest.mark.parametrize("budget", [1, 7, 40, 1000])
@pytest.mark.parametrize("size,chunk,rank", SHAPES)
def test_segments_cover_every_parameter_once(size, chunk, rank, budget):
    c = math.ceil(size / chunk)
    seen = []
    for p0, rows, length in groups.segments(size, c, rank, budget):
        assert p0 % c + length <= c  # a row piece never wraps past the last chunk
        assert rows == 1 or length == c
        seen.extend(range(p0, p0 + rows * length))
    assert seen == list(range(size))


def test_autograd_function_gradient():
    group = Group(0, 45, 10, 3, scale=0.5)
    key = groups.stream_key(5, 1)
    b = dense_matrix(group, key).float()
    alpha = torch.randn(group.n_coeffs, requires_grad=True)
    weights = torch.randn(45)
    (BasisProduct.apply(alpha, group, key, True) * weights).sum().backward()
    assert torch.allclose(alpha.grad, b.T @ weights, atol=1e-5)


def test_basis_value_does_not_depend_on_chunking_or_slicing():
    # B[p, j] is randn(key, p*r + j) whatever m is: chunking only routes coefficients.
    key = groups.stream_key(1, 1)
    full = product.basis_values(key, 4, 0, 90)
    assert torch.equal(full[30:61], product.basis_values(key, 4, 30, 61))
    for chunk in (1, 9, 90):
        g = Group(0, 90, chunk, 4, 1.0)
        d = dense_matrix(g, key)
        # each parameter's nonzero basis entries are the same 4 values
        assert torch.allclose(d[d != 0].view(90, 4), full.double())


def test_reparam_theta_combines_theta0_basis_and_direct_groups():
    bounds = np.linspace(0.1, 1.0, 30, dtype=np.float32)
    layout = [Group(0, 10), Group(10, 20, 6, 2, 0.25)]
    rp = Reparam(42, layout, bounds)
    assert rp.theta0.abs().le(torch.from_numpy(bounds)).all()
    direct = torch.randn(10)
    alpha = torch.randn(layout[1].n_coeffs)
    theta = rp.theta([direct, alpha])
    assert torch.allclose(theta[:10], rp.theta0[:10] + direct)
    expected = rp.theta0[10:] + (dense_matrix(layout[1], rp.key(1)) @ alpha.double()).float()
    assert torch.allclose(theta[10:], expected, atol=1e-6)
    # the decoder's numpy theta is the same
    decoded = groups.theta(42, layout, bounds, [direct.numpy(), alpha.numpy()])
    assert np.allclose(decoded, theta.detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError):
        Reparam(42, [Group(0, 10)], bounds)


def test_theta0_is_the_uniform_stream_and_depends_on_seed_only():
    bounds = np.full(100, 0.5, dtype=np.float32)
    first = groups.theta0(3, bounds)
    u = philox.rand(groups.stream_key(3, 0), torch.arange(100, dtype=torch.int64))
    assert np.array_equal(first, ((u * 2.0 - 1.0) * 0.5).numpy())  # bit for bit
    assert np.array_equal(first, groups.theta0(3, bounds))
    assert not np.array_equal(first, groups.theta0(4, bounds))


def test_cache_respects_budget():
    cache = product.BasisCache(budget_bytes=100 * 4 * 4)
    assert cache.get(1, 100, 4) is not None
    assert cache.get(2, 100, 4) is not None  # evicts the first
    assert cache.used_bytes() <= cache.budget_bytes
    assert cache.get(3, 101, 4) is None  # larger than the whole budget
    assert math.isclose(cache.used_bytes(), 1600)

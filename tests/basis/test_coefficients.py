import numpy as np
import pytest
import torch

from pranc_codec.basis import coefficients
from pranc_codec.basis.fitting import fake_quantize
from pranc_codec.errors import PrcFormatError


def laplace_ints(n: int, scale: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.laplace(0, scale, n)).astype(np.int64)


def test_range_coding_round_trip_and_rate():
    groups = [laplace_ints(2000, 3.0, 1), laplace_ints(500, 0.3, 2), np.zeros(40, np.int64)]
    models = [coefficients.fit_laplace(q) for q in groups]
    assert models[2] == (1, 0)
    payload = coefficients.encode(groups, models)
    back = coefficients.decode(payload, models, [q.size for q in groups])
    for q, b in zip(groups, back):
        assert np.array_equal(q, b)
    # the rate is close to the model's ideal code length
    ideal = sum(coefficients.cost_bits(t, m, q.size, int(np.abs(q).sum()))
                for q, (t, m) in zip(groups, models) if m)
    assert len(payload) * 8 < ideal * 1.02 + 64


def test_fitted_laplace_is_best_on_a_grid():
    q = laplace_ints(5000, 2.0, 3)
    t, qmax = coefficients.fit_laplace(q)
    cost = coefficients.cost_bits(t, qmax, q.size, int(np.abs(q).sum()))
    for other in range(100, 65535, 997):
        assert cost <= coefficients.cost_bits(other, qmax, q.size, int(np.abs(q).sum())) + 1e-6


def test_quantization_round_trip():
    values = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    step = coefficients.quant_step(values, 0.3)
    assert np.float32(step) == step
    q = coefficients.quantize(values, step)
    assert np.abs(coefficients.dequantize(q, step) - values).max() <= step / 2 + 1e-6


def test_fit_trains_on_exactly_the_values_the_file_stores():
    values = torch.randn(1000) * 3
    step = coefficients.quant_step(values.numpy(), 0.3)
    leaf = values.clone().requires_grad_()
    fq = fake_quantize(leaf, step)
    stored = coefficients.dequantize(coefficients.quantize(values.numpy(), step), step)
    assert np.array_equal(fq.detach().numpy(), stored)
    fq.sum().backward()
    assert torch.equal(leaf.grad, torch.ones(1000))  # straight-through


def test_damaged_payload_is_a_format_error():
    models = [(30000, 5)]
    with pytest.raises(PrcFormatError):
        coefficients.decode(b"\x01\x02\x03", models, [10])

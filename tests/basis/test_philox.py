import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from pranc_codec.basis import philox
from pranc_codec.kernels import philox_cpu


def _words(*values):
    return [torch.tensor([v], dtype=torch.int64) for v in values]


def test_random123_known_answers():
    # philox4x32_10 vectors from Random123's kat_vectors
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for counter, key, expected in cases:
        out = philox.philox4x32(*_words(*counter), *key)
        assert tuple(int(w) for w in out) == expected


@triton.jit
def _reference_kernel(words_ptr, normal_ptr, uniform_ptr, seed, n, stride,
                      BLOCK: tl.constexpr):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < n
    offset = idx.to(tl.int64) * stride + 3
    w0, w1, w2, w3 = tl.randint4x(seed, offset)
    tl.store(words_ptr + idx * 4, w0.to(tl.int64) & 0xFFFFFFFF, mask=mask)
    tl.store(words_ptr + idx * 4 + 1, w1.to(tl.int64) & 0xFFFFFFFF, mask=mask)
    tl.store(words_ptr + idx * 4 + 2, w2.to(tl.int64) & 0xFFFFFFFF, mask=mask)
    tl.store(words_ptr + idx * 4 + 3, w3.to(tl.int64) & 0xFFFFFFFF, mask=mask)
    tl.store(normal_ptr + idx, tl.randn(seed, offset), mask=mask)
    tl.store(uniform_ptr + idx, tl.rand(seed, offset), mask=mask)


def test_matches_triton_interpreter():
    n, block = 3000, 2048
    # a large stride reaches offsets above 2**32 (the counter's second word)
    stride = 2_000_003
    offsets = torch.arange(n, dtype=torch.int64) * stride + 3
    assert int(offsets.max()) > 2**32
    for seed in (0, 7, 2**32 + 5, 2**63 + 11):
        words = torch.zeros(n * 4, dtype=torch.int64)
        normal, uniform = torch.zeros(n), torch.zeros(n)
        _reference_kernel[(triton.cdiv(n, block),)](words, normal, uniform, seed, n, stride,
                                                    BLOCK=block)
        ours = torch.stack(philox.randint4x(seed, offsets), dim=1).reshape(-1)
        assert torch.equal(words, ours), f"integer stream differs for seed {seed}"
        assert torch.equal(uniform, philox.rand(seed, offsets))
        assert (normal - philox.randn(seed, offsets)).abs().max() <= 1e-6


def test_normal_statistics():
    x = philox.randn(12345, torch.arange(200_000, dtype=torch.int64))
    assert abs(x.mean().item()) < 0.01
    assert abs(x.std().item() - 1.0) < 0.01


def test_seed_range_checked():
    with pytest.raises(ValueError):
        philox.split_key(2**64)


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5, 2**63 + 11, 2**64 - 1])
def test_cpu_generators_match_torch_reference(seed):
    # a range that crosses 2**32, so the counter's second word changes inside it
    start, n = 2**32 - 1500, 3001
    offsets = torch.arange(start, start + n, dtype=torch.int64)
    k0, k1 = philox.split_key(seed)
    words = torch.from_numpy(philox_cpu.words(k0, k1, start, n).astype(np.int64))
    w0, w1, _, _ = philox.randint4x(seed, offsets)
    assert torch.equal(words, torch.stack([w0, w1], dim=1)), "integer stream differs"
    for compiled in (True, False):
        normal = torch.from_numpy(philox_cpu.randn(k0, k1, start, n, 1, compiled))
        assert (normal - philox.randn(seed, offsets)).abs().max() <= 1e-6
    uniform = philox_cpu.rand(k0, k1, start, n)
    assert torch.equal(torch.from_numpy(uniform), philox.rand(seed, offsets))  # bit for bit


def test_compiled_kernel_same_values_on_any_thread_count():
    one = philox_cpu.randn(3, 4, 10, 100_001, threads=1, compiled=True)
    two = philox_cpu.randn(3, 4, 10, 100_001, threads=2, compiled=True)
    assert np.array_equal(one, two)
    assert philox_cpu.randn(3, 4, 10, 0, compiled=True).shape == (0,)


def test_numpy_generator_blocks_join_seamlessly(monkeypatch):
    whole = philox_cpu.randn(3, 4, 10, 1000)
    monkeypatch.setattr(philox_cpu, "BLOCK", 64)
    assert np.array_equal(philox_cpu.randn(3, 4, 10, 1000), whole)
    assert philox_cpu.randn(3, 4, 10, 0).shape == (0,)


def test_compiled_kernel_checks_ranges():
    with pytest.raises(ValueError):
        philox_cpu.randn(2**32, 0, 0, 1)
    with pytest.raises(ValueError):
        philox_cpu.randn(0, 0, 2**63 - 1, 2)

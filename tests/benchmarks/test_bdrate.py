import math

import numpy as np
import pytest

from benchmarks import bdrate

RATES = [0.1, 0.2, 0.4, 0.8, 1.6]


def quality(rate):
    """A concave curve in log-rate, like a real codec's."""
    x = np.log(rate)
    return 30.0 + 4.0 * x - 0.3 * x**2


def test_uniform_rate_saving_is_its_bd_rate():
    # the test codec reaches every quality with exactly 80% of the anchor's bits
    test_rates = [0.8 * r for r in RATES]
    assert bdrate.bd_rate(RATES, quality(np.array(RATES)), test_rates,
                          quality(np.array(RATES))) == pytest.approx(-20.0, abs=1e-9)


def test_uniform_quality_gain_is_its_bd_psnr():
    q = quality(np.array(RATES))
    assert bdrate.bd_quality(RATES, q, RATES, q + 1.5) == pytest.approx(1.5, abs=1e-9)
    assert bdrate.bd_quality(RATES, q, RATES, q) == pytest.approx(0.0, abs=1e-12)


def test_linear_curve_gives_closed_form():
    # PSNR = a + b ln(rate): a 20% rate saving is a gain of -b ln(0.8) dB everywhere
    b = 5.0
    ref_q = [20 + b * math.log(r) for r in RATES]
    test_rates = [0.8 * r for r in RATES]
    assert bdrate.bd_quality(RATES, ref_q, test_rates, ref_q) == pytest.approx(-b * math.log(0.8))


def test_swapping_curves_inverts_the_rate_ratio():
    q_ref, q_test = quality(np.array(RATES)), quality(np.array(RATES)) + 0.7
    forward = bdrate.bd_rate(RATES, q_ref, RATES, q_test) / 100 + 1
    backward = bdrate.bd_rate(RATES, q_test, RATES, q_ref) / 100 + 1
    assert forward < 1 < backward
    assert forward * backward == pytest.approx(1.0)


def test_no_overlap_or_too_few_points_is_none():
    q = quality(np.array(RATES))
    assert bdrate.bd_rate(RATES, q, RATES, q + 100) is None
    assert bdrate.bd_quality(RATES, q, [r * 100 for r in RATES], q) is None
    assert bdrate.bd_rate(RATES, q, [0.3], [31.0]) is None
    assert bdrate.overlap([1, 2], [3, 4]) is None
    assert bdrate.overlap([1, 3], [2, 4]) == (2, 3)


def test_unsorted_input_and_ties_are_handled():
    q = quality(np.array(RATES))
    order = [3, 0, 4, 1, 2]
    shuffled_r, shuffled_q = [RATES[i] for i in order], [q[i] for i in order]
    assert bdrate.bd_rate(RATES, q, shuffled_r, shuffled_q) == pytest.approx(0.0, abs=1e-9)

"""The study's statistics against published numbers and against scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from dubclr.evaluate.study_stats import paired_t_test, t_interval

# Student's sleep data (Cushny & Peebles 1905): extra hours of sleep under two drugs, the same
# ten patients. R: t.test(extra ~ group, data = sleep, paired = TRUE) gives t = -4.0621,
# df = 9, p-value = 0.002833, 95 % CI (-2.4598858, -0.7001142), mean difference -1.58.
DRUG_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
DRUG_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_test_reproduces_the_published_sleep_result():
    test = paired_t_test(DRUG_1, DRUG_2)
    assert test.n == 10 and test.wins == 0
    assert test.mean_difference == pytest.approx(-1.58)
    assert test.t == pytest.approx(-4.0621, abs=1e-4)
    assert test.p == pytest.approx(0.002833, abs=1e-6)
    assert (test.interval.low, test.interval.high) == pytest.approx((-2.4598858, -0.7001142),
                                                                   abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_paired_test_agrees_with_scipy(seed, n):
    rng = np.random.default_rng(seed)
    a = rng.normal(0.6, 0.05, n)
    b = a - rng.normal(0.02, 0.03, n)
    ours = paired_t_test(a, b)
    ref = stats.ttest_rel(a, b)
    assert ours.t == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-10)
    low, high = ref.confidence_interval(0.95)
    assert (ours.interval.low, ours.interval.high) == pytest.approx((low, high), rel=1e-10)
    assert ours.wins == int(np.sum(a > b))


@pytest.mark.parametrize("values", [[0.527, 0.541, 0.515], [0.1, 0.9], [3.0, 3.5, 2.5, 4.0, 3.2]])
def test_t_interval_agrees_with_scipy(values):
    ours = t_interval(values)
    sem = stats.sem(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sem)
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-12)
    assert ours.mean == pytest.approx(np.mean(values))
    assert ours.std == pytest.approx(np.std(values, ddof=1))
    assert ours.half_width == pytest.approx((high - low) / 2)


def test_three_seeds_need_a_large_consistent_difference():
    # n = 3: t must exceed t_.975(2) = 4.303 for p < .05
    assert stats.t.ppf(0.975, 2) == pytest.approx(4.3027, abs=1e-4)
    consistent = paired_t_test([0.60, 0.61, 0.62], [0.55, 0.555, 0.56])
    noisy = paired_t_test([0.60, 0.70, 0.50], [0.55, 0.56, 0.57])
    assert consistent.p < 0.05 < noisy.p
    assert noisy.interval.low < 0 < noisy.interval.high


def test_degenerate_samples_give_no_statistic_instead_of_a_wrong_one():
    one = t_interval([0.5])
    assert one.mean == 0.5 and one.n == 1 and math.isnan(one.low) and math.isnan(one.half_width)
    same = paired_t_test([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])  # every difference exactly 0.1
    assert same.mean_difference == pytest.approx(0.1) and math.isnan(same.t)
    assert math.isnan(same.p) and same.wins == 3
    with pytest.raises(ValueError, match="same length"):
        paired_t_test([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least one"):
        t_interval([])

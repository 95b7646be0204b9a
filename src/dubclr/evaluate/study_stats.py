"""Statistics of the controlled study: intervals over training seeds and paired tests.

Each (model, seed) gives one score per task (its probe averaged over held-out title folds).
The interval of a model is Student's t-interval over its seeds; EFJ is compared with EN by a
paired t-test over seeds (seed s of both saw the same initialisation, the same shots and
windows in the same order, and is scored on the same split). With 3 seeds a paired t-test
has 2 degrees of freedom: it needs |t| > 4.30 for p < .05, so only large, consistent
differences come out significant; the half-width of the differences' interval says how
large a difference would have to be, for the spread seen, to reach p = .05.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float  # nan with fewer than 2 values
    high: float
    n: int
    std: float  # sample standard deviation (ddof=1); nan with fewer than 2 values

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def as_dict(self) -> dict:
        return {**asdict(self), "half_width": self.half_width}


@dataclass(frozen=True)
class PairedTest:
    n: int
    mean_difference: float  # mean of a - b
    interval: Interval  # t-interval of the differences
    t: float  # nan when it cannot be computed (n < 2, or every difference equal)
    p: float  # two-sided
    wins: int  # pairs with a > b

    def as_dict(self) -> dict:
        out = asdict(self)
        out["interval"] = self.interval.as_dict()
        return out


def t_interval(values, confidence: float = 0.95) -> Interval:
    """mean ± t_{(1+confidence)/2, n-1} · s / sqrt(n)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, std)


def paired_t_test(a, b, confidence: float = 0.95) -> PairedTest:
    """Two-sided paired t-test of a against b (same order: a[i] pairs with b[i])."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples need the same length, got {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    interval = t_interval(d, confidence)
    wins = int(np.sum(d > 0))
    if n < 2 or interval.std <= 1e-12 * max(1.0, abs(interval.mean)):  # equal up to rounding
        return PairedTest(n, interval.mean, interval, math.nan, math.nan, wins)
    t = interval.mean / (interval.std / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(t), n - 1))
    return PairedTest(n, interval.mean, interval, float(t), p, wins)

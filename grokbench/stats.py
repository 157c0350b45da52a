"""Statistics over a cell's seeds that take censored runs (∞: the target was never reached) as
they are: quantiles, the median with a distribution-free confidence interval, the band of solved
counts a re-run may give, and ranks with ties (docs/science.md, "Leaderboards")."""
from __future__ import annotations

import math

INF = math.inf
CI_TARGET = 0.75  # the median's interval must cover at least this (3 seeds: min–max, 75 %)


def quantile(values, q):
    """Linear-interpolation quantile (numpy's default) that handles ∞: interpolating toward an
    ∞ neighbour gives ∞, landing exactly on a finite value gives that value."""
    xs = sorted(values)
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    if frac == 0:
        return xs[lo]
    a, b = xs[lo], xs[lo + 1]
    if math.isinf(b):
        return b
    return a + (b - a) * frac


def median(values):
    return quantile(values, 0.5)


def median_ci(values, target=CI_TARGET):
    """A distribution-free confidence interval for the median: the order statistics
    (x_(k), x_(n+1-k)) with the largest k whose coverage 1 − 2·P(Binom(n, ½) < k) is still at
    least ``target``. It needs no assumption about the distribution and takes censored runs
    (∞) as they are. With 3 seeds it is [min, max] at 75 %; 5 seeds: [min, max] at 94 %;
    10 seeds: [x_(3), x_(8)] at 89 %. Returns (low, high, coverage)."""
    xs, n = sorted(values), len(values)
    if n == 0:
        return None, None, None
    best = (xs[0], xs[-1], 1 - 2 * 0.5 ** n)
    for k in range(2, n // 2 + 1):
        coverage = 1 - 2 * sum(math.comb(n, j) for j in range(k)) / 2 ** n
        if coverage < target:
            break
        best = (xs[k - 1], xs[n - k], coverage)
    return best


def binomial_band(k, n, mass=0.8):
    """The central ``mass`` band of solved counts a re-run of n seeds may give when k of n were
    solved: Binomial(n, p̂) with p̂ = (k + ½)/(n + 1), so that 0/n and n/n are not certainties.
    With 3 seeds this is k ± 1 (clipped to 0..3)."""
    p = (k + 0.5) / (n + 1)
    pmf = [math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(n + 1)]
    tail = (1 - mass) / 2
    cdf, lo, hi = 0.0, None, n
    for j, q in enumerate(pmf):
        cdf += q
        if lo is None and cdf > tail:
            lo = j
        if cdf >= 1 - tail:
            hi = j
            break
    return lo, hi


def median_with_resolution(values, resolutions):
    """The median and the evaluation resolution of the run(s) it comes from (an even count
    averages two runs: the coarser of their resolutions)."""
    pairs = sorted(zip(values, resolutions), key=lambda p: p[0])
    n = len(pairs)
    if n == 0:
        return None, None
    mid = [pairs[n // 2]] if n % 2 else [pairs[n // 2 - 1], pairs[n // 2]]
    res = [r for _, r in mid if r is not None]
    return median(values), (max(res) if res else None)


def competition_ranks(values, better):
    """1 + how many values are strictly better (ties share a rank: 1, 1, 3)."""
    return [1 + sum(better(other, v) for other in values) for v in values]

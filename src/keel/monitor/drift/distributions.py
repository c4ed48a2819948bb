"""Tail probabilities the drift tests need, computed without scipy (a development-only dependency).

* the standard normal distribution, from the C library's ``erfc``;
* the regularised upper incomplete gamma function Q(a, x), from its power series below ``x = a + 1``
  and its continued fraction above (evaluated with Lentz's method), and from it the chi-square
  survival function;
* the Kolmogorov distribution, the limit law of ``sqrt(n) * D_n`` for the Kolmogorov-Smirnov statistic,
  from its two theta-function series, each used where it converges in a few terms.

The finite-sample Kolmogorov-Smirnov distribution is in ``keel.monitor.drift.kolmogorov``. Each function
agrees with scipy (``scipy.stats.norm``, ``scipy.special.gammaincc``, ``scipy.stats.chi2.sf``,
``scipy.stats.kstwobign.sf``) to about 1e-10 relative wherever the result is a normal double; the test
suite checks it to 1e-9 over wide ranges.
"""

from __future__ import annotations

import math

_EPS = 1e-16
_TINY = 1e-300
_MAX_TERMS = 100_000


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z, accurate far into the upper tail."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def _log_prefactor(a: float, x: float) -> float:
    """log(x**a * exp(-x) / Gamma(a)), the factor in front of both expansions."""
    return a * math.log(x) - x - math.lgamma(a)


def _lower_series(a: float, x: float) -> float:
    """P(a, x) from sum_n x**n / (a (a+1) ... (a+n)); converges quickly for x < a + 1."""
    term = 1.0 / a
    total = term
    denominator = a
    for _ in range(_MAX_TERMS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(_log_prefactor(a, x))


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) from its continued fraction 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...))), for x >= a + 1."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    fraction = d
    for i in range(1, _MAX_TERMS):
        numerator = -i * (i - a)
        b += 2.0
        d = numerator * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + numerator / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        step = d * c
        fraction *= step
        if abs(step - 1.0) < _EPS:
            break
    return math.exp(_log_prefactor(a, x)) * fraction


def gammaincc(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), for a > 0, x >= 0."""
    if not a > 0.0 or not x >= 0.0:
        raise ValueError(f"gammaincc needs a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _lower_series(a, x))
    return min(1.0, _upper_fraction(a, x))


def chi2_sf(x: float, dof: float) -> float:
    """P(X > x) for X chi-square distributed with ``dof`` degrees of freedom."""
    if x <= 0.0:
        return 1.0
    return gammaincc(dof / 2.0, x / 2.0)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution K = sup |Brownian bridge| (scipy's ``kstwobign``).

    Below x = 1 the CDF series sqrt(2 pi)/x * sum_k exp(-(2k-1)^2 pi^2 / (8 x^2)) converges fast and the
    survival function is one minus it (it is above 0.27 there, so nothing is lost); above, the
    alternating series 2 * sum_k (-1)^(k-1) exp(-2 k^2 x^2) keeps full relative accuracy in the tail.
    """
    if x <= 0.0:
        return 1.0
    if x < 1.0:
        factor = -(math.pi**2) / (8.0 * x * x)
        cdf = 0.0
        k = 1
        while True:
            term = math.exp(factor * (2 * k - 1) ** 2)
            cdf += term
            if term <= cdf * _EPS:
                break
            k += 1
        return 1.0 - math.sqrt(2.0 * math.pi) / x * cdf
    total = 0.0
    sign = 1.0
    k = 1
    while True:
        term = math.exp(-2.0 * k * k * x * x)
        total += sign * term
        if term <= abs(total) * _EPS:
            break
        sign = -sign
        k += 1
    return min(1.0, 2.0 * total)

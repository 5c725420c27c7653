"""A low quantile of a pool's flexibility when each device may fail to respond.

Model: device ``i`` delivers its flex ``f_i`` with probability ``p_i`` (its availability) and
nothing otherwise, independently of the others. The pool's flexibility is the random sum
``S = sum(X_i f_i)`` with ``X_i ~ Bernoulli(p_i)``; the pool offers the ``q`` quantile of
``S`` (the 10 % quantile by default): at least that much is there with probability >= 1 - q.

Devices come sorted into tiers (by strike price, for the price ladder). The result is, per
ISP and tier, the quantile of the cumulative sum up to and including that tier, so the bid
at a price level never counts on devices whose strike price is above it.

Two methods:

- ``monte_carlo``: ``n_draws`` availability scenarios. Each device's draws come from its own
  seeded generator (a hash of its id), so a device's scenario does not depend on which other
  devices, ISPs or pools are computed with it, and a rerun gives the same numbers. All ISPs
  and tiers use the same scenarios, so cumulative sums grow with every tier in every scenario
  and their quantiles are monotone. Exact up to sampling noise, also for small pools where a
  few devices dominate.
- ``normal``: the mean ``sum(p f)`` plus ``z_q`` standard deviations
  ``sqrt(sum(p (1-p) f^2))`` (central limit theorem). Cheap for big pools; it can misstate
  small ones. Clipped to [0, nominal] and made monotone over tiers by taking, for each tier,
  the smallest value of it and all later tiers (never more than the total's quantile).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

METHODS = ("monte_carlo", "normal")


def device_seed(device_id: str, seed: int = 0) -> int:
    """A stable 64-bit seed for one device's availability draws."""
    digest = hashlib.blake2b(f"{seed}:{device_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _check_inputs(flex_kw: np.ndarray, availability: np.ndarray, tier_starts: np.ndarray) -> None:
    if flex_kw.ndim != 2 or availability.shape != (flex_kw.shape[1],):
        raise ValueError("flex_kw must be (isps, devices) and availability (devices,)")
    if np.any(flex_kw < 0) or not np.all(np.isfinite(flex_kw)):
        raise ValueError("flex must be finite and >= 0")
    if np.any((availability < 0) | (availability > 1)) or np.any(np.isnan(availability)):
        raise ValueError("availability must be within 0..1")
    n_dev = flex_kw.shape[1]
    if len(tier_starts) == 0 or tier_starts[0] != 0 or np.any(np.diff(tier_starts) <= 0):
        raise ValueError("tier_starts must start at 0 and increase strictly")
    if tier_starts[-1] >= n_dev:
        raise ValueError("every tier needs at least one device")


def availability_draws(
    device_ids: list[str], availability: np.ndarray, n_draws: int, seed: int = 0
) -> np.ndarray:
    """Devices x scenarios matrix of 0/1: is the device there in that scenario."""
    draws = np.empty((len(device_ids), n_draws), dtype=np.float64)
    for row, (device_id, p) in enumerate(zip(device_ids, availability, strict=True)):
        uniform = np.random.default_rng(device_seed(device_id, seed)).random(n_draws)
        draws[row] = uniform < p
    return draws


def _mc_quantile_of_row(row: np.ndarray, k: int) -> float:
    return float(np.partition(row, k)[k])


def _monte_carlo(
    flex_kw: np.ndarray,
    draws: np.ndarray,
    tier_starts: np.ndarray,
    quantile: float,
) -> np.ndarray:
    n_isp, n_dev = flex_kw.shape
    tier_ends = np.append(tier_starts[1:], n_dev) - 1  # last device of each tier
    k = _quantile_rank(quantile, draws.shape[1])
    out = np.empty((n_isp, len(tier_starts)))
    scenarios = np.empty_like(draws)  # devices x draws, reused for every ISP
    for i in range(n_isp):
        _cumulate(draws, flex_kw[i], scenarios)
        cumulative = scenarios[tier_ends]
        cumulative.partition(k, axis=1)
        out[i] = cumulative[:, k]
    return out


def _quantile_rank(quantile: float, n_draws: int) -> int:
    """Rank of the "inverted_cdf" quantile: the smallest x with P(S <= x) >= q."""
    return max(0, math.ceil(quantile * n_draws) - 1)


def _cumulate(draws: np.ndarray, flex: np.ndarray, out: np.ndarray) -> None:
    """Row j of ``out``: the flex of devices 0..j present in each scenario."""
    np.multiply(draws, flex[:, None], out=out)
    np.cumsum(out, axis=0, out=out)


def _normal(
    flex_kw: np.ndarray, availability: np.ndarray, tier_starts: np.ndarray, quantile: float
) -> np.ndarray:
    mean = np.cumsum(np.add.reduceat(flex_kw * availability, tier_starts, axis=1), axis=1)
    spread = availability * (1 - availability)
    var = np.cumsum(np.add.reduceat(flex_kw**2 * spread, tier_starts, axis=1), axis=1)
    nominal = np.cumsum(np.add.reduceat(flex_kw, tier_starts, axis=1), axis=1)
    value = np.clip(mean + NormalDist().inv_cdf(quantile) * np.sqrt(var), 0.0, nominal)
    return np.minimum.accumulate(value[:, ::-1], axis=1)[:, ::-1]


def _prepare(
    flex_kw: np.ndarray,
    availability: np.ndarray,
    tier_starts: np.ndarray,
    quantile: float,
    method: str,
    n_draws: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    flex_kw = np.asarray(flex_kw, dtype=np.float64)
    availability = np.asarray(availability, dtype=np.float64)
    tier_starts = np.asarray(tier_starts, dtype=np.intp)
    _check_inputs(flex_kw, availability, tier_starts)
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be within (0, 1), got {quantile}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
    if method == "monte_carlo" and n_draws < 1:
        raise ValueError("n_draws must be >= 1")
    return flex_kw, availability, tier_starts


def cumulative_flex_quantile(
    flex_kw: np.ndarray,
    availability: np.ndarray,
    tier_starts: np.ndarray,
    device_ids: list[str],
    *,
    quantile: float,
    method: str,
    n_draws: int,
    seed: int = 0,
) -> np.ndarray:
    """Per ISP and tier: the ``quantile`` of the pool's flex summed up to that tier (kW).

    ``flex_kw`` is (ISPs, devices) with the devices sorted by tier; ``tier_starts`` the index
    of each tier's first device; ``availability`` per device. Monotone over tiers, >= 0 and
    never above the nominal cumulative flex. Every tier is evaluated: for the price ladder,
    ``whole_mw_levels`` gives the same numbers where they matter, much faster.
    """
    flex_kw, availability, tier_starts = _prepare(
        flex_kw, availability, tier_starts, quantile, method, n_draws
    )
    if method == "normal":
        return _normal(flex_kw, availability, tier_starts, quantile)
    draws = availability_draws(device_ids, availability, n_draws, seed)
    return _monte_carlo(flex_kw, draws, tier_starts, quantile)


def whole_kw(kw: float) -> int:
    """``kw`` rounded down to a whole kW, after rounding away float noise below 1 mW."""
    return math.floor(round(kw, 6))


def _levels(quantile_at: Callable[[int], float], n_tiers: int) -> list[tuple[int, float]]:
    """The first tier reaching each whole MW of the total, then the last tier.

    ``quantile_at(t)`` is non-decreasing in ``t``; each whole MW is found by bisection, so a
    pool of M MW needs about M x log2(tiers) evaluations instead of one per tier.
    """
    last = n_tiers - 1
    total = quantile_at(last)
    levels: list[tuple[int, float]] = []
    low = 0
    for mw in range(1, whole_kw(total) // 1000 + 1):
        target_kw = 1000 * mw
        high = last
        while low < high:
            middle = (low + high) // 2
            if whole_kw(quantile_at(middle)) >= target_kw:
                high = middle
            else:
                low = middle + 1
        if not levels or levels[-1][0] != low:
            levels.append((low, quantile_at(low)))
    if not levels or levels[-1][0] != last:
        levels.append((last, total))
    return levels


def whole_mw_levels(
    flex_kw: np.ndarray,
    availability: np.ndarray,
    tier_starts: np.ndarray,
    device_ids: list[str],
    *,
    quantile: float,
    method: str,
    n_draws: int,
    seed: int = 0,
) -> list[list[tuple[int, float]]]:
    """Per ISP: (tier, cumulative quantile kW) where each whole MW is first reached, and the top.

    The same values as ``cumulative_flex_quantile`` at those tiers; the tiers in between add no
    whole MW, so the price ladder built from these levels is the same as from all tiers.
    """
    flex_kw, availability, tier_starts = _prepare(
        flex_kw, availability, tier_starts, quantile, method, n_draws
    )
    n_isp, n_dev = flex_kw.shape
    n_tiers = len(tier_starts)
    if method == "normal":
        values = _normal(flex_kw, availability, tier_starts, quantile)
        return [_levels(lambda t, row=row: float(row[t]), n_tiers) for row in values]
    draws = availability_draws(device_ids, availability, n_draws, seed)
    tier_ends = np.append(tier_starts[1:], n_dev) - 1
    k = _quantile_rank(quantile, n_draws)
    scenarios = np.empty_like(draws)
    out = []
    for i in range(n_isp):
        _cumulate(draws, flex_kw[i], scenarios)
        cache: dict[int, float] = {}

        def quantile_at(t: int, cache: dict[int, float] = cache) -> float:
            if t not in cache:
                cache[t] = _mc_quantile_of_row(scenarios[tier_ends[t]], k)
            return cache[t]

        out.append(_levels(quantile_at, n_tiers))
    return out

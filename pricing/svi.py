"""SVI volatility surfaces: deterministic evaluation for marks, arbitrage checks, least-squares fits.

One expiry is a raw-SVI slice of total implied variance in log-moneyness k = ln(K/F):

    w(k) = a + b * (rho * (k - m) + sqrt((k - m)**2 + sigma**2))

A surface is a list of slices at increasing expiries. Between two expiries total variance is
interpolated linearly in T at fixed k, which keeps w non-decreasing in T whenever the nodes are
free of calendar arbitrage; before the first expiry w scales with T (flat implied vol toward
T = 0) and after the last one implied vol is held flat.

Evaluation (``_slice_w``, ``_surface_w``, ``surface_implied_vols``) is a consensus kernel: only
+ - * / sqrt and ``pricing.dmath.log``. Fitting and the arbitrage checks are off consensus and use
ordinary floating point freely.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from pricing.config import JIT
from pricing.dmath import log

N_PARAMS = 5  # a, b, rho, m, sigma


@dataclass(frozen=True, slots=True)
class SVISlice:
    """Raw SVI parameters of one expiry (total variance, not variance)."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def as_array(self) -> np.ndarray:
        return np.array([self.a, self.b, self.rho, self.m, self.sigma], dtype=np.float64)

    def min_total_variance(self) -> float:
        """Minimum of w over k, reached at k* = m - rho*sigma/sqrt(1 - rho**2)."""
        return self.a + self.b * self.sigma * float(np.sqrt(1.0 - self.rho * self.rho))

    def is_admissible(self) -> bool:
        """Parameter domain: b >= 0, |rho| < 1, sigma > 0, w >= 0 everywhere, and Roger Lee's
        moment bound on the wings b(1 + |rho|) <= 2 (a necessary no-arbitrage condition)."""
        return (
            self.b >= 0.0
            and abs(self.rho) < 1.0
            and self.sigma > 0.0
            and self.min_total_variance() >= 0.0
            and self.b * (1.0 + abs(self.rho)) <= 2.0
        )


@dataclass(frozen=True, slots=True)
class SVISurface:
    """Slices at strictly increasing expiries (years); ``params`` rows are (a, b, rho, m, sigma)."""

    expiries: np.ndarray
    params: np.ndarray

    @classmethod
    def from_slices(cls, expiries: list[float], slices: list[SVISlice]) -> "SVISurface":
        if len(expiries) != len(slices) or not slices:
            raise ValueError("need one slice per expiry and at least one slice")
        t = np.array(expiries, dtype=np.float64)
        if not np.all(t > 0.0) or not np.all(np.diff(t) > 0.0):
            raise ValueError("expiries must be positive and strictly increasing")
        for s in slices:
            if not s.is_admissible():
                raise ValueError(f"inadmissible SVI slice {s}")
        params = np.ascontiguousarray(np.stack([s.as_array() for s in slices]))
        t.setflags(write=False)
        params.setflags(write=False)
        return cls(t, params)

    def slice(self, i: int) -> SVISlice:
        return SVISlice(*(float(x) for x in self.params[i]))


@njit(**JIT)
def _slice_w(a: float, b: float, rho: float, m: float, sigma: float, k: float) -> float:
    x = k - m
    return a + b * (rho * x + np.sqrt(x * x + sigma * sigma))


@njit(**JIT)
def _surface_w(expiries: np.ndarray, params: np.ndarray, k: float, t: float) -> float:
    n = expiries.shape[0]
    if t <= expiries[0]:
        p = params[0]
        return _slice_w(p[0], p[1], p[2], p[3], p[4], k) * (t / expiries[0])
    if t >= expiries[n - 1]:
        p = params[n - 1]
        return _slice_w(p[0], p[1], p[2], p[3], p[4], k) * (t / expiries[n - 1])
    i = 0
    while expiries[i + 1] < t:
        i += 1
    lo = params[i]
    hi = params[i + 1]
    w_lo = _slice_w(lo[0], lo[1], lo[2], lo[3], lo[4], k)
    w_hi = _slice_w(hi[0], hi[1], hi[2], hi[3], hi[4], k)
    frac = (t - expiries[i]) / (expiries[i + 1] - expiries[i])
    return w_lo + (w_hi - w_lo) * frac


@njit(**JIT)
def _surface_w_many(
    expiries: np.ndarray, params: np.ndarray, ks: np.ndarray, ts: np.ndarray, out: np.ndarray
) -> None:
    for i in range(ks.shape[0]):
        out[i] = _surface_w(expiries, params, ks[i], ts[i])


@njit(**JIT)
def _surface_vols_many(
    expiries: np.ndarray,
    params: np.ndarray,
    forwards: np.ndarray,
    strikes: np.ndarray,
    ts: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(strikes.shape[0]):
        k = log(strikes[i] / forwards[i])
        out[i] = np.sqrt(_surface_w(expiries, params, k, ts[i]) / ts[i])


def _as_f64(x: np.ndarray | float) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_1d(np.asarray(x, dtype=np.float64)))


def surface_total_variance(surface: SVISurface, k: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Total implied variance at log-moneyness ``k`` and expiry ``t`` (years), element-wise."""
    ks, ts = np.broadcast_arrays(_as_f64(k), _as_f64(t))
    ks, ts = np.ascontiguousarray(ks), np.ascontiguousarray(ts)
    if not np.all(np.isfinite(ks)) or not np.all((ts > 0.0) & (ts < np.inf)):
        raise ValueError("k must be finite and t positive and finite")
    out = np.empty(ks.shape[0], dtype=np.float64)
    _surface_w_many(surface.expiries, surface.params, ks, ts, out)
    return out


def surface_implied_vols(
    surface: SVISurface, forward: np.ndarray | float, strikes: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Implied volatility sqrt(w / t) at strikes and expiries, with k = ln(strike / forward);
    ``forward`` is one number or one forward per point (the forward of each expiry)."""
    arrays = np.broadcast_arrays(_as_f64(forward), _as_f64(strikes), _as_f64(t))
    fs, ks, ts = (np.ascontiguousarray(a) for a in arrays)
    positive_finite = (fs > 0.0) & (ks > 0.0) & (ts > 0.0) & np.isfinite(fs + ks + ts)
    if not np.all(positive_finite):
        raise ValueError("forwards, strikes and expiries must be positive and finite")
    out = np.empty(ks.shape[0], dtype=np.float64)
    _surface_vols_many(surface.expiries, surface.params, fs, ks, ts, out)
    return out


# ---- arbitrage checks (off consensus) ----


def butterfly_density_factor(s: SVISlice, k: np.ndarray) -> np.ndarray:
    """Gatheral-Jacquier g(k); the risk-neutral density is non-negative exactly where g >= 0.

    g = (1 - k w'/(2w))**2 - (w'**2/4)(1/w + 1/4) + w''/2, with the analytic SVI derivatives.
    """
    x = np.asarray(k, dtype=np.float64) - s.m
    root = np.sqrt(x * x + s.sigma * s.sigma)
    w = s.a + s.b * (s.rho * x + root)
    w1 = s.b * (s.rho + x / root)
    w2 = s.b * s.sigma * s.sigma / root**3
    kk = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        g = (1.0 - kk * w1 / (2.0 * w)) ** 2 - (w1 * w1 / 4.0) * (1.0 / w + 0.25) + w2 / 2.0
    # Where w <= 0 there is no valid smile at all: report it as the worst possible violation.
    return np.where(w > 0.0, g, -np.inf)


@dataclass(frozen=True, slots=True)
class ArbitrageReport:
    """Outcome of a check on a log-moneyness grid: the worst value found and where."""

    ok: bool
    worst_value: float
    worst_k: float
    worst_expiry_index: int


def check_butterfly(s: SVISlice, k_grid: np.ndarray) -> ArbitrageReport:
    """No butterfly arbitrage on the grid: admissible parameters and g(k) >= 0 everywhere."""
    g = butterfly_density_factor(s, k_grid)
    i = int(np.argmin(g))
    return ArbitrageReport(bool(s.is_admissible() and g[i] >= 0.0), float(g[i]), float(k_grid[i]), 0)


def check_calendar(surface: SVISurface, k_grid: np.ndarray) -> ArbitrageReport:
    """No calendar arbitrage on the grid: total variance non-decreasing from each expiry to the next."""
    if surface.expiries.shape[0] == 1:
        return ArbitrageReport(True, 0.0, 0.0, 0)
    worst, worst_k, worst_i = np.inf, 0.0, 0
    for i in range(surface.expiries.shape[0] - 1):
        lo, hi = surface.slice(i), surface.slice(i + 1)
        gap = _numpy_w(hi, k_grid) - _numpy_w(lo, k_grid)
        j = int(np.argmin(gap))
        if gap[j] < worst:
            worst, worst_k, worst_i = float(gap[j]), float(k_grid[j]), i
    return ArbitrageReport(worst >= 0.0, worst, worst_k, worst_i)


def _numpy_w(s: SVISlice, k: np.ndarray) -> np.ndarray:
    x = np.asarray(k, dtype=np.float64) - s.m
    return s.a + s.b * (s.rho * x + np.sqrt(x * x + s.sigma * s.sigma))


# ---- least-squares fit (off consensus) ----


def _inner_fit(
    y: np.ndarray, w: np.ndarray, sqrt_wt: np.ndarray, c_max: float
) -> tuple[float, float, float, float]:
    """Best (a, d, c) for w ~ a + d*y + c*sqrt(y**2 + 1) with |d| <= c and c + |d| <= c_max.

    With y = (k - m)/sigma this is raw SVI with c = b*sigma and d = rho*b*sigma; the polygon
    encodes b >= 0, |rho| <= 1 and Lee's b(1 + |rho|) <= 2 (c_max = 2*sigma in the units of w).
    The problem is a convex quadratic over a polygon, so its optimum is the unconstrained
    solution on one face (interior, an edge line, or a vertex): every face is solved and the
    best feasible candidate kept.
    """
    z = np.sqrt(y * y + 1.0)
    ones = np.ones_like(y)
    half = 0.5 * c_max
    # Each face: columns for the free coefficients, the fixed part, and a map back to (a, d, c).
    faces: list[tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], tuple[float, float, float]]]] = [
        (np.column_stack([ones, y, z]), np.zeros_like(y), lambda v: (v[0], v[1], v[2])),
        (np.column_stack([ones, y + z]), np.zeros_like(y), lambda v: (v[0], v[1], v[1])),
        (np.column_stack([ones, z - y]), np.zeros_like(y), lambda v: (v[0], -v[1], v[1])),
        (np.column_stack([ones, y - z]), c_max * z, lambda v: (v[0], v[1], c_max - v[1])),
        (np.column_stack([ones, -y - z]), c_max * z, lambda v: (v[0], -v[1], c_max - v[1])),
        (ones[:, None], np.zeros_like(y), lambda v: (v[0], 0.0, 0.0)),
        (ones[:, None], half * (y + z), lambda v: (v[0], half, half)),
        (ones[:, None], half * (z - y), lambda v: (v[0], -half, half)),
        (ones[:, None], c_max * z, lambda v: (v[0], 0.0, c_max)),
    ]
    best = (np.inf, 0.0, 0.0, 0.0)
    for design, offset, back in faces:
        coef, *_ = np.linalg.lstsq(design * sqrt_wt[:, None], (w - offset) * sqrt_wt, rcond=None)
        a, d, c = back(coef)
        tol = 1e-12 * c_max  # faces put (d, c) on the boundary only up to rounding
        if c < -tol or abs(d) > c + tol or c + abs(d) > c_max + tol:
            continue
        resid = float(np.sum(((a + d * y + c * z) - w) ** 2 * sqrt_wt**2))
        if resid < best[0]:
            best = (resid, float(a), float(d), float(c))
    return best


def _nelder_mead(
    f: Callable[[np.ndarray], float], x0: np.ndarray, step: np.ndarray, iters: int = 400
) -> np.ndarray:
    """Minimise f over R^n with the Nelder-Mead simplex (standard coefficients 1, 2, 1/2, 1/2)."""
    simplex = [x0] + [x0 + np.eye(len(x0))[i] * step[i] for i in range(len(x0))]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if abs(values[-1] - values[0]) <= 1e-16 * (1.0 + abs(values[0])):
            break
        centroid = np.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        fr = f(reflected)
        if fr < values[0]:
            expanded = centroid + 2.0 * (centroid - simplex[-1])
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            fc = f(contracted)
            if fc < values[-1]:
                simplex[-1], values[-1] = contracted, fc
            else:
                simplex = [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex]
                values = [f(x) for x in simplex]
    return simplex[int(np.argmin(values))]


def fit_svi(k: np.ndarray, total_variance: np.ndarray, weights: np.ndarray | None = None) -> SVISlice:
    """Least-squares raw-SVI fit to (log-moneyness, total variance) quotes of one expiry.

    Quasi-explicit method (Zeliade, 2009): for fixed (m, sigma) the best (a, b, rho) is a linear
    least-squares problem on a polygon, solved exactly by ``_inner_fit``; Nelder-Mead searches
    (m, log sigma). Slices whose minimum variance would be negative are penalised, so the result
    is admissible.
    """
    k = np.asarray(k, dtype=np.float64)
    w = np.asarray(total_variance, dtype=np.float64)
    if k.ndim != 1 or k.shape != w.shape or k.size < 5:
        raise ValueError("need at least five (k, w) quotes of equal shape")
    if not np.all(np.isfinite(k)) or not np.all(w > 0.0):
        raise ValueError("quotes must be finite with positive total variance")
    wt = np.ones_like(k) if weights is None else np.asarray(weights, dtype=np.float64)
    sqrt_wt = np.sqrt(wt / wt.sum())
    scale = float(w.max())
    span = float(k.max() - k.min())

    def params_at(x: np.ndarray) -> tuple[float, SVISlice]:
        # sigma -> 0 is a kinked slice fitting nothing better; a floor keeps the inner problem sane.
        m, sigma = float(x[0]), max(float(np.exp(x[1])), 1e-4 * span)
        resid, a, d, c = _inner_fit((k - m) / sigma, w / scale, sqrt_wt, 2.0 * sigma / scale)
        b = c / sigma
        rho = d / c if c > 0.0 else 0.0
        s = SVISlice(a * scale, b * scale, rho, m, sigma)
        penalty = max(0.0, -s.min_total_variance() / scale)
        return resid + 1e3 * penalty * penalty, s

    # A few starts guard Nelder-Mead against the shallow valleys of the (m, sigma) landscape.
    starts = [
        np.array([m0, np.log(max(span, 1e-3) * f)])
        for m0 in (0.0, float(k[np.argmin(w)]))
        for f in (0.1, 0.5)
    ]
    step = np.array([0.1 * span + 1e-3, 0.5])
    candidates = [_nelder_mead(lambda x: params_at(x)[0], x0, step) for x0 in starts]
    best_x = min(candidates, key=lambda x: params_at(x)[0])
    return params_at(best_x)[1]

"""Portfolio scenario revaluation: P&L of option/future positions on one underlying over a risk grid.

The grid follows Deribit's published portfolio-margin model: every forward moves by the same
relative spot shock (default +/-16% in 9 steps), crossed with three volatility scenarios
(up, flat, down) whose size decays with expiry as (30 / days)**vega_power, plus an extended
set of large spot moves (-66% ... +500%) at flat vol whose losses count with a fractional
weight. The margin requirement of an account is its worst loss over the grid.

Positions are structure-of-arrays: kind (call, put, future), strike, expiry T (years), the
forward of their expiry, implied vol (e.g. from the SVI surface) and an integer quantity
(contracts, negative when short). Revaluation is instantaneous (no time decay): an option is
repriced with Black-76 at the shocked forward and vol, a future by its forward move. Puts are
repriced through put-call parity so each option costs one call price per scenario, and
ln(F/K), sqrt(T) and ln(1 + shock) are computed once, not per scenario. All the calls of a
revaluation are priced together in vectorized array passes (``_undiscounted_calls``).

Entry points:
- ``revalue_account``: one account, full repricing of every position on every scenario;
- ``instrument_pnl_vectors``: unit P&L of each listed instrument on each scenario, computed
  once whenever marks change;
- ``revalue_accounts``: many accounts in CSR layout (offsets + flat (instrument, quantity)
  rows) over those vectors, as an exchange holds them: every account is a sparse dot product;
  ``revalue_account_on_vectors`` is the same for a single account.

Kernels use only + - * / sqrt and ``pricing.dmath`` (exp, log, normal tails); scenarios and
positions are summed in a fixed order, so results are bit-identical everywhere.
"""

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from pricing.config import JIT
from pricing.dmath import exp, gaussian_factors, log, upper_tails

CALL = 0
PUT = 1
FUTURE = 2
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """Risk-grid parameters; defaults are Deribit's published BTC portfolio-margin values.

    ``extended_moves`` and ``extended_weight`` stand in for Deribit's extended risk matrix,
    whose losses Deribit scales by a dampener; here they are scaled by a plain weight.
    """

    price_range: float = 0.16
    price_steps: int = 9
    vol_range_up: float = 0.50
    vol_range_down: float = 0.25
    short_term_vega_power: float = 0.30
    long_term_vega_power: float = 0.13
    vega_power_switch_days: float = 30.0
    min_days: float = 1.0
    min_vol: float = 0.01
    extended_moves: tuple[float, ...] = (-0.66, -0.50, -0.33, 0.50, 1.00, 2.00, 3.00, 5.00)
    extended_weight: float = 0.25
    _moves: np.ndarray = field(init=False, repr=False, compare=False)
    _params: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.price_range < 1.0 or self.price_steps < 1:
            raise ValueError("price_range must lie in (0, 1) and price_steps be >= 1")
        if self.vol_range_up < 0.0 or not 0.0 <= self.vol_range_down < 1.0:
            raise ValueError("vol ranges must be non-negative, the down range below 1")
        if min(self.short_term_vega_power, self.long_term_vega_power) < 0.0:
            raise ValueError("vega powers must be non-negative")
        if self.min_days <= 0.0 or self.min_vol <= 0.0:
            raise ValueError("min_days and min_vol must be positive")
        if any(m <= -1.0 for m in self.extended_moves) or not 0.0 <= self.extended_weight <= 1.0:
            raise ValueError("extended moves must exceed -100% and the weight lie in [0, 1]")
        # Spelled out rather than np.linspace, whose arithmetic is NumPy's to change: these
        # numbers feed consensus results.
        last = max(self.price_steps - 1, 1)
        core = [-self.price_range + 2.0 * self.price_range * i / last for i in range(self.price_steps)]
        if self.price_steps == 1:
            core = [0.0]
        moves = np.array(core + [float(m) for m in self.extended_moves], dtype=np.float64)
        moves.setflags(write=False)
        object.__setattr__(self, "_moves", moves)
        params = np.array(
            [
                self.vol_range_up,
                self.vol_range_down,
                self.short_term_vega_power,
                self.long_term_vega_power,
                self.vega_power_switch_days,
                self.min_days,
                self.min_vol,
                self.extended_weight,
            ],
            dtype=np.float64,
        )
        params.setflags(write=False)
        object.__setattr__(self, "_params", params)

    @property
    def spot_moves(self) -> np.ndarray:
        """Core spot moves followed by the extended ones."""
        return self._moves

    @property
    def n_scenarios(self) -> int:
        """Core scenarios (spot x {up, flat, down}) then one per extended move."""
        return 3 * self.price_steps + len(self.extended_moves)

    def labels(self) -> list[tuple[float, str]]:
        """(spot move, vol scenario) of each entry of a P&L vector, in kernel order."""
        core = [(float(s), v) for s in self._moves[: self.price_steps] for v in ("up", "flat", "down")]
        return core + [(float(s), "flat") for s in self.extended_moves]

    @property
    def params(self) -> np.ndarray:
        """The vol-shock and weighting parameters packed in the order the kernels read them."""
        return self._params


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """P&L per scenario (weighted, in grid order) and the worst loss (>= 0)."""

    pnl: np.ndarray
    worst_loss: float


@njit(**JIT)
def _vol_shock_scale(t: float, params: np.ndarray) -> float:
    """(30 / days)**power with days floored at min_days; the power switches at 30 days."""
    days = t * DAYS_PER_YEAR
    if days < params[5]:
        days = params[5]
    power = params[2] if days < params[4] else params[3]
    return exp(power * log(params[4] / days))


@njit(**JIT)
def _intrinsic_call(df: float, fwd: float, strike: float) -> float:
    """The zero-total-vol limit of the call (expired or zero vol)."""
    return df * (fwd - strike) if fwd > strike else 0.0


#: Options priced per pass of ``_undiscounted_calls``: its work arrays stay in L1 cache.
_CHUNK = 256


@njit(**JIT)
def _undiscounted_calls(
    x: np.ndarray, v: np.ndarray, inv_v: np.ndarray, fwd: np.ndarray, strike: np.ndarray, out: np.ndarray
) -> None:
    """out[e] = F·N(d1) − K·N(d2) with d1 = x·(1/v) + v/2, d2 = d1 − v, for x = ln(F/K),
    total vol v = σ√T > 0 and its reciprocal: Black-76 calls without the discount factor.

    The two Gaussian factors of one option are tied: exp(−d2²/2) = exp(−d1²/2)·F/K exactly
    (d1² − d2² = 2x). So only the one nearer the centre (the smaller |d|) is evaluated, and
    the other follows by one multiplication by F/K or K/F, whichever is ≤ 1 — one exp per
    option instead of two. The work runs in array passes whose only conditionals are
    selects, which LLVM vectorizes (see ``dmath.gaussian_factors`` and ``dmath.upper_tails``); the
    tails of d1 and d2 go through one ``upper_tails`` call, side by side.
    """
    z = np.empty(2 * _CHUNK)
    near = np.empty(_CHUNK)
    shrink = np.empty(_CHUNK)
    g = np.empty(2 * _CHUNK)
    q = np.empty(2 * _CHUNK)
    # Loops index chunk views from 0: with an offset in every subscript LLVM could not
    # prove the indices non-negative and left the loops scalar (four times slower).
    for lo in range(0, x.shape[0], _CHUNK):
        n = min(_CHUNK, x.shape[0] - lo)
        xs, vs, inv_vs = x[lo:lo + n], v[lo:lo + n], inv_v[lo:lo + n]
        fs, ks, outs = fwd[lo:lo + n], strike[lo:lo + n], out[lo:lo + n]
        z1, z2, g1, g2 = z[:n], z[n:2 * n], g[:n], g[n:2 * n]
        for i in range(n):
            d1 = xs[i] * inv_vs[i] + 0.5 * vs[i]
            z1[i] = abs(d1)
            z2[i] = abs(d1 - vs[i])
        for i in range(n):
            near[i] = min(z1[i], z2[i])
            shrink[i] = (fs[i] / ks[i]) if z1[i] <= z2[i] else (ks[i] / fs[i])
        gaussian_factors(near[:n], g1)
        for i in range(n):
            # g1 holds the nearer factor so far; the farther one is it times shrink.
            far = g1[i] * shrink[i]
            if z1[i] <= z2[i]:
                g2[i] = far
            else:
                g2[i] = g1[i]
                g1[i] = far
        upper_tails(z[:2 * n], g[:2 * n], q[:2 * n])
        q1, q2 = q[:n], q[n:2 * n]
        for i in range(n):
            d1 = xs[i] * inv_vs[i] + 0.5 * vs[i]
            n1 = q1[i] if d1 < 0.0 else 1.0 - q1[i]
            n2 = q2[i] if d1 - vs[i] < 0.0 else 1.0 - q2[i]
            outs[i] = fs[i] * n1 - ks[i] * n2


@njit(**JIT)
def _set_all_vols(out: np.ndarray, i: int, n_core: int, dv: float) -> None:
    """Write the P&L dv of spot move i under every vol scenario it has (three for a core move)."""
    if i < n_core:
        out[3 * i] = dv
        out[3 * i + 1] = dv
        out[3 * i + 2] = dv
    else:
        out[2 * n_core + i] = dv


@njit(**JIT)
def _expired_pnl(
    kind: int, strike: float, fwd: float, df: float, moves: np.ndarray, n_core: int, out: np.ndarray
) -> None:
    """Unit P&L of an option with zero total vol (expired or zero vol): intrinsic value moves."""
    base = _intrinsic_call(df, fwd, strike)
    for i in range(moves.shape[0]):
        f = fwd * (1.0 + moves[i])
        dv = _intrinsic_call(df, f, strike) - base - (df * (f - fwd) if kind == PUT else 0.0)
        _set_all_vols(out, i, n_core, dv)


@njit(**JIT)
def _future_pnl(fwd: float, moves: np.ndarray, n_core: int, out: np.ndarray) -> None:
    """Unit P&L of a future: its forward's move, the same under every vol scenario."""
    for i in range(moves.shape[0]):
        _set_all_vols(out, i, n_core, fwd * moves[i])


@njit(**JIT)
def _expiry_terms(expiry: np.ndarray, rate: float, params: np.ndarray) -> np.ndarray:
    """Rows (discount factor, √T, vol-shock scale) per position, each evaluated once per
    distinct expiry: an account holds many strikes of few expiries."""
    n = expiry.shape[0]
    terms = np.empty((n, 3))
    first = np.empty(n, np.int64)
    distinct = 0
    for p in range(n):
        t = expiry[p]
        same = -1
        for d in range(distinct):
            if expiry[first[d]] == t:
                same = first[d]
                break
        if same < 0:
            first[distinct] = p
            distinct += 1
            terms[p, 0] = exp(-rate * t)
            terms[p, 1] = np.sqrt(t)
            terms[p, 2] = _vol_shock_scale(t, params)
        else:
            terms[p, 0] = terms[same, 0]
            terms[p, 1] = terms[same, 1]
            terms[p, 2] = terms[same, 2]
    return terms


@njit(**JIT)
def _shocked_vols(vol: float, root_t: float, scale: float, params: np.ndarray) -> tuple[float, float, float]:
    """Total vols σ√T of the (up, flat, down) scenarios of an option with mark vol ``vol``."""
    vol_up = vol * (1.0 + params[0] * scale)
    vol_down = vol * (1.0 - params[1] * scale)
    # The floor keeps a large down-shock positive but never lifts a vol above its own mark.
    floor = params[6] if params[6] < vol else vol
    if vol_down < floor:
        vol_down = floor
    return vol_up * root_t, vol * root_t, vol_down * root_t


@njit(**JIT)
def _unit_pnl(
    kind: np.ndarray,
    strike: np.ndarray,
    expiry: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    rate: float,
    moves: np.ndarray,
    n_core: int,
    params: np.ndarray,
    out: np.ndarray,
) -> None:
    """Unit-quantity P&L of every position on every scenario: out[p, j].

    Three passes: lay out the Black-76 inputs of every live option's current value and
    scenario values side by side (futures and zero-total-vol options are valued right
    away); price them all with one ``_undiscounted_calls``; subtract each current value.
    Element offsets are unsigned so that subscripts skip Numba's negative-index handling.
    """
    ln_moves = _ln_moves(moves)
    n_moves = moves.shape[0]
    n_scen = out.shape[1]
    per_option = np.uint64(1 + n_scen)
    terms = _expiry_terms(expiry, rate, params)
    live = np.empty(kind.shape[0], np.bool_)
    n_live = 0
    for p in range(kind.shape[0]):
        live[p] = kind[p] != FUTURE and vol[p] * terms[p, 1] > 0.0
        n_live += live[p]
    m = np.uint64(n_live) * per_option
    x = np.empty(m)
    v = np.empty(m)
    inv_v = np.empty(m)
    f = np.empty(m)
    k = np.empty(m)
    c = np.uint64(0)
    for p in range(kind.shape[0]):
        fwd = forward[p]
        if kind[p] == FUTURE:
            _future_pnl(fwd, moves, n_core, out[p])
            continue
        if not live[p]:
            _expired_pnl(kind[p], strike[p], fwd, terms[p, 0], moves, n_core, out[p])
            continue
        v_up, v_flat, v_down = _shocked_vols(vol[p], terms[p, 1], terms[p, 2], params)
        inv_up = 1.0 / v_up
        inv_flat = 1.0 / v_flat
        inv_down = 1.0 / v_down
        ln_fk = log(fwd / strike[p])
        # Entry c is the current value, then the scenarios in P&L-vector order.
        for e in range(c, c + per_option):
            k[e] = strike[p]
        x[c] = ln_fk
        v[c] = v_flat
        inv_v[c] = inv_flat
        f[c] = fwd
        e = c + np.uint64(1)
        for i in range(n_moves):
            shocked = fwd * (1.0 + moves[i])
            xi = ln_fk + ln_moves[i]
            if i < n_core:
                x[e] = x[e + 1] = x[e + 2] = xi
                f[e] = f[e + 1] = f[e + 2] = shocked
                v[e] = v_up
                v[e + 1] = v_flat
                v[e + 2] = v_down
                inv_v[e] = inv_up
                inv_v[e + 1] = inv_flat
                inv_v[e + 2] = inv_down
                e += np.uint64(3)
            else:
                x[e] = xi
                f[e] = shocked
                v[e] = v_flat
                inv_v[e] = inv_flat
                e += np.uint64(1)
        c += per_option
    calls = np.empty(m)
    _undiscounted_calls(x, v, inv_v, f, k, calls)
    c = np.uint64(0)
    for p in range(kind.shape[0]):
        if not live[p]:
            continue
        df = terms[p, 0]
        base = df * calls[c]
        is_put = kind[p] == PUT
        row = out[p]
        for j in range(n_scen):
            e = c + np.uint64(1 + j)
            # Put-call parity: put − call = df·(K − F), so a put moves by the call's move
            # minus df·dF.
            shift = base + (df * (f[e] - forward[p]) if is_put else 0.0)
            row[j] = df * calls[e] - shift
        c += per_option


@njit(**JIT)
def _ln_moves(moves: np.ndarray) -> np.ndarray:
    out = np.empty(moves.shape[0])
    for i in range(moves.shape[0]):
        out[i] = log(1.0 + moves[i])
    return out


@njit(**JIT)
def _weight_and_worst(pnl: np.ndarray, n_core: int, weight: float) -> float:
    """Scale the extended scenarios by their weight; return the worst loss (0 if none)."""
    for j in range(3 * n_core, pnl.shape[0]):
        pnl[j] = pnl[j] * weight
    worst = 0.0
    for j in range(pnl.shape[0]):
        if -pnl[j] > worst:
            worst = -pnl[j]
    return worst


@njit(**JIT)
def _revalue_account(
    kind: np.ndarray,
    strike: np.ndarray,
    expiry: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    qty: np.ndarray,
    rate: float,
    moves: np.ndarray,
    n_core: int,
    params: np.ndarray,
    pnl: np.ndarray,
) -> float:
    unit = np.empty((kind.shape[0], pnl.shape[0]))
    _unit_pnl(kind, strike, expiry, forward, vol, rate, moves, n_core, params, unit)
    pnl[:] = 0.0
    for p in range(kind.shape[0]):
        q = float(qty[p])
        for j in range(pnl.shape[0]):
            pnl[j] += q * unit[p, j]
    return _weight_and_worst(pnl, n_core, params[7])


@njit(**JIT)
def _revalue_accounts(
    vectors: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    qty: np.ndarray,
    n_core: int,
    weight: float,
    worst: np.ndarray,
    pnl_out: np.ndarray,
) -> None:
    n_scen = vectors.shape[1]
    pnl = np.empty(n_scen)
    for a in range(offsets.shape[0] - 1):
        pnl[:] = 0.0
        for r in range(offsets[a], offsets[a + 1]):
            q = float(qty[r])
            row = vectors[instrument[r]]
            for j in range(n_scen):
                pnl[j] += q * row[j]
        worst[a] = _weight_and_worst(pnl, n_core, weight)
        if pnl_out.shape[0] > 0:
            pnl_out[a, :] = pnl


@njit(**JIT)
def _first_bad_position(
    kind: np.ndarray, strike: np.ndarray, expiry: np.ndarray, forward: np.ndarray, vol: np.ndarray
) -> int:
    """Index of the first position outside the domain, or -1. One pass instead of a dozen
    NumPy reductions: for a 100-position account those dominated the call."""
    inf = np.inf
    for p in range(kind.shape[0]):
        k = kind[p]
        if k != CALL and k != PUT and k != FUTURE:
            return p
        if not (0.0 < forward[p] < inf and 0.0 <= expiry[p] < inf and 0.0 <= vol[p] < inf):
            return p
        if k != FUTURE and not 0.0 < strike[p] < inf:
            return p
        if k == FUTURE and not -inf < strike[p] < inf:
            return p
    return -1


@njit(**JIT)
def _max_abs(q: np.ndarray) -> int:
    worst = 0
    for x in q:
        a = -x if x < 0 else x
        if a > worst:
            worst = a
    return worst


def _check_positions(
    kind: np.ndarray,
    strike: np.ndarray,
    expiry: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, ...]:
    kind = np.ascontiguousarray(kind, dtype=np.int64)
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (strike, expiry, forward, vol)]
    if kind.ndim != 1 or any(a.shape != kind.shape for a in arrays):
        raise ValueError("kind, strike, expiry, forward and vol must be 1-d arrays of one length")
    bad = _first_bad_position(kind, *arrays)
    if bad >= 0:
        raise ValueError(
            f"position {bad}: kind must be CALL, PUT or FUTURE; forward and option strike positive; "
            "expiry and vol non-negative; all finite"
        )
    return (kind, *arrays)


def _check_qty(qty: np.ndarray, n: int) -> np.ndarray:
    q = np.asarray(qty)
    if q.shape != (n,) or not np.issubdtype(q.dtype, np.integer):
        raise ValueError(f"quantities must be integers of shape ({n},)")
    q = np.ascontiguousarray(q, dtype=np.int64)
    if _max_abs(q) >= 2**53:
        raise ValueError("quantities must be below 2**53 in magnitude (exact as float64)")
    return q


def revalue_account(
    grid: ScenarioGrid,
    kind: np.ndarray,
    strike: np.ndarray,
    expiry: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    qty: np.ndarray,
    rate: float = 0.0,
) -> AccountRisk:
    """P&L of one account on every scenario of ``grid`` and its worst loss.

    Futures ignore strike and vol (pass any finite value). ``rate`` discounts option values.
    """
    kind, strike, expiry, forward, vol = _check_positions(kind, strike, expiry, forward, vol)
    q = _check_qty(qty, kind.shape[0])
    if not np.isfinite(rate):
        raise ValueError("rate must be finite")
    pnl = np.empty(grid.n_scenarios)
    worst = _revalue_account(
        kind, strike, expiry, forward, vol, q, float(rate),
        grid.spot_moves, grid.price_steps, grid.params, pnl,
    )
    return AccountRisk(pnl, float(worst))


def instrument_pnl_vectors(
    grid: ScenarioGrid,
    kind: np.ndarray,
    strike: np.ndarray,
    expiry: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    rate: float = 0.0,
) -> np.ndarray:
    """Unweighted unit-quantity P&L of each instrument on each scenario: (n_instruments, n_scenarios)."""
    kind, strike, expiry, forward, vol = _check_positions(kind, strike, expiry, forward, vol)
    out = np.empty((kind.shape[0], grid.n_scenarios))
    _unit_pnl(
        kind, strike, expiry, forward, vol, float(rate),
        grid.spot_moves, grid.price_steps, grid.params, out,
    )
    return out


def _run_accounts(
    grid: ScenarioGrid,
    vectors: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    qty: np.ndarray,
    keep_pnl: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Validated CSR batch; the P&L matrix has zero rows unless ``keep_pnl``."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != grid.n_scenarios:
        raise ValueError("vectors must be (n_instruments, grid.n_scenarios)")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    instrument = np.ascontiguousarray(instrument, dtype=np.int64)
    q = _check_qty(qty, instrument.shape[0])
    if offsets.ndim != 1 or instrument.ndim != 1 or not _is_valid_csr(offsets, instrument, vectors.shape[0]):
        raise ValueError(
            "offsets must rise from 0 to the number of rows and instrument indices lie in range"
        )
    n_acc = offsets.shape[0] - 1
    worst = np.empty(n_acc)
    pnl = np.empty((n_acc if keep_pnl else 0, grid.n_scenarios))
    _revalue_accounts(vectors, offsets, instrument, q, grid.price_steps, grid.extended_weight, worst, pnl)
    return worst, pnl


@njit(**JIT)
def _is_valid_csr(offsets: np.ndarray, instrument: np.ndarray, n_instruments: int) -> bool:
    if offsets.shape[0] < 1 or offsets[0] != 0 or offsets[offsets.shape[0] - 1] != instrument.shape[0]:
        return False
    for a in range(offsets.shape[0] - 1):
        if offsets[a + 1] < offsets[a]:
            return False
    for i in instrument:
        if i < 0 or i >= n_instruments:
            return False
    return True


def revalue_accounts(
    grid: ScenarioGrid,
    vectors: np.ndarray,
    offsets: np.ndarray,
    instrument: np.ndarray,
    qty: np.ndarray,
    keep_pnl: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Worst loss of many accounts held in CSR layout over instruments priced by ``vectors``.

    Account a owns rows offsets[a] .. offsets[a+1]-1 of (instrument, qty). Returns the worst
    losses (n_accounts,) and, with ``keep_pnl``, the weighted P&L matrix (n_accounts, n_scenarios).
    """
    worst, pnl = _run_accounts(grid, vectors, offsets, instrument, qty, keep_pnl)
    return worst, (pnl if keep_pnl else None)


def revalue_account_on_vectors(
    grid: ScenarioGrid, vectors: np.ndarray, instrument: np.ndarray, qty: np.ndarray
) -> AccountRisk:
    """One account over instrument P&L vectors computed once (e.g. per block, when marks
    change): a sparse dot product instead of repricing, for margin checks on every order."""
    instrument = np.asarray(instrument)
    offsets = np.array([0, instrument.shape[0]])
    worst, pnl = _run_accounts(grid, vectors, offsets, instrument, qty, keep_pnl=True)
    return AccountRisk(pnl[0], float(worst[0]))

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
ln(F/K), sqrt(T) and ln(1 + shock) are computed once, not per scenario.

Entry points:
- ``revalue_account``: one account, full repricing of every position on every scenario;
- ``instrument_pnl_vectors``: unit P&L of each listed instrument on each scenario, computed
  once whenever marks change;
- ``revalue_accounts``: many accounts in CSR layout (offsets + flat (instrument, quantity)
  rows) over those vectors, as an exchange holds them: every account is a sparse dot product;
  ``revalue_account_on_vectors`` is the same for a single account.

Kernels use only + - * / sqrt and ``pricing.dmath`` (exp, log, norm_cdf); scenarios and
positions are summed in a fixed order, so results are bit-identical everywhere.
"""

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from pricing.config import JIT
from pricing.dmath import exp, log, norm_cdf

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
def _call_value(df: float, fwd: float, strike: float, ln_fk: float, v: float, inv_v: float) -> float:
    """Black-76 call df*(F N(d1) - K N(d2)) for total vol v = sigma*sqrt(T) > 0, ln_fk = ln(F/K).

    Takes 1/v precomputed: one division per position and vol instead of one per scenario.
    """
    d1 = ln_fk * inv_v + 0.5 * v
    return df * (fwd * norm_cdf(d1) - strike * norm_cdf(d1 - v))


@njit(**JIT)
def _intrinsic_call(df: float, fwd: float, strike: float) -> float:
    """The zero-total-vol limit of the call (expired or zero vol)."""
    return df * (fwd - strike) if fwd > strike else 0.0


@njit(**JIT)
def _position_pnl(
    kind: int,
    strike: float,
    t: float,
    fwd: float,
    vol: float,
    rate: float,
    moves: np.ndarray,
    ln_moves: np.ndarray,
    n_core: int,
    params: np.ndarray,
    out: np.ndarray,
) -> None:
    """Unit-quantity P&L of one position on every scenario, written to out[0 .. n_scenarios)."""
    n_moves = moves.shape[0]
    if kind == FUTURE:
        for i in range(n_core):
            dv = fwd * moves[i]
            out[3 * i] = dv
            out[3 * i + 1] = dv
            out[3 * i + 2] = dv
        for i in range(n_core, n_moves):
            out[2 * n_core + i] = fwd * moves[i]
        return
    df = exp(-rate * t)
    root_t = np.sqrt(t)
    ln_fk = log(fwd / strike)
    scale = _vol_shock_scale(t, params)
    vol_up = vol * (1.0 + params[0] * scale)
    vol_down = vol * (1.0 - params[1] * scale)
    # The floor keeps a large down-shock positive but never lifts a vol above its own mark.
    floor = params[6] if params[6] < vol else vol
    if vol_down < floor:
        vol_down = floor
    v_flat = vol * root_t
    if v_flat <= 0.0:
        _expired_pnl(kind, strike, fwd, df, moves, n_core, out)
        return
    v_up = vol_up * root_t
    v_down = vol_down * root_t
    inv_up = 1.0 / v_up
    inv_flat = 1.0 / v_flat
    inv_down = 1.0 / v_down
    base = _call_value(df, fwd, strike, ln_fk, v_flat, inv_flat)
    is_put = kind == PUT
    for i in range(n_core):
        f = fwd * (1.0 + moves[i])
        x = ln_fk + ln_moves[i]
        # Put-call parity: put - call = df*(K - F), so a put moves by the call's move minus df*dF.
        shift = base + (df * (f - fwd) if is_put else 0.0)
        out[3 * i] = _call_value(df, f, strike, x, v_up, inv_up) - shift
        out[3 * i + 1] = _call_value(df, f, strike, x, v_flat, inv_flat) - shift
        out[3 * i + 2] = _call_value(df, f, strike, x, v_down, inv_down) - shift
    for i in range(n_core, n_moves):
        f = fwd * (1.0 + moves[i])
        shift = base + (df * (f - fwd) if is_put else 0.0)
        out[2 * n_core + i] = _call_value(df, f, strike, ln_fk + ln_moves[i], v_flat, inv_flat) - shift


@njit(**JIT)
def _expired_pnl(
    kind: int, strike: float, fwd: float, df: float, moves: np.ndarray, n_core: int, out: np.ndarray
) -> None:
    """Unit P&L of an option with zero total vol (expired or zero vol): intrinsic value moves."""
    base = _intrinsic_call(df, fwd, strike)
    for i in range(moves.shape[0]):
        f = fwd * (1.0 + moves[i])
        dv = _intrinsic_call(df, f, strike) - base - (df * (f - fwd) if kind == PUT else 0.0)
        if i < n_core:
            out[3 * i] = dv
            out[3 * i + 1] = dv
            out[3 * i + 2] = dv
        else:
            out[2 * n_core + i] = dv


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
    ln_moves = _ln_moves(moves)
    unit = np.empty(pnl.shape[0])
    pnl[:] = 0.0
    for p in range(kind.shape[0]):
        _position_pnl(
            kind[p], strike[p], expiry[p], forward[p], vol[p], rate, moves, ln_moves, n_core, params, unit
        )
        q = float(qty[p])
        for j in range(pnl.shape[0]):
            pnl[j] += q * unit[j]
    return _weight_and_worst(pnl, n_core, params[7])


@njit(**JIT)
def _instrument_vectors(
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
    ln_moves = _ln_moves(moves)
    for p in range(kind.shape[0]):
        _position_pnl(
            kind[p], strike[p], expiry[p], forward[p], vol[p], rate, moves, ln_moves, n_core, params, out[p]
        )


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
    _instrument_vectors(
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
